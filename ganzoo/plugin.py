"""The stable surface for plugin authors: everything a plugin needs, and nothing else.

Import from here and only from here (``from ganzoo.plugin import ...``); every other ``ganzoo.*``
module is internal and may change between releases. The built-in plugins follow the same rule,
and a test holds them to it.

* hooks: ``hookimpl``, and the specs the ``ganzoo_register_*`` hooks return
* the four interfaces ``Generator``, ``Discriminator``, ``Loss``, ``TrainingStrategy``, and what a
  step works on: ``Game`` (G against D), ``SoloGame`` (a variant without a discriminator),
  ``Batch``, ``ImageShape``
* options: ``Options`` (the base of a component's pydantic config model), ``NoOptions``
* errors: ``ConfigError``, ``DataError``, ``GanzooError``
* step building blocks: ``AlternatingStrategy`` (the template), ``AlternatingOptions``,
  ``discriminator_update``, ``generator_update``, ``frozen``, ``r1_penalty``, and ``unaugmented``
  (``Game.augment`` without a policy, the default augmentation of a penalty helper)
* datasets: ``ImageDataset``, ``DataConfig``, ``Batch``
* callbacks: ``Callback``, and ``TrainingRun`` (what a callback is handed)
* layers: ``spectrally_normalised`` (spectral norm on every Linear/Conv/Embedding weight of a module)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.config import DataConfig
from ganzoo.config import StrictModel as Options
from ganzoo.data import ImageDataset
from ganzoo.errors import ConfigError, DataError, GanzooError
from ganzoo.file_datasets import load_image_files
from ganzoo.hookspecs import hookimpl
from ganzoo.interfaces import (Batch, Discriminator, Game, Generator, ImageShape, Loss, SoloGame, TrainingStrategy,
                               unaugmented)
from ganzoo.layers import spectrally_normalised
from ganzoo.specs import AugmentationSpec, CallbackSpec, DatasetSpec, LossSpec, NoOptions, StrategySpec, VariantSpec
from ganzoo.strategies import (AlternatingOptions, AlternatingStrategy, discriminator_update, frozen,
                               generator_update, r1_penalty)
from ganzoo.training.callbacks import Callback

if TYPE_CHECKING:
    from ganzoo.training.loop import TrainingRun


def __getattr__(name: str) -> Any:
    """``TrainingRun`` is imported on use: the loop pulls in the whole engine."""
    if name == "TrainingRun":
        from ganzoo.training.loop import TrainingRun

        return TrainingRun
    raise AttributeError(f"module 'ganzoo.plugin' has no attribute {name!r}")


__all__ = [
    "AlternatingOptions", "AlternatingStrategy", "AugmentationSpec", "Batch", "Callback", "CallbackSpec", "ConfigError", "DataConfig",
    "DataError", "DatasetSpec", "Discriminator", "Game", "GanzooError", "Generator", "ImageDataset", "ImageShape",
    "Loss", "LossSpec", "NoOptions", "Options", "SoloGame", "StrategySpec", "TrainingRun", "TrainingStrategy", "VariantSpec",
    "discriminator_update", "frozen", "generator_update", "hookimpl", "load_image_files", "r1_penalty",
    "spectrally_normalised", "unaugmented",
]
