"""The one base of every options model, and the settings handed to a dataset plugin.

``Options`` (``StrictModel``) is what a plugin's ``config_model`` derives from: unknown keys, NaN
and infinities are refused, booleans, numbers and strings are never taken for one another, and
assignments are validated, so a misspelt or mistyped option is an error rather than silently
ignored. ``NoOptions`` is the same model with no fields, for a component that takes none.
``DataConfig`` lives here because a dataset's factory receives it.
"""

from __future__ import annotations

import types
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class StrictModel(BaseModel):
    """Rejects unknown keys, so a misspelt setting is an error rather than silently ignored;
    NaN or infinite numbers, which no setting means (they only surface later as a "divergence");
    and a value of the wrong scalar kind that pydantic would convert (``mixed_scalar``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_mixed_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        problem = mixed_scalar(field.annotation, value) if field is not None else None
        if problem:
            raise ValueError(problem)
        return value


def mixed_scalar(annotation: Any, value: Any) -> str | None:
    """Why ``value`` is the wrong kind of scalar for ``annotation``, or ``None`` when it is not.

    Pydantic's lax mode reads ``true`` as 1 for an integer (so ``epochs = true`` trained one
    epoch), 1 or ``"no"`` as a boolean and ``true`` as ``Literal[1]``; a config value is written
    by a person, and each of those is a mistake to point out, never a value to guess. Numbers
    stay numbers, booleans booleans, and strings are taken for neither (a string of digits for a
    number is still allowed: it means only the number). Lists, tuples and tables are checked
    item by item against their item type.
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return mixed_scalar(args[0], value)
    if origin in (list, set, frozenset, tuple) and isinstance(value, (list, tuple)):
        items = args if origin is tuple and args and args[-1] is not Ellipsis else args[:1] * len(value)
        return next((f"item {index}: {problem}" for index, (item, kind) in enumerate(zip(value, items, strict=False))
                     if (problem := mixed_scalar(kind, item))), None)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return next((f"{key!r}: {problem}" for key, item in value.items() if (problem := mixed_scalar(args[1], item))),
                    None)
    kinds, words = _scalar_kinds(annotation)
    if "any" in kinds:
        return None
    if isinstance(value, bool):
        return "must be a number, not true or false" if "number" in kinds and "bool" not in kinds else None
    if isinstance(value, (int, float)) and "number" not in kinds:
        if "bool" in kinds:
            return "must be true or false, not a number"
        return "must be a string, not a number (put it in quotes)" if "text" in kinds else None
    if isinstance(value, str) and "bool" in kinds and not kinds & {"text", "number"} and value not in words:
        choices = ["true", "false", *(repr(word) for word in sorted(words))]
        return f"must be {', '.join(choices[:-1])} or {choices[-1]}, not {'another' if words else 'a'} string"
    return None


def _scalar_kinds(annotation: Any) -> tuple[set[str], set[str]]:
    """The scalar kinds ``annotation`` takes ("bool", "number", "text", "any"), and the strings of
    its ``Literal`` choices."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _scalar_kinds(args[0])
    if origin in (Union, types.UnionType) or origin is Literal:
        kinds: set[str] = set()
        words: set[str] = set()
        for arg in args:
            more, more_words = _scalar_kinds(arg) if origin is not Literal else _literal_kind(arg)
            kinds |= more
            words |= more_words
        return kinds, words
    if annotation is Any:
        return {"any"}, set()
    if annotation is bool:
        return {"bool"}, set()
    if isinstance(annotation, type) and issubclass(annotation, (int, float)):
        return {"number"}, set()
    if isinstance(annotation, type) and issubclass(annotation, (str, PurePath)):
        return {"text"}, set()
    return set(), set()  # a model, a list, None: pydantic checks those as they are


def _literal_kind(choice: Any) -> tuple[set[str], set[str]]:
    if isinstance(choice, bool):
        return {"bool"}, set()
    if isinstance(choice, (int, float)):
        return {"number"}, set()
    return (set(), {choice}) if isinstance(choice, str) else (set(), set())


class ComponentConfig(StrictModel):
    """A registered component chosen by name, with its plugin-defined options."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class DataConfig(StrictModel):
    """Which images to train on and how to prepare them: once, in memory, when they fit the
    memory budget; decoded on the fly by DataLoader workers (``ganzoo.data.files``) when not."""

    name: str = Field("mnist-embedded", min_length=1, description="registered dataset name")
    root: Path | None = Field(None, description="data directory (dataset root or image folder)")
    split: Literal["train", "valid", "test"] = Field("train", description="valid: CelebA only")
    download: bool = Field(False, description="download the dataset into root if it is missing")
    image_size: int = Field(32, ge=8, le=1024, description="images are resized to this square size")
    channels: Literal[1, 3] | None = Field(None, description="convert to grey (1) or RGB (3); default: keep")
    limit: int | None = Field(None, gt=0, description="use only the first N images")
    memory_budget_mb: float = Field(4096, gt=0, description="largest dataset held in memory (N x C x H x W bytes)")
    stream: Literal["auto"] | bool = Field(
        "auto", description="stream image files from disk: auto (when over the budget), true or false")
    workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes of the streaming path")
    cache_dir: Path | None = Field(None, description="cache the resized uint8 images of file datasets here")


class NoOptions(StrictModel):
    """Config model for components that take no options; rejects any key given."""


Options = StrictModel
