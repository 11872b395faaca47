"""Evaluation: FID, KID, IS, precision/recall, mode coverage and conditional accuracy.

``evaluate(generator, dataset, metrics=...)``, or ``evaluate(generator, EvaluationRequest(...))``, is the
entry point; see ``docs/pages/getting-started.md`` for the protocol. Metrics are computed with
torchmetrics over features from a backbone: the shipped ``mnist-classifier`` or the standard FID
``inception`` (when its weights are provided).

Names are imported on first use: torchmetrics pulls in scipy, and the engine and CLI should
not pay for that unless they evaluate.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganzoo.metrics.backbones import BackboneUnavailable, cache_dir, load_backbone
    from ganzoo.metrics.catalogue import METRIC_GROUPS, METRICS, Metric
    from ganzoo.metrics.evaluate import evaluate
    from ganzoo.metrics.request import EvaluationRequest
    from ganzoo.metrics.result import DEFAULT_METRICS, DEFAULT_NUM_SAMPLES, EvaluationResult, MetricValue

_HOME = {"BackboneUnavailable": "backbones", "cache_dir": "backbones", "load_backbone": "backbones",
         "evaluate": "evaluate", "EvaluationRequest": "request", "DEFAULT_METRICS": "result",
         "DEFAULT_NUM_SAMPLES": "result",
         "METRIC_GROUPS": "catalogue", "METRICS": "catalogue", "Metric": "catalogue", "EvaluationResult": "result", "MetricValue": "result"}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'ganzoo.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ganzoo.metrics.{_HOME[name]}"), name)
