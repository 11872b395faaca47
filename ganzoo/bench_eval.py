"""The one evaluation protocol ``ganzoo bench`` applies to every variant, seed and curve point.

It wraps ``ganzoo.evaluate`` so that the harness asks one question (``evaluate(weights)``) and
records one protocol (backbones and their fingerprints, sample counts, real split, resolution,
versions) and the real-vs-real baselines beside the numbers. Metric keys are
``backbone.metric`` (``mnist-classifier.fid``, ``inception.fid``), so numbers from different
feature spaces never mix. A backbone whose weights are absent (Inception, offline) is skipped
with a note in the protocol; the rest still runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganzoo.metrics.result import LOWER_IS_BETTER
from ganzoo.weights import load_generator

if TYPE_CHECKING:
    from ganzoo.bench import BenchConfig

BENCH_METRICS = ("fid", "kid", "is", "coverage", "accuracy")
"""FD, KID, IS and mode coverage for every variant, conditional accuracy where it applies;
precision/recall is left to ``ganzoo eval``, as the harness evaluates several times per run."""


def lower_is_better(key: str) -> bool:
    """Direction of a ``backbone.metric`` key: distances (FD, KID, KL) shrink as quality grows."""
    return LOWER_IS_BETTER.get(key.rpartition(".")[2], False)


@dataclass
class Evaluator:
    """Scores a generator file with the benchmark's shared protocol.

    ``metric_names`` and ``protocol`` fill in on the first evaluation, since which backbones can
    run (and so which keys exist) is only known then.
    """

    config: BenchConfig
    device: torch.device
    metric_names: list[str] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, weights: Path, *, seed: int) -> dict[str, float]:
        from ganzoo.metrics.evaluate import evaluate

        generator = load_generator(weights, device=self.device)
        result = evaluate(generator, self.config.dataset, metrics=BENCH_METRICS,
                          num_samples=self.config.eval_samples, seed=seed, data_root=self.config.data_root,
                          device=self.device, baseline=not self.protocol)  # the baseline once: it never changes
        values = {f"{value.backbone}.{value.name}": value.value for value in result.values}
        if not self.protocol:
            protocol = {key: value for key, value in result.protocol.items() if key != "seed"}
            self.protocol = {**protocol, "seed": "the run's seed",
                             "real_vs_real": {f"{v.backbone}.{v.name}": v.baseline for v in result.values},
                             "notes": result.notes}
        self.metric_names += [key for key in values if key not in self.metric_names]
        return values


def make_evaluator(config: BenchConfig, device: torch.device) -> Evaluator:
    """The evaluation every run of this benchmark shares."""
    return Evaluator(config, device)
