"""What a run writes about itself, as callbacks: the metrics log, sample grids, the loss curve,
the model card.

``standard_callbacks`` is what every run gets (best-checkpoint evaluation joins when
``run.eval_every_epochs`` is set); paths come from the run's ``RunDirectory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ganzoo.config import RunConfig
from ganzoo.core.callback import Callback
from ganzoo.io.files import atomic_write_figure
from ganzoo.io.images import save_sample_grid
from ganzoo.training.best import BestCheckpoint
from ganzoo.training.metrics_log import MetricsLog
from ganzoo.training.model_card import ModelCard

if TYPE_CHECKING:
    from ganzoo.training.view import TrainingRunView

STAT_LABELS = {"d_loss": "D", "g_loss": "G", "d_real": "D(x)", "d_fake": "D(G(z))", "wasserstein": "W",
               "augment_p": "p", "augment_rt": "r_t"}


def format_stats(stats: Mapping[str, float]) -> str:
    return "  ".join(f"{STAT_LABELS.get(k, k)} {v:.3f}" for k, v in stats.items())


def standard_callbacks(run: RunConfig) -> list[Callback]:
    """The metrics log, sample grids, the loss curve, the model card and, when asked for,
    best-checkpoint evaluation."""
    callbacks: list[Callback] = [MetricsLogWriter(), SampleGrids(), LossCurve(), ModelCard()]
    if run.eval_every_epochs:
        callbacks.append(BestCheckpoint())
    return callbacks


class MetricsLogWriter(Callback):
    """``metrics.jsonl``: a ``step`` row at every log, an ``epoch`` row at each epoch's end.

    On resume and rollback the rows past the checkpoint's step go, since they will be written again.
    The epoch row repeats the last log's means (``run.last_stats``, which a checkpoint carries: a run
    stopped at an epoch's last log step ends that epoch after its resume).
    """

    def on_resume(self, run: TrainingRunView, reason: str) -> None:
        run.run_dir.truncate_metrics(run.progress.global_step)

    def on_log(self, run: TrainingRunView, stats: Mapping[str, float]) -> None:
        progress = run.progress
        MetricsLog(run.run_dir.metrics).write(
            "step", epoch=progress.epoch + 1, step=progress.global_step, images=progress.images_seen,
            elapsed_s=round(run.clock.elapsed(), 3), images_per_s=round(run.images_per_second, 1), **stats)

    def on_epoch_end(self, run: TrainingRunView, epoch: int) -> None:
        progress = run.progress
        MetricsLog(run.run_dir.metrics).write("epoch", epoch=epoch, step=progress.global_step,
                                              images=progress.images_seen,
                                              elapsed_s=round(progress.elapsed_seconds, 3), **run.last_stats)


class SampleGrids(Callback):
    """``samples/epoch-NNNN.png``: the same fixed latents (and labels) every ``run.sample_every_epochs``,
    and once more at the end when the last epoch did not write one; from ``run.sampling_generator``
    (the EMA copy when ``ema.enabled``)."""

    def on_start(self, run: TrainingRunView) -> None:
        generator, count = run.parts.generator, run.settings.num_fixed_samples
        fixed_rng = torch.Generator().manual_seed(run.settings.seed)  # not the run's RNG: resume stays exact
        self.latents = generator.sample_latents(count, generator=fixed_rng, device="cpu")
        self.labels = (torch.arange(count) % run.parts.dataset.num_classes
                       if generator.num_classes is not None else None)

    def on_epoch_end(self, run: TrainingRunView, epoch: int) -> None:
        every = run.settings.sample_every_epochs
        if every and epoch % every == 0:
            self.write(run, epoch)

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        epoch = max(run.progress.epoch, 1)
        if error is None and run.settings.sample_every_epochs and not run.run_dir.sample_grid(epoch).exists():
            self.write(run, epoch)

    def write(self, run: TrainingRunView, epoch: int) -> None:
        images = run.sampling_generator.sample(len(self.latents), latents=self.latents, labels=self.labels)
        save_sample_grid(images, run.run_dir.sample_grid(epoch))


class LossCurve(Callback):
    """``loss_curve.png``: D and G loss against the step, from the metrics log, at the end of the run."""

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        if error is None:
            plot_loss_curve(MetricsLog(run.run_dir.metrics).read("step"), run.run_dir.loss_curve)


def plot_loss_curve(rows: list[dict[str, float]], path: Path, keys: tuple[str, ...] = ("d_loss", "g_loss")) -> None:
    """D and G loss against the training step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for key in keys:
        points = [(row["step"], row[key]) for row in rows if key in row]
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values, label=STAT_LABELS.get(key, key) + " loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    try:
        atomic_write_figure(figure, path)
    finally:
        plt.close(figure)
