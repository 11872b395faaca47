"""``EvaluationRequest``: what ``ganzoo.evaluate`` compares a generator against, and how, in one checked value.

Every setting of an evaluation but the generator (the real data, the metrics and backbones, the
sample counts, the seed, the sampling options, where weights and caches are) is a field, and
the request is validated when it is built: an unknown metric or backbone, a truncation outside
(0, 1], too few samples for a metric, an unknown device are one ``ConfigError`` line naming the
setting, before a generator is loaded or an image generated. What also depends on the generator
and the real data (their shapes, the real set's size, which backbones can load) ``evaluate``
checks next, with ``ganzoo.metrics.preflight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ganzoo.config import validation_problems
from ganzoo.core.interfaces import TrainingImages
from ganzoo.core.sampling import check_sampling_precision, check_truncation
from ganzoo.errors import ConfigError
from ganzoo.metrics.backbones import BACKBONES, Backbone
from ganzoo.metrics.catalogue import METRIC_GROUPS
from ganzoo.metrics.preflight import check_sample_counts
from ganzoo.metrics.result import DEFAULT_METRICS, DEFAULT_NUM_SAMPLES
from ganzoo.runtime.devices import resolve_device


class EvaluationRequest(BaseModel):
    """The real data, what to measure on it and how to draw the samples: ``ganzoo.evaluate``'s settings.

    Built from keywords, ``EvaluationRequest(dataset="mnist-embedded", metrics="fid,kid", num_samples=2000)``;
    ``metrics`` and ``backbones`` take a comma string or a list, ``device`` a name (``auto``,
    ``cpu``, ``cuda:1``) or a ``torch.device``. A setting that is unknown, of the wrong type or
    out of range is refused in one ``ConfigError`` line that names it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              use_attribute_docstrings=True)

    dataset: TrainingImages | str = "mnist-embedded"
    """The real data: a dataset (``ImageDataset``, streamed image files) or a registered dataset name."""
    split: str | None = None
    """The split a named dataset is loaded from (``train`` when unset), and the one the protocol records."""
    data_root: Path | None = None
    """Where a named dataset's files are."""
    metrics: tuple[str, ...] = DEFAULT_METRICS
    """Metric groups from ``fid, kid, is, pr, coverage, accuracy``; all of them by default."""
    backbones: tuple[str | Backbone, ...] | None = None
    """Backbone names or ready ``Backbone`` objects; unset: ``mnist-classifier`` and ``inception``
    for MNIST-like data, ``inception`` otherwise."""
    num_samples: int = DEFAULT_NUM_SAMPLES
    """Generated samples."""
    num_real: int | None = None
    """Real samples; unset: the whole real set."""
    baseline: bool = True
    """Measure every metric between two disjoint halves of the real set too."""
    seed: int = 0
    """Where the latents (and the metrics' own random subsets) come from."""
    truncation: float = 1.0
    """The truncation trick's psi in (0, 1]; 1: none. Recorded in the protocol when below 1."""
    precision: str = "fp32"
    """The sampling precision (``ganzoo.core.sampling.SAMPLING_PRECISIONS``); recorded unless fp32."""
    batch_size: int = Field(500, gt=0)
    """Images generated and embedded at a time."""
    device: torch.device | None = None
    """Where to generate and embed; unset: the generator's device."""
    inception_weights: Path | None = None
    """The FID InceptionV3 weights file; unset: found in the cache (``ganzoo.metrics.backbones``)."""
    cache_root: Path | None = None
    """Where reference statistics are cached; unset: ``$GANZOO_CACHE`` or ``~/.cache/ganzoo``."""

    if not TYPE_CHECKING:  # type checkers see the fields as the keyword arguments, as pydantic builds them

        def __init__(self, **settings: Any) -> None:
            try:
                super().__init__(**settings)
            except ValidationError as exc:
                raise ConfigError(f"cannot evaluate: {validation_problems(exc, type(self))}") from None

    @field_validator("dataset", mode="plain")
    @classmethod
    def _real_data(cls, value: Any) -> Any:
        """A name, or anything with a dataset's images (the ``TrainingImages`` protocol)."""
        if isinstance(value, str) or hasattr(value, "uint8_images"):
            return value
        raise ValueError("should be a registered dataset name or a dataset (an ImageDataset)")

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_groups(cls, value: Any) -> tuple[str, ...]:
        return tuple(parse_metric_groups(value))

    @field_validator("backbones", mode="before")
    @classmethod
    def _backbone_choices(cls, value: Any) -> tuple[str | Backbone, ...] | None:
        """Ready ``Backbone`` objects first, then the names, checked against ``BACKBONES``."""
        if value is None:
            return None
        if isinstance(value, str):
            return tuple(_parse_list(value, BACKBONES, "backbone"))
        objects = [b for b in value if isinstance(b, Backbone)]
        names = [b for b in value if isinstance(b, str)]
        return (*objects, *(_parse_list(names, BACKBONES, "backbone") if names or not objects else []))

    @field_validator("device", mode="before")
    @classmethod
    def _resolved_device(cls, value: Any) -> Any:
        return resolve_device(value) if isinstance(value, str) else value

    @field_validator("truncation")
    @classmethod
    def _truncation_in_range(cls, value: float) -> float:
        check_truncation(value)
        return value

    @model_validator(mode="after")
    def _can_give_a_result(self) -> EvaluationRequest:
        """Enough samples for every metric asked for; a precision the device (when named) samples in."""
        check_sample_counts(self.metrics, self.num_samples, self.num_real, baseline=self.baseline)
        if self.device is not None:
            check_sampling_precision(self.precision, self.device)
        return self


def to_request(request: EvaluationRequest | TrainingImages | str | None,
               settings: Mapping[str, Any]) -> EvaluationRequest:
    """``evaluate``'s two forms as one request: a ready ``EvaluationRequest``, or the real data and
    keyword settings to build one from."""
    if isinstance(request, EvaluationRequest):
        if settings:
            raise TypeError(f"evaluate() got an EvaluationRequest and settings beside it ({', '.join(settings)}); "
                            "put them in the request")
        return request
    if request is not None:
        if "dataset" in settings:
            raise TypeError("evaluate() got the dataset twice, as its second argument and as dataset=")
        settings = {"dataset": request, **settings}
    return EvaluationRequest(**settings)


def parse_metric_groups(metrics: Sequence[str] | str) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> the metric groups, checked against ``METRIC_GROUPS``."""
    return _parse_list(metrics, METRIC_GROUPS, "metric")


def _parse_list(value: Sequence[str] | str, allowed: Sequence[str], kind: str) -> list[str]:
    items = [item.strip() for item in (value.split(",") if isinstance(value, str) else value) if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise ConfigError(f"unknown {kind} {', '.join(map(repr, unknown)) or '(none given)'}; "
                          f"choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))
