"""What plugins hand to the registry: named factories with a config model and a description.

Hooks return lists of these specs (data, not behaviour), in the pluggy tradition. Each factory
receives its validated pydantic config, so a plugin's options are checked before anything is
built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor

from ganzoo.core.callback import Callback
from ganzoo.core.interfaces import Discriminator, Generator, ImageShape, Loss, TrainingImages, TrainingStrategy
from ganzoo.core.options import DataConfig, NoOptions


@dataclass(frozen=True)
class VariantSpec:
    """A model family: how to build its generator and, for a GAN, its discriminator.

    ``defaults`` is a partial training config (``loss``, ``strategy``, ``optimizer`` ...) that
    the variant recommends; user files and flags override it. A family without a discriminator
    (a diffusion model) leaves ``build_discriminator`` out: it is not ``adversarial``, takes no
    loss, and trains with a strategy registered with ``StrategySpec(adversarial=False)`` on a
    ``SoloGame``.
    """

    name: str
    build_generator: Callable[[Any, ImageShape, int | None], Generator]
    build_discriminator: Callable[[Any, ImageShape, int | None], Discriminator] | None = None
    config_model: type[BaseModel] = NoOptions
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    conditional: bool = False
    family: str = ""
    """The architecture family ``run.speed = auto`` looks up in ``ganzoo.runtime.speed.FAST_PATHS``
    (``dcgan`` for every variant built on the DCGAN networks); default: the variant's name."""

    @property
    def speed_family(self) -> str:
        return self.family or self.name

    @property
    def adversarial(self) -> bool:
        """Whether the family trains its generator against a discriminator."""
        return self.build_discriminator is not None


@dataclass(frozen=True)
class LossSpec:
    name: str
    factory: Callable[[Any], Loss]
    config_model: type[BaseModel] = NoOptions
    description: str = ""


@dataclass(frozen=True)
class StrategySpec:
    """One optimisation step. ``adversarial`` strategies play G against D on a ``Game`` and train
    the adversarial variants; the others train the variants without a discriminator, on a ``SoloGame``."""

    name: str
    factory: Callable[[Any], TrainingStrategy]
    config_model: type[BaseModel] = NoOptions
    description: str = ""
    adversarial: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``factory(data config)`` loads it. ``defaults`` is a partial ``[data]`` section the
    dataset recommends (CelebA's 64x64); the variant's defaults and the user's settings override it."""

    name: str
    factory: Callable[[DataConfig], TrainingImages]
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackSpec:
    """Something that watches training (a logger, a probe), selected by a run's ``run.callbacks``."""

    name: str
    factory: Callable[[Any], Callback]
    config_model: type[BaseModel] = NoOptions
    description: str = ""


@dataclass(frozen=True)
class AugmentationSpec:
    """A differentiable augmentation of the images D sees, selected by a run's ``augment.policy``.

    ``function(images, rng)`` takes a (B, C, H, W) batch in [-1, 1] and returns one of the same
    shape, differentiably (G's gradients pass through it), drawing every random number from
    ``rng``, a ``torch.Generator`` on the images' device (so that resume is exact).
    """

    name: str
    function: Callable[[Tensor, torch.Generator], Tensor]
    description: str = ""
