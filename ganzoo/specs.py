"""What plugins hand to the registry: named factories with a config model and a description.

Hooks return lists of these specs (data, not behaviour), in the pluggy tradition. Each factory
receives its validated pydantic config, so a plugin's options are checked before anything is
built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ganzoo.interfaces import Discriminator, Generator, ImageShape, Loss, TrainingStrategy

if TYPE_CHECKING:
    from ganzoo.config import DataConfig
    from ganzoo.data import ImageDataset
    from ganzoo.training.callbacks import Callback


class NoOptions(BaseModel):
    """Config model for components that take no options; rejects any key given."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class VariantSpec:
    """A GAN architecture family: how to build its generator and discriminator.

    ``defaults`` is a partial training config (``loss``, ``strategy``, ``optimizer`` ...) that
    the variant recommends; user files and flags override it.
    """

    name: str
    build_generator: Callable[[Any, ImageShape, int | None], Generator]
    build_discriminator: Callable[[Any, ImageShape, int | None], Discriminator]
    config_model: type[BaseModel] = NoOptions
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    conditional: bool = False


@dataclass(frozen=True)
class LossSpec:
    name: str
    factory: Callable[[Any], Loss]
    config_model: type[BaseModel] = NoOptions
    description: str = ""


@dataclass(frozen=True)
class StrategySpec:
    name: str
    factory: Callable[[Any], TrainingStrategy]
    config_model: type[BaseModel] = NoOptions
    description: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    factory: Callable[[DataConfig], ImageDataset]
    description: str = ""


@dataclass(frozen=True)
class CallbackSpec:
    """Something that watches training (a logger, a probe), selected by a run's ``run.callbacks``."""

    name: str
    factory: Callable[[Any], Callback]
    config_model: type[BaseModel] = NoOptions
    description: str = ""


SPEC_TYPES: dict[str, type] = {
    "variant": VariantSpec,
    "loss": LossSpec,
    "strategy": StrategySpec,
    "dataset": DatasetSpec,
    "callback": CallbackSpec,
}
