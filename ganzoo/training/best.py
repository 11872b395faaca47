"""Evaluation inside a training run, to keep the best checkpoint beside the last one.

GAN quality often peaks before the end of training, so with ``run.eval_every_epochs = N`` this
callback measures ``run.eval_metric`` of ``run.sampling_generator`` (the EMA copy when
``ema.enabled``) every N epochs on ``run.eval_num_samples`` samples (no baseline, cached real
features), appends an ``eval`` row to ``metrics.jsonl`` and, when the
value beats every earlier ``eval`` row, has the run save ``checkpoints/best.safetensors`` and
``generator-best.safetensors``. The best so far is read back from the log, so a resumed run keeps
comparing against the right value. Evaluation time is not training time (``run.clock`` pauses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo.core.callback import Callback
from ganzoo.errors import ConfigError
from ganzoo.metrics.catalogue import METRICS
from ganzoo.training.metrics_log import MetricsLog

if TYPE_CHECKING:
    from ganzoo.training.view import TrainingRunView


class BestCheckpoint(Callback):
    def on_start(self, run: TrainingRunView) -> None:
        from ganzoo.data.dataset import MNIST_CLASSES
        from ganzoo.metrics.preflight import check_backbones_suit

        dataset = run.parts.dataset  # a backbone that cannot measure this data is refused before training
        check_backbones_suit([run.settings.eval_backbone], dataset.class_names == MNIST_CLASSES, dataset.name)

    def on_epoch_end(self, run: TrainingRunView, epoch: int) -> None:
        if epoch % run.settings.eval_every_epochs == 0:
            with run.clock.paused():
                best = self.evaluate(run, epoch)
            if best:
                run.save_checkpoint(best=True)

    def evaluate(self, run: TrainingRunView, epoch: int) -> bool:
        """Measure ``run.eval_metric`` now, log it, and return True when it is the best value so far."""
        from ganzoo.metrics.evaluate import evaluate  # torchmetrics loads only when a run evaluates
        from ganzoo.metrics.request import EvaluationRequest

        settings = run.settings
        metric = METRICS[settings.eval_metric]
        request = EvaluationRequest(dataset=run.parts.dataset, metrics=[metric.group],
                                    backbones=[settings.eval_backbone], num_samples=settings.eval_num_samples,
                                    seed=settings.seed, baseline=False)
        result = evaluate(run.sampling_generator, request)
        try:
            value = result.get(metric.name, settings.eval_backbone).value
        except KeyError:
            reason = "; ".join(result.notes) or f"{metric.name} needs the mnist-classifier and labelled MNIST-like data"
            raise ConfigError(f"run.eval_metric {metric.name!r} could not be measured ({reason}); choose another "
                              "run.eval_metric or set run.eval_every_epochs=0") from None
        log = MetricsLog(run.run_dir.metrics)
        earlier = [row[metric.name] for row in log.read("eval") if metric.name in row and row["epoch"] < epoch]
        best = not earlier or (value < min(earlier) if metric.lower_is_better else value > max(earlier))
        log.write("eval", epoch=epoch, step=run.progress.global_step, backbone=settings.eval_backbone,
                  num_samples=settings.eval_num_samples, best=best, **{metric.name: value})
        run.note(f"epoch {epoch}: {metric.name} {value:.4f} ({settings.eval_backbone}, {settings.eval_num_samples} "
                 "samples)" + (" - best so far, saved checkpoints/best.safetensors" if best else ""))
        return best
