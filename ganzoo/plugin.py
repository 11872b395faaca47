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
* datasets: ``ImageDataset``, ``load_image_files``, ``TrainingImages`` (what a dataset factory
  returns), ``DataConfig``, ``Batch``
* callbacks: ``Callback``, and ``RunView`` (the read-only view of the run a callback is handed;
  ``TrainingRun`` is the same protocol under its earlier name)
* layers: ``spectrally_normalised`` (spectral norm on every Linear/Conv/Embedding weight of a module)
* conditional models: ``required_classes`` (the classes to build with: a labelled dataset, at
  least 2) and ``required_labels`` (the labels a forward pass needs), each one ``ConfigError`` line
"""

from __future__ import annotations

from ganzoo.core.callback import Callback, RunView
from ganzoo.core.conditioning import required_classes, required_labels
from ganzoo.core.hookspecs import hookimpl
from ganzoo.core.interfaces import (
                                    Batch,
                                    Discriminator,
                                    Game,
                                    Generator,
                                    ImageShape,
                                    Loss,
                                    SoloGame,
                                    TrainingImages,
                                    TrainingStrategy,
                                    unaugmented,
)
from ganzoo.core.layers import spectrally_normalised
from ganzoo.core.options import DataConfig, NoOptions, Options
from ganzoo.core.specs import AugmentationSpec, CallbackSpec, DatasetSpec, LossSpec, StrategySpec, VariantSpec
from ganzoo.core.steps import (
                                    AlternatingOptions,
                                    AlternatingStrategy,
                                    discriminator_update,
                                    frozen,
                                    generator_update,
                                    r1_penalty,
)
from ganzoo.data.dataset import ImageDataset
from ganzoo.data.files import load_image_files
from ganzoo.errors import ConfigError, DataError, GanzooError

TrainingRun = RunView
"""The name callbacks annotated ``run`` with before ``RunView``; the same protocol."""


__all__ = [
    "AlternatingOptions", "AlternatingStrategy", "AugmentationSpec", "Batch", "Callback", "CallbackSpec", "ConfigError", "DataConfig",
    "DataError", "DatasetSpec", "Discriminator", "Game", "GanzooError", "Generator", "ImageDataset", "ImageShape",
    "Loss", "LossSpec", "NoOptions", "Options", "RunView", "SoloGame", "StrategySpec", "TrainingImages", "TrainingRun", "TrainingStrategy", "VariantSpec",
    "discriminator_update", "frozen", "generator_update", "hookimpl", "load_image_files", "r1_penalty",
    "required_classes", "required_labels", "spectrally_normalised", "unaugmented",
]
