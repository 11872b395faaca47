"""Evaluation inside a training run, to keep the best checkpoint beside the last one.

GAN quality often peaks before the end of training, so with ``run.eval_every_epochs = N`` the
engine calls ``evaluate_for_best_checkpoint`` every N epochs. It measures ``run.eval_metric`` on
``run.eval_num_samples`` samples (no baseline, cached real features), appends an ``eval`` row to
``metrics.jsonl`` and says whether this epoch beats every earlier ``eval`` row. Because the best
so far is read back from the log, a resumed run keeps comparing against the right value.
"""

from __future__ import annotations

from collections.abc import Callable

from ganzoo.config import RunConfig
from ganzoo.data import ImageDataset
from ganzoo.errors import ConfigError
from ganzoo.interfaces import Generator
from ganzoo.metrics.result import LOWER_IS_BETTER
from ganzoo.reporting import MetricsLog

GROUP_OF_METRIC = {"fid": "fid", "kid": "kid", "is": "is", "precision": "pr", "recall": "pr",
                   "classes_covered": "coverage", "coverage_kl": "coverage", "confidence": "coverage",
                   "cond_accuracy": "accuracy"}


def evaluation_due(run: RunConfig, epoch_number: int) -> bool:
    return bool(run.eval_every_epochs) and epoch_number % run.eval_every_epochs == 0


def evaluate_for_best_checkpoint(generator: Generator, dataset: ImageDataset, run: RunConfig, log: MetricsLog,
                                 *, epoch: int, step: int, note: Callable[[str], None] = print) -> bool:
    """Measure ``run.eval_metric`` now, log it, and return True when it is the best value so far."""
    from ganzoo.metrics.evaluate import evaluate  # torchmetrics loads only when a run evaluates

    metric = run.eval_metric
    result = evaluate(generator, dataset, [GROUP_OF_METRIC[metric]], backbones=[run.eval_backbone],
                      num_samples=run.eval_num_samples, seed=run.seed, baseline=False)
    try:
        value = result.get(metric, run.eval_backbone).value
    except KeyError:
        reason = "; ".join(result.notes) or f"{metric} needs the mnist-classifier and labelled MNIST-like data"
        raise ConfigError(f"run.eval_metric {metric!r} could not be measured ({reason}); choose another "
                          "run.eval_metric or set run.eval_every_epochs=0") from None
    earlier = [row[metric] for row in log.read("eval") if metric in row and row["epoch"] < epoch]
    lower = LOWER_IS_BETTER[metric]
    best = not earlier or (value < min(earlier) if lower else value > max(earlier))
    log.write("eval", epoch=epoch, step=step, backbone=run.eval_backbone, num_samples=run.eval_num_samples,
              best=best, **{metric: value})
    note(f"epoch {epoch}: {metric} {value:.4f} ({run.eval_backbone}, {run.eval_num_samples} samples)"
         + (" - best so far, saved checkpoints/best.safetensors" if best else ""))
    return best
