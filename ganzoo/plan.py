"""Resolve a run once: config layers + registry -> a frozen ``RunPlan``.

A plan holds the validated config and, for every component it names, the registry entry (spec
and plugin) and the options that component's config model accepted. Everything after this
point (``build``, the training loop, ``config.json``, resume checks, ``ganzoo bench``) reads the
plan; nothing looks a name up in the registry again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ganzoo.config import ComponentConfig, TrainConfig, merge_layers, validate_model
from ganzoo.errors import ConfigError
from ganzoo.registry import Registered, Registry, get_registry
from ganzoo.specs import NoOptions


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
    """Everything a run is, resolved: what ``build(plan, device)`` turns into live objects."""

    config: TrainConfig
    variant: Choice
    loss: Choice
    strategy: Choice
    dataset: Choice
    callbacks: tuple[Choice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fully spelled-out config, defaults included: what ``config.json`` records."""
        data = self.config.model_dump(mode="json")
        data["model"] = self.variant.options.model_dump(mode="json")
        data["loss"]["options"] = self.loss.options.model_dump(mode="json")
        data["strategy"]["options"] = self.strategy.options.model_dump(mode="json")
        data["run"]["callbacks"] = [{"name": choice.name, "options": choice.options.model_dump(mode="json")}
                                    for choice in self.callbacks]
        return data


def make_plan(layers: list[dict[str, Any]], registry: Registry | None = None) -> RunPlan:
    """Merge ``layers`` (later wins) over the chosen variant's defaults, then validate everything."""
    registry = registry or get_registry()
    merged = merge_layers(*layers)
    variant = merged.get("variant")
    if not variant:
        raise ConfigError("no variant given; name one (e.g. `ganzoo train mlp`) or set `variant` in the config file")
    spec = registry.variant(str(variant))
    merged = merge_layers(dict(spec.defaults), merged)
    config = validate_model(TrainConfig, merged, "")
    return plan_for(config, registry)


def plan_for(config: TrainConfig, registry: Registry | None = None) -> RunPlan:
    """The plan of an already validated ``config``."""
    registry = registry or get_registry()
    return RunPlan(
        config=config,
        variant=_choose(registry, "variant", ComponentConfig(name=config.variant, options=config.model), "model"),
        loss=_choose(registry, "loss", config.loss, "loss.options"),
        strategy=_choose(registry, "strategy", config.strategy, "strategy.options"),
        dataset=Choice(registry.get("dataset", config.data.name), NoOptions()),
        callbacks=tuple(_choose(registry, "callback", chosen, f"run.callbacks[{index}].options")
                        for index, chosen in enumerate(config.run.callbacks)),
    )


def _choose(registry: Registry, kind: str, chosen: ComponentConfig, where: str) -> Choice:
    entry = registry.get(kind, chosen.name)
    return Choice(entry, validate_model(entry.spec.config_model, chosen.options, where))
