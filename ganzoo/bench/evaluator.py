"""The one evaluation protocol ``ganzoo bench`` applies to every variant, seed and curve point,
and the training callback that applies it along one continuous run.

``Evaluator`` wraps ``ganzoo.evaluate`` so that the harness asks one question
(``evaluate(generator)``) and records one protocol (backbones and their fingerprints, sample
counts, real split, resolution, versions) and the real-vs-real baselines beside the numbers.
Metric keys are ``backbone.metric`` (``mnist-classifier.fid``, ``inception.fid``), so numbers from
different feature spaces never mix. A backbone whose weights are absent (Inception, offline) is
skipped with a note in the protocol; the rest still runs.

``EvaluationCurve`` evaluates at ``eval_points`` evenly spaced points of the budget (images or
seconds) while the run trains, with the run's clock paused, and reads the peak memory of the
training in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganzoo.bench.config import BenchConfig
from ganzoo.core.callback import Callback
from ganzoo.core.interfaces import Generator
from ganzoo.metrics.catalogue import BENCH_GROUPS
from ganzoo.runtime.devices import read_peak_memory, reset_peak_memory

if TYPE_CHECKING:
    from ganzoo.training.view import TrainingRunView


@dataclass
class Evaluator:
    """Scores a generator with the benchmark's shared protocol.

    ``metric_names`` and ``protocol`` fill in on the first evaluation, since which backbones can
    run (and so which keys exist) is only known then.
    """

    config: BenchConfig
    device: torch.device
    metric_names: list[str] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, generator: Generator, *, seed: int) -> dict[str, float]:
        from ganzoo.metrics.evaluate import evaluate
        from ganzoo.metrics.request import EvaluationRequest

        request = EvaluationRequest(dataset=self.config.dataset, data_root=self.config.data_root, metrics=BENCH_GROUPS,
                                    num_samples=self.config.eval_samples, seed=seed, device=self.device,
                                    baseline=not self.protocol)  # the baseline once: it never changes
        result = evaluate(generator, request)
        values = {f"{value.backbone}.{value.name}": value.value for value in result.values}
        if not self.protocol:
            protocol = {key: value for key, value in result.protocol.items() if key != "seed"}
            self.protocol = {**protocol, "seed": "the run's seed",
                             "real_vs_real": {f"{v.backbone}.{v.name}": v.baseline for v in result.values},
                             "notes": result.notes}
        self.metric_names += [key for key in values if key not in self.metric_names]
        return values


class EvaluationCurve(Callback):
    """Evaluate the live generator (``run.sampling_generator``: the EMA copy when ``ema.enabled``)
    at ``points`` evenly spaced fractions of the run's budget.

    Under a time budget (``run.max_seconds``) the points are training seconds, otherwise steps
    (``total_steps * i / points``); the last point is the end of the run. Each row holds the
    images and training seconds so far, the latest training statistics (``train.*``) and the metrics.
    """

    def __init__(self, evaluator: Evaluator, *, seed: int, points: int) -> None:
        self.evaluator, self.seed, self.points = evaluator, seed, points
        self.curve: list[dict[str, float]] = []
        self.peak_memory = 0

    def on_start(self, run: TrainingRunView) -> None:
        reset_peak_memory(run.device)

    def on_step_end(self, run: TrainingRunView, stats: Mapping[str, Tensor]) -> None:
        if len(self.curve) < self.points - 1 and self._due(run, len(self.curve) + 1):
            self.evaluate(run)

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        if error is None and len(self.curve) < self.points:
            self.evaluate(run)

    def _due(self, run: TrainingRunView, point: int) -> bool:
        seconds = run.settings.max_seconds
        if seconds is not None:
            return run.clock.elapsed() >= seconds * point / self.points
        return run.progress.global_step >= max(1, round(run.total_steps * point / self.points))

    def evaluate(self, run: TrainingRunView) -> None:
        with run.clock.paused():
            self.peak_memory = max(self.peak_memory, read_peak_memory(run.device))
            run.log()  # the statistics up to this point
            row = {"images": float(run.progress.images_seen), "train_seconds": run.clock.elapsed(),
                   **{f"train.{key}": value for key, value in run.last_stats.items()}}
            row.update(self.evaluator.evaluate(run.sampling_generator, seed=self.seed))
            self.curve.append(row)
            reset_peak_memory(run.device)
