"""ganzoo: every classic GAN variant on one engine, one benchmark harness, safe weights.

The user API::

    import ganzoo
    generator = ganzoo.load_generator("runs/mlp/generator.safetensors")
    images = generator.sample(64, seed=0)          # (64, C, H, W) in [-1, 1]
    result = ganzoo.evaluate(generator, "mnist-embedded", metrics=["fid", "coverage"])
    request = ganzoo.EvaluationRequest(dataset="mnist-embedded", metrics="fid", num_samples=2000)
    result = ganzoo.evaluate(generator, request)     # the same settings, checked before any work
    plan = ganzoo.make_plan([{"variant": "dcgan", "run": {"epochs": 1}}])
    ganzoo.train(plan)
    ganzoo.list_variants("*gan*")

Plugin authors import from ``ganzoo.plugin``, the one stable surface for plugins.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from ganzoo.core.registry import get_registry
from ganzoo.errors import GanzooError
from ganzoo.generators.weights import load_generator
from ganzoo.version import __version__

if TYPE_CHECKING:
    from ganzoo.metrics.evaluate import evaluate
    from ganzoo.metrics.request import EvaluationRequest
    from ganzoo.training.loop import train
    from ganzoo.training.plan import make_plan

_LAZY = {"evaluate": "ganzoo.metrics.evaluate", "EvaluationRequest": "ganzoo.metrics.request",
         "make_plan": "ganzoo.training.plan", "train": "ganzoo.training.loop"}


def __getattr__(name: str) -> Any:
    """Imported on first use, so ``import ganzoo`` loads neither torchmetrics nor the engine."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def list_variants(pattern: str = "*") -> list[str]:
    """Names of the installed variants matching a shell-style ``pattern``."""
    return [name for name in get_registry().names("variant") if fnmatch.fnmatch(name, pattern)]


__all__ = ["EvaluationRequest", "GanzooError", "__version__", "evaluate", "get_registry", "list_variants",
           "load_generator", "make_plan", "train"]
