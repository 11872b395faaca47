"""What a benchmark compares and under which budget, and the shape of what it reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ganzoo.config import DeviceName, PrecisionName
from ganzoo.core.options import StrictModel


class BenchConfig(StrictModel):
    """What a benchmark compares and under which budget; the CLI flags map onto these fields."""

    variants: list[str] = Field(min_length=1)
    dataset: str = "mnist-embedded"
    data_root: Path | None = None
    image_size: int | None = Field(None, ge=8, le=1024, description="default: each variant's own")
    limit: int | None = Field(None, gt=0, description="train on the first N images only")
    budget_images: int | None = Field(None, gt=0, description="training images per run")
    budget_seconds: float | None = Field(None, gt=0, description="training seconds per run")
    seeds: int = Field(3, ge=1, le=100, description="runs per variant, seeds 0..N-1")
    batch_size: int = Field(64, gt=0, le=65_536)
    device: DeviceName = "auto"
    precision: PrecisionName = "auto"
    eval_points: int = Field(4, ge=1, le=100, description="evaluations along training (the curve)")
    eval_samples: int = Field(2_000, ge=10, le=200_000, description="generated images per evaluation")
    sampling_images: int = Field(16, ge=1, le=10_000, description="images per sampling-cost measurement, one batch "
                                                                 "per sampler of each trained generator")
    out_dir: Path = Path("runs/bench")
    overrides: dict[str, Any] = Field(default_factory=dict, description="config layer for every variant")

    @model_validator(mode="after")
    def _one_budget(self) -> BenchConfig:
        if (self.budget_images is None) == (self.budget_seconds is None):
            raise ValueError("give exactly one budget: --budget-images N or --budget-seconds S")
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("each variant may be named once")
        return self


@dataclass
class SeedResult:
    """One training run of one variant: its speed, memory and the evaluation curve."""

    seed: int
    images: int
    steps: int
    train_seconds: float
    images_per_second: float
    peak_memory_bytes: int
    resolution: list[int]
    curve: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    sampling: dict[str, float] = field(default_factory=dict)
    """Images per second of each of the trained generator's samplers, by label (``Generator.samplers``)."""


@dataclass
class VariantResult:
    variant: str
    plugin: str
    plugin_version: str
    seeds: list[SeedResult]
    summary: dict[str, dict[str, float]]
    """``{"images_per_second": {"mean", "std", "min", "max"}, "final.fd": {...}, "best.kid": ...,
    "sampling.DDIM 50 steps": ...}``"""


@dataclass
class BenchReport:
    protocol: dict[str, Any]
    variants: list[VariantResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
