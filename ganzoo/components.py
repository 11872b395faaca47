"""Turn a validated config into live objects: dataset, models, loss, strategy, optimisers.

Shared by training, evaluation and benchmarking, so every entry point builds a variant the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import BaseModel

from ganzoo.config import OptimizerConfig, TrainConfig, merge_layers, validate_model
from ganzoo.data import ImageDataset
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.interfaces import Discriminator, Generator, Loss, TrainingStrategy
from ganzoo.registry import Registry
from ganzoo.specs import VariantSpec


@dataclass(frozen=True)
class ResolvedConfig:
    """A ``TrainConfig`` whose component options were validated by their plugins' models."""

    config: TrainConfig
    model_options: BaseModel
    loss_options: BaseModel
    strategy_options: BaseModel

    def to_dict(self) -> dict[str, Any]:
        """The fully spelled-out config, defaults included: what ``config.json`` records."""
        data = self.config.model_dump(mode="json")
        data["model"] = self.model_options.model_dump(mode="json")
        data["loss"]["options"] = self.loss_options.model_dump(mode="json")
        data["strategy"]["options"] = self.strategy_options.model_dump(mode="json")
        return data


def build_config(layers: list[dict[str, Any]], registry: Registry) -> ResolvedConfig:
    """Merge ``layers`` over the chosen variant's defaults, then validate everything."""
    merged = merge_layers(*layers)
    variant = merged.get("variant")
    if not variant:
        raise ConfigError("no variant given; name one (e.g. `ganzoo train mlp`) or set `variant` in the config file")
    spec = registry.variant(str(variant))
    merged = merge_layers(dict(spec.defaults), merged)
    config = validate_model(TrainConfig, merged, "")
    return resolve(config, registry)


def resolve(config: TrainConfig, registry: Registry) -> ResolvedConfig:
    spec = registry.variant(config.variant)
    return ResolvedConfig(
        config=config,
        model_options=validate_model(spec.config_model, config.model, "model"),
        loss_options=validate_model(registry.loss(config.loss.name).config_model, config.loss.options, "loss.options"),
        strategy_options=validate_model(registry.strategy(config.strategy.name).config_model,
                                        config.strategy.options, "strategy.options"),
    )


def build_dataset(config: TrainConfig, registry: Registry) -> ImageDataset:
    spec = registry.dataset(config.data.name)
    return _plugin_call(lambda: spec.factory(config.data), f"dataset {spec.name!r}")


def build_models(spec: VariantSpec, options: BaseModel, dataset: ImageDataset) -> tuple[Generator, Discriminator]:
    if spec.conditional and dataset.num_classes is None:
        raise ConfigError(f"variant {spec.name!r} is conditional but dataset {dataset.name!r} has no labels; "
                          "use a labelled dataset or an unconditional variant")
    num_classes = dataset.num_classes if spec.conditional else None
    generator = _plugin_call(lambda: spec.build_generator(options, dataset.image_shape, num_classes),
                             f"variant {spec.name!r}")
    discriminator = _plugin_call(lambda: spec.build_discriminator(options, dataset.image_shape, num_classes),
                                 f"variant {spec.name!r}")
    return generator, discriminator


def build_loss(resolved: ResolvedConfig, registry: Registry) -> Loss:
    spec = registry.loss(resolved.config.loss.name)
    return _plugin_call(lambda: spec.factory(resolved.loss_options), f"loss {spec.name!r}")


def build_strategy(resolved: ResolvedConfig, registry: Registry) -> TrainingStrategy:
    spec = registry.strategy(resolved.config.strategy.name)
    return _plugin_call(lambda: spec.factory(resolved.strategy_options), f"strategy {spec.name!r}")


def build_optimizer(config: OptimizerConfig, module: torch.nn.Module, lr: float,
                    device: torch.device) -> torch.optim.Optimizer:
    """One optimiser; ``implementation`` picks torch's fused, foreach or for-loop kernels."""
    implementation: dict[str, Any] = {}
    if config.implementation == "fused":
        implementation["fused"] = True
    elif config.implementation == "foreach":
        implementation["foreach"] = True
    elif config.implementation == "for-loop":
        implementation["foreach"] = False
    parameters = list(module.parameters())
    if config.name in ("adam", "adamw"):
        optimizer_class = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
        return optimizer_class(parameters, lr=lr, betas=config.betas, weight_decay=config.weight_decay,
                               **implementation)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay, **implementation)
    return torch.optim.SGD(parameters, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay,
                           **implementation)


def _plugin_call(build: Any, what: str) -> Any:
    """Run plugin code; its own ``GanzooError`` passes through, anything else is named."""
    try:
        return build()
    except GanzooError:
        raise
    except (ValueError, TypeError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{what} could not be built: {first_line}") from None
