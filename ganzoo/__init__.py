"""ganzoo: every classic GAN variant on one engine, one benchmark harness, safe weights.

The public API::

    import ganzoo
    generator = ganzoo.load_generator("runs/mlp/generator.safetensors")
    images = generator.sample(64, seed=0)          # (64, C, H, W) in [-1, 1]
    result = ganzoo.evaluate(generator, "mnist-embedded", metrics=["fid", "coverage"])
    ganzoo.list_variants("*gan*")
"""

from __future__ import annotations

__version__ = "0.1.0"

import fnmatch
from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError
from ganzoo.hookspecs import hookimpl
from ganzoo.interfaces import Batch, Discriminator, Game, Generator, Loss, TrainingStrategy
from ganzoo.registry import get_registry
from ganzoo.specs import DatasetSpec, LossSpec, StrategySpec, VariantSpec
from ganzoo.weights import load_generator


if TYPE_CHECKING:
    from ganzoo.metrics.evaluate import evaluate


def __getattr__(name: str) -> Any:
    """``ganzoo.evaluate`` is imported on first use, so ``import ganzoo`` does not load torchmetrics."""
    if name == "evaluate":
        from ganzoo.metrics.evaluate import evaluate

        return evaluate
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def list_variants(pattern: str = "*") -> list[str]:
    """Names of the installed variants matching a shell-style ``pattern``."""
    return [name for name in get_registry().names("variant") if fnmatch.fnmatch(name, pattern)]


__all__ = [
    "Batch", "DatasetSpec", "Discriminator", "Game", "GanzooError", "Generator", "Loss", "LossSpec",
    "StrategySpec", "TrainingStrategy", "VariantSpec", "__version__", "evaluate", "get_registry", "hookimpl",
    "list_variants", "load_generator",
]
