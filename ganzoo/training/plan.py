"""Resolve a run once: config layers + registry -> a frozen ``RunPlan``, then for its device.

A plan holds the validated config and, for every component it names, the registry entry (spec
and plugin) and the options that component's config model accepted. Everything after this
point (``build``, the training loop, ``config.json``, resume checks, ``ganzoo bench``) reads the
plan; nothing looks a name up in the registry again.

What depends on the device (the speed options ``run.speed`` leaves open, the precision mode) is
settled by ``RunPlan.for_device``, once, when the loop knows its device: the loop resolves
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from pydantic import BaseModel

from ganzoo.config import TrainConfig, merge_layers, validate_model
from ganzoo.core.options import ComponentConfig, DataConfig, NoOptions
from ganzoo.core.registry import Registered, Registry, get_registry
from ganzoo.core.specs import StrategySpec, VariantSpec
from ganzoo.errors import ConfigError
from ganzoo.runtime.precision import precision_note, resolve_precision
from ganzoo.runtime.speed import choose_speed


@dataclass(frozen=True)
class Choice:
    """One registered component a run uses, and its validated options."""

    entry: Registered
    options: BaseModel

    @property
    def name(self) -> str:
        return str(self.entry.spec.name)

    @property
    def spec(self) -> Any:
        return self.entry.spec


@dataclass(frozen=True)
class RunPlan:
    """Everything a run is, resolved: what ``build(plan, device)`` turns into live objects.

    ``loss`` is ``None`` exactly when the variant has no discriminator (``VariantSpec.adversarial``
    is false): its strategy holds the objective.
    """

    config: TrainConfig
    variant: Choice
    loss: Choice | None
    strategy: Choice
    dataset: Choice
    callbacks: tuple[Choice, ...] = ()
    augmentations: tuple[Registered, ...] = ()

    @property
    def components(self) -> list[tuple[str, Choice]]:
        """(role, choice) of the variant, loss (when there is one), strategy and dataset."""
        chosen = [("variant", self.variant), ("loss", self.loss), ("strategy", self.strategy),
                  ("dataset", self.dataset)]
        return [(role, choice) for role, choice in chosen if choice is not None]

    @property
    def variant_origin(self) -> str:
        """``'mlp' from ganzoo-mlp 0.2``: the variant and the plugin version that builds it, which a
        checkpoint records so that one that no longer fits can say what wrote it."""
        plugin = self.variant.entry.plugin
        return f"{self.variant.name!r} from {plugin.distribution} {plugin.version}"

    def describe_step(self) -> str:
        """``strategy 'r1' (ganzoo) with loss 'hinge'``: what runs one training step, for errors."""
        strategy = f"strategy {self.strategy.name!r} ({self.strategy.entry.plugin.distribution})"
        return strategy if self.loss is None else f"{strategy} with loss {self.loss.name!r}"

    def to_dict(self) -> dict[str, Any]:
        """The fully spelled-out config, defaults included: what ``config.json`` records."""
        data = self.config.model_dump(mode="json")
        data["model"] = self.variant.options.model_dump(mode="json")
        if self.loss is not None:
            data["loss"]["options"] = self.loss.options.model_dump(mode="json")
        data["strategy"]["options"] = self.strategy.options.model_dump(mode="json")
        data["run"]["callbacks"] = [{"name": choice.name, "options": choice.options.model_dump(mode="json")}
                                    for choice in self.callbacks]
        return data

    def for_device(self, device: torch.device, saved: dict[str, Any] | None = None) -> DevicePlan:
        """This plan made concrete for ``device``: every speed option ``run.speed`` decides, the
        precision mode, and the lines the run says about them at its start.

        ``saved`` is the config of the run being resumed: the choices it recorded are kept
        (``ganzoo.runtime.speed.choose_speed``), so a resumed run trains as it started.
        """
        speed = choose_speed(self.config, device, self.variant.spec.speed_family, saved)
        precision = resolve_precision(speed.config.run.precision, device)
        notes = [f"speed {speed.config.run.speed}: {speed.describe()}"]
        if (slow := precision_note(precision, device)) is not None:
            notes.append(slow)
        return DevicePlan(replace(self, config=speed.config), device, precision, tuple(notes))


@dataclass(frozen=True)
class DevicePlan:
    """A plan resolved for one device: what the loop trains, with nothing left to decide.

    ``plan.config`` holds concrete speed options (``channels_last``, ``compile``, ``precision``,
    ``optimizer.implementation``): exactly what ``config.json`` records and a resume compares.
    ``precision`` is the mode that runs: ``run.precision`` with an ``"auto"`` that an older run
    recorded resolved for ``device``.
    """

    plan: RunPlan
    device: torch.device
    precision: str
    notes: tuple[str, ...]


def make_plan(layers: list[dict[str, Any]], registry: Registry | None = None) -> RunPlan:
    """Merge ``layers`` (later wins) over the chosen variant's defaults, then validate everything."""
    registry = registry or get_registry()
    merged = merge_layers(*layers)
    variant = merged.get("variant")
    if not variant:
        raise ConfigError("no variant given; name one (e.g. `ganzoo train mlp`) or set `variant` in the config file")
    spec = registry.variant(str(variant))
    merged = merge_layers(dataset_defaults(merge_layers(dict(spec.defaults), merged), registry),
                          dict(spec.defaults), merged)
    config = validate_model(TrainConfig, merged, "")
    return plan_for(config, registry)


