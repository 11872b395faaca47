"""The plugin manager and the registry of named components it feeds.

Plugins are discovered through the ``ganzoo`` entry-point group, exactly as third-party ones
are; ganzoo's own losses, strategies and datasets arrive the same way. Loading is contained:
a plugin that fails to import, raises in a hook, returns the wrong type or claims a name that is
already taken is recorded as a ``PluginProblem`` and everything else keeps working.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.specs import SPEC_TYPES, DatasetSpec, LossSpec, StrategySpec, VariantSpec

ENTRY_POINT_GROUP = "ganzoo"
_HOOK_FOR_KIND = {
    "variant": "ganzoo_register_variants",
    "loss": "ganzoo_register_losses",
    "strategy": "ganzoo_register_strategies",
    "dataset": "ganzoo_register_datasets",
}


@dataclass(frozen=True)
class PluginInfo:
    """Where a component came from: the entry-point name and the distribution behind it."""

    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class Registered:
    kind: str
    spec: Any
    plugin: PluginInfo


@dataclass(frozen=True)
class PluginProblem:
    """Why one plugin (or one of its hooks) contributes nothing; the rest of the registry works."""

    plugin: PluginInfo
    message: str
    fix: str | None = None  # what to do; by default, fix or uninstall the plugin's distribution

    def __str__(self) -> str:
        fix = self.fix or f"fix or uninstall {self.plugin.distribution}"
        return f"plugin {self.plugin.name!r} ({self.plugin.distribution} {self.plugin.version}): {self.message}; {fix}"


class Registry:
    """Named variants, losses, strategies and datasets, with where each came from."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Registered]] = {kind: {} for kind in SPEC_TYPES}
        self.conflicts: dict[tuple[str, str], list[PluginInfo]] = {}
        self.problems: list[PluginProblem] = []

    def add(self, kind: str, spec: Any, plugin: PluginInfo) -> None:
        """Register ``spec``; a taken name becomes a conflict that names both plugins."""
        table = self.components[kind]
        key = (kind, spec.name)
        if key in self.conflicts:
            self.conflicts[key].append(plugin)
        elif spec.name in table:
            first = table.pop(spec.name).plugin
            self.conflicts[key] = [first, plugin]
        else:
            table[spec.name] = Registered(kind, spec, plugin)
            return
        names = " and ".join(sorted(repr(p.distribution) for p in self.conflicts[key]))
        self.problems.append(PluginProblem(plugin, f"{kind} {spec.name!r} is registered by both {names}",
                                           fix="uninstall one of them"))

    def get(self, kind: str, name: str) -> Registered:
        if (kind, name) in self.conflicts:
            names = " and ".join(sorted(repr(p.distribution) for p in self.conflicts[(kind, name)]))
            raise PluginError(f"{kind} {name!r} is registered by both {names}; uninstall one of them")
        try:
            return self.components[kind][name]
        except KeyError:
            raise UnknownNameError(kind, name, self.components[kind], broken=[p.plugin.name for p in self.problems]) from None

    def variant(self, name: str) -> VariantSpec:
        return self.get("variant", name).spec

    def loss(self, name: str) -> LossSpec:
        return self.get("loss", name).spec

    def strategy(self, name: str) -> StrategySpec:
        return self.get("strategy", name).spec

    def dataset(self, name: str) -> DatasetSpec:
        return self.get("dataset", name).spec

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])


def create_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def build_registry(extra_plugins: Iterable[tuple[Any, PluginInfo]] = (),
                   *, entry_points: bool = True) -> tuple[pluggy.PluginManager, Registry]:
    """Load every ``ganzoo`` entry point (and ``extra_plugins``) and collect their specs."""
    pm = create_plugin_manager()
    registry = Registry()
    infos: dict[str, PluginInfo] = {}
    candidates = list(_entry_point_plugins(registry)) if entry_points else []
    for plugin, info in [*candidates, *extra_plugins]:
        try:
            pm.register(plugin, name=info.name)
        except Exception as exc:  # pluggy validates hook names and signatures here
            registry.problems.append(PluginProblem(info, f"cannot be registered: {_why(exc)}"))
            continue
        infos[info.name] = info
    for kind, hook_name in _HOOK_FOR_KIND.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = infos[impl.plugin_name]
            for spec in _call_hook(impl, kind, info, registry):
                registry.add(kind, spec, info)
    return pm, registry


def _entry_point_plugins(registry: Registry) -> Iterable[tuple[Any, PluginInfo]]:
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        info = PluginInfo(entry_point.name, dist.name if dist else entry_point.value,
                          dist.version if dist else "unknown")
        try:
            yield entry_point.load(), info
        except Exception as exc:
            registry.problems.append(PluginProblem(info, f"failed to import {entry_point.value!r}: {_why(exc)}"))


def _call_hook(impl: pluggy.HookImpl, kind: str, info: PluginInfo, registry: Registry) -> list[Any]:
    try:
        result = impl.function()
    except Exception as exc:
        registry.problems.append(PluginProblem(info, f"{impl.function.__name__}() raised {_why(exc)}"))
        return []
    expected = SPEC_TYPES[kind]
    if not isinstance(result, (list, tuple)) or not all(isinstance(s, expected) for s in result):
        registry.problems.append(PluginProblem(
            info, f"{impl.function.__name__}() must return a list of {expected.__name__}, "
                       f"got {_describe(result)}"))
        return []
    return list(result)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {', '.join(sorted({type(v).__name__ for v in value})) or 'nothing'}"
    return type(value).__name__


_REGISTRY: Registry | None = None
_PLUGIN_MANAGER: pluggy.PluginManager | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use (the only global state in ganzoo)."""
    global _REGISTRY, _PLUGIN_MANAGER
    if _REGISTRY is None:
        _PLUGIN_MANAGER, _REGISTRY = build_registry()
    return _REGISTRY


def reset_registry() -> None:
    """Forget the cached registry so the next ``get_registry`` rediscovers plugins."""
    global _REGISTRY, _PLUGIN_MANAGER
    _REGISTRY = _PLUGIN_MANAGER = None
