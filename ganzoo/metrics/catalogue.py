"""Every metric ganzoo reports, written once: its key, labels, direction, group and what it needs.

Results, the ``eval`` table, ``run.eval_metric``, best-checkpoint tracking and the ``bench``
table and plot all read this catalogue; none of them spells a metric's label or direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    """The key in results, JSON and ``metrics.jsonl``."""
    label: str
    """What the ``eval`` table calls it."""
    short: str | None
    """Its column label in the ``bench`` table; None: the table leaves it to the JSON."""
    group: str
    """The ``metrics=`` group that computes it."""
    lower_is_better: bool
    decimals: int = 3
    needs_classifier: bool = False
    """Only the MNIST classifier's class logits can give it (coverage, conditional accuracy)."""


METRICS: dict[str, Metric] = {metric.name: metric for metric in (
    Metric("fid", "FD", "FD", "fid", lower_is_better=True),
    Metric("kid", "KID", "KID", "kid", lower_is_better=True, decimals=5),
    Metric("is", "IS", "IS", "is", lower_is_better=False),
    Metric("precision", "precision", None, "pr", lower_is_better=False),
    Metric("recall", "recall", None, "pr", lower_is_better=False),
    Metric("classes_covered", "classes covered", "classes", "coverage", lower_is_better=False, decimals=0,
           needs_classifier=True),
    Metric("coverage_kl", "KL(gen || real classes)", "KL classes", "coverage", lower_is_better=True,
           needs_classifier=True),
    Metric("confidence", "classifier confidence", None, "coverage", lower_is_better=False, needs_classifier=True),
    Metric("cond_accuracy", "conditional accuracy", "cond. acc.", "accuracy", lower_is_better=False,
           needs_classifier=True),
)}

METRIC_NAMES = tuple(METRICS)
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]
"""A metric key as a config field accepts it (``run.eval_metric``)."""

METRIC_GROUPS = tuple(dict.fromkeys(metric.group for metric in METRICS.values()))
"""What ``metrics=`` selects: ``pr`` gives precision and recall; ``coverage`` gives classes covered,
KL to the real class distribution and classifier confidence; ``accuracy`` is conditional accuracy
(conditional generators only). ``coverage`` and ``accuracy`` need the ``mnist-classifier``."""

BENCH_GROUPS = ("fid", "kid", "is", "coverage", "accuracy")
"""What ``ganzoo bench`` measures at every curve point; precision/recall is left to ``ganzoo eval``,
as the harness evaluates several times per run."""


def metric_of_key(key: str) -> Metric | None:
    """The metric of a ``backbone.metric`` key (``mnist-classifier.fid``), or None for other keys."""
    return METRICS.get(key.rpartition(".")[2])


def lower_is_better(key: str) -> bool:
    """Direction of a metric or ``backbone.metric`` key: distances (FD, KID, KL) shrink as quality grows."""
    metric = metric_of_key(key)
    return metric.lower_is_better if metric else False


def format_value(name: str, value: float) -> str:
    metric = METRICS.get(name)
    return f"{value:.{metric.decimals if metric else 3}f}"