def dataset_defaults(merged: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """The ``[data]`` defaults of the dataset ``merged`` names, as the lowest layer: CelebA trains
    at 64x64 unless the variant (``dcgan-64`` says 64 anyway) or the user says otherwise."""
    data = merged.get("data")
    name = data.get("name", DataConfig.model_fields["name"].default) if isinstance(data, dict) else None
    if not isinstance(name, str) or name not in registry.names("dataset"):
        return {}  # no such dataset: building the plan says so, naming the known ones
    return {"data": dict(registry.dataset(name).defaults)}


def plan_for(config: TrainConfig, registry: Registry | None = None) -> RunPlan:
    """The plan of an already validated ``config``."""
    registry = registry or get_registry()
    variant = _choose(registry, "variant", ComponentConfig(name=config.variant, options=config.model), "model")
    strategy = registry.get("strategy", config.strategy.name)
    check_family(variant.spec, strategy.spec, config)
    return RunPlan(
        config=config,
        variant=variant,
        loss=None if config.loss is None else _choose(registry, "loss", config.loss, "loss.options"),
        strategy=_choose(registry, "strategy", config.strategy, "strategy.options"),
        dataset=Choice(registry.get("dataset", config.data.name), NoOptions()),
        callbacks=tuple(_choose(registry, "callback", chosen, f"run.callbacks[{index}].options")
                        for index, chosen in enumerate(config.run.callbacks)),
        augmentations=tuple(registry.get("augmentation", name) for name in config.augment.policy),
    )


def check_family(variant: VariantSpec, strategy: StrategySpec, config: TrainConfig) -> None:
    """A variant with a discriminator takes a loss and an adversarial strategy; one without (a
    diffusion model) takes neither, nor the settings that act on a discriminator. One line each."""
    name = variant.name
    if variant.adversarial:
        if not strategy.adversarial:
            raise ConfigError(f"strategy {strategy.name!r} trains variants without a discriminator, and variant "
                              f"{name!r} has one; use an adversarial strategy such as --strategy alternating")
        if config.loss is None:
            raise ConfigError(f"variant {name!r} trains against a discriminator and needs a loss; "
                              "name one with --loss (e.g. non-saturating)")
        return
    own = variant.defaults.get("strategy", {}).get("name")
    if strategy.adversarial:
        fix = f"use --strategy {own}" if own else "use a strategy for variants without one (see `ganzoo list`)"
        raise ConfigError(f"strategy {strategy.name!r} plays G against a discriminator, and variant {name!r} has "
                          f"none; {fix}")
    refused = [(config.loss is not None, f"loss {getattr(config.loss, 'name', '')!r} scores a discriminator's logits",
                f"drop --loss (strategy {strategy.name!r} holds the objective)"),
               (bool(config.augment.policy), "augment.policy augments the images a discriminator sees",
                "drop augment.policy"),
               (config.optimizer.d_lr is not None, "optimizer.d_lr is a discriminator's learning rate",
                "drop optimizer.d_lr and set optimizer.lr")]
    for given, what, fix in refused:
        if given:
            raise ConfigError(f"{what}, and variant {name!r} has no discriminator; {fix}")


def _choose(registry: Registry, kind: str, chosen: ComponentConfig, where: str) -> Choice:
    entry = registry.get(kind, chosen.name)
    return Choice(entry, validate_model(entry.spec.config_model, chosen.options, where))
