"""Every query parameter of the sampling endpoints, validated before any work is done.

A request is a pydantic model (unknown parameters refused, numbers bounded, integers written
in plain digits) and a class given by name or number is resolved against the chosen
generator. Each problem is one ``ConfigError`` line, which the app sends as HTTP 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ganzoo.errors import ConfigError

MAX_SEED = 2**63 - 1
MAX_SAMPLES = 256
MAX_WALK_STEPS = 32
SHOWN_CHARACTERS = 40
"""A bad value is echoed in the error, cut to this length."""


def _plain_digits(value: Any) -> Any:
    """``12``, not ``+12``, `` 12``, ``1_2`` or ``12.0``, which int() and pydantic would take."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,20}", value):
        raise ValueError("should be a whole number written in digits")
    return value


Digits = Annotated[int, BeforeValidator(_plain_digits)]


class SampleQuery(BaseModel):
    """What every picture shares: which latents (``seed``, ``truncation``) and which class."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    seed: Digits = Field(0, ge=0, le=MAX_SEED)
    class_: str | None = Field(None, alias="class", max_length=200,
                               description="a class name or number (conditional generators); empty: random")
    truncation: float = Field(1.0, gt=0.0, le=1.0, description="the truncation trick's psi; 1: none")


class GridQuery(SampleQuery):
    """``GET /api/generators/{id}/grid.png``: ``num`` samples from ``seed``, 8 per row."""

    num: Digits = Field(16, ge=1, le=MAX_SAMPLES)


class WalkQuery(SampleQuery):
    """``GET /api/generators/{id}/walk.png``: ``steps`` images from ``seed``'s latent to ``to_seed``'s."""

    to_seed: Digits = Field(1, ge=0, le=MAX_SEED)
    steps: Digits = Field(8, ge=2, le=MAX_WALK_STEPS)
    mode: Literal["linear", "slerp"] = "slerp"


Query = TypeVar("Query", bound=SampleQuery)


def parse_query(model: type[Query], items: Iterable[tuple[str, str]]) -> Query:
    """The model from a query string's (name, value) pairs; a name given twice is refused."""
    values: dict[str, str] = {}
    for name, value in items:
        if name in values:
            raise ConfigError(f"parameter {_shown(name)} is given twice; give it once")
        values[name] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc, model)) from None


def _first_problem(exc: ValidationError, model: type[BaseModel]) -> str:
    """``num: Input should be less than or equal to 256 (got '300')``: one line, the first problem."""
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        known = ", ".join(field.alias or key for key, field in model.model_fields.items())
        return f"unknown parameter {_shown(name)}; this endpoint takes {known}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{name}: {message} (got {_shown(error.get('input'))})"


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "...")


def resolve_class(value: str | None, class_names: list[str] | None) -> int | None:
    """A class given by name (or by number) as its index; ``None`` or empty means random classes."""
    if value is None or value == "":
        return None
    if class_names is None:
        raise ConfigError("this generator is unconditional; drop the class parameter")
    if value in class_names:
        return class_names.index(value)
    if re.fullmatch(r"[0-9]{1,7}", value) and int(value) < len(class_names):
        return int(value)
    listed = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
    raise ConfigError(f"class {_shown(value)} is not one of this generator's {len(class_names)} classes "
                      f"({listed}); give a name or a number from 0 to {len(class_names) - 1}")
