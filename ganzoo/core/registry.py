"""The plugin manager and the registry of named components it feeds.

Plugins are discovered through the ``ganzoo`` entry-point group, exactly as third-party ones
are; ganzoo's own losses, strategies and datasets arrive the same way. Loading is contained:
a plugin that fails to import, misnames a hook, raises in a hook or returns the wrong type is
recorded as a ``PluginProblem`` and everything else keeps working. A name is never taken away:
ganzoo's own plugins (``BUILTIN_PLUGINS``: the core's and every one that ships in ``plugins/``)
register first, the rest in order of distribution name, and a later plugin claiming a taken name
is reported and ignored, so installing a plugin cannot break ``ganzoo train ddpm`` or the loading
of weights trained with a built-in variant, whatever the newcomer's distribution is called.
"""

from __future__ import annotations

import difflib
import importlib.metadata as importlib_metadata
import inspect
import re
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from ganzoo.core import hookspecs
from ganzoo.core.specs import AugmentationSpec, CallbackSpec, DatasetSpec, LossSpec, StrategySpec, VariantSpec
from ganzoo.errors import UnknownNameError

ENTRY_POINT_GROUP = "ganzoo"


@dataclass(frozen=True)
class Kind:
    """One kind of component: the spec type plugins register it with, and the hookspec that
    returns those specs (the function itself, so a misspelt hook cannot get into the table)."""

    spec_type: type
    hook: Callable[[], Any]

    @property
    def hook_name(self) -> str:
        return self.hook.__name__

    @property
    def plural(self) -> str:
        """``variants``, ``strategies``: what the hook's name ends with (``ganzoo_register_strategies``)."""
        return self.hook_name.removeprefix("ganzoo_register_")


KINDS: dict[str, Kind] = {
    "variant": Kind(VariantSpec, hookspecs.ganzoo_register_variants),
    "loss": Kind(LossSpec, hookspecs.ganzoo_register_losses),
    "strategy": Kind(StrategySpec, hookspecs.ganzoo_register_strategies),
    "dataset": Kind(DatasetSpec, hookspecs.ganzoo_register_datasets),
    "callback": Kind(CallbackSpec, hookspecs.ganzoo_register_callbacks),
    "augmentation": Kind(AugmentationSpec, hookspecs.ganzoo_register_augmentations),
}
"""Every kind of component, in the order plugins' specs are collected and ``ganzoo list`` shows
them: the one table of kinds, which the registry, the hook names and the listing read."""
HOOK_NAMES = tuple(kind.hook_name for kind in KINDS.values())
BUILTIN_PLUGINS = ("ganzoo.builtin", "ganzoo_mlp.plugin", "ganzoo_dcgan.plugin", "ganzoo_wgan.plugin",
                   "ganzoo_conditional.plugin", "ganzoo_resnet.plugin", "ganzoo_diffusion.plugin")
"""The entry-point targets of ganzoo's own plugins, in the order they register, before any other:
known by the module an entry point loads, not by a distribution name another project could take.
A test checks that this is every plugin in ``plugins/``."""


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
    """Why one plugin (or one of its hooks or specs) contributes nothing; the rest of the registry works."""

    plugin: PluginInfo
    message: str
    fix: str | None = None  # what to do; by default, fix or uninstall the plugin's distribution
    hides_names: bool = True  # False for an ignored duplicate: the name is there, from the first plugin

    def __str__(self) -> str:
        fix = self.fix or f"fix or uninstall {self.plugin.distribution}"
        return f"plugin {self.plugin.name!r} ({self.plugin.distribution} {self.plugin.version}): {self.message}; {fix}"


class Registry:
    """Named variants, losses, strategies, datasets, callbacks and augmentations, with where each came from."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        self.problems: list[PluginProblem] = []

    def add(self, kind: str, spec: Any, plugin: PluginInfo) -> None:
        """Register ``spec``; the first registrant keeps a name, a later one is reported and ignored."""
        first = self.components[kind].get(spec.name)
        if first is None:
            self.components[kind][spec.name] = Registered(kind, spec, plugin)
            return
        dist = plugin.distribution
        self.problems.append(PluginProblem(
            plugin, f"{kind} {spec.name!r} is already provided by {first.plugin.distribution} {first.plugin.version}, "
                    "so this plugin's is ignored", fix=f"rename it in {dist} or uninstall {dist}", hides_names=False))

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self.components[kind][name]
        except KeyError:
            broken = {p.plugin.name for p in self.problems if p.hides_names}
            raise UnknownNameError(kind, name, self.components[kind], broken=broken) from None

    def variant(self, name: str) -> VariantSpec:
        return self.get("variant", name).spec

    def loss(self, name: str) -> LossSpec:
        return self.get("loss", name).spec

    def strategy(self, name: str) -> StrategySpec:
        return self.get("strategy", name).spec

    def dataset(self, name: str) -> DatasetSpec:
        return self.get("dataset", name).spec

    def callback(self, name: str) -> CallbackSpec:
        return self.get("callback", name).spec

    def augmentation(self, name: str) -> AugmentationSpec:
        return self.get("augmentation", name).spec

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])


def create_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def build_registry(extra_plugins: Iterable[tuple[Any, PluginInfo]] = (),
                   *, entry_points: bool = True) -> tuple[pluggy.PluginManager, Registry]:
    """Load every ``ganzoo`` entry point (built-ins first), then ``extra_plugins``, and collect their specs."""
    pm = create_plugin_manager()
    registry = Registry()
    with UserInterrupts() as interrupts:  # a plugin cannot end the process, a real Ctrl+C still can
        candidates = list(_entry_point_plugins(registry, interrupts)) if entry_points else []
        _collect(pm, registry, [*candidates, *extra_plugins], interrupts)
    return pm, registry


def _collect(pm: pluggy.PluginManager, registry: Registry, plugins: list[tuple[Any, PluginInfo]],
             interrupts: UserInterrupts) -> None:
    """Register ``plugins`` in order and file the specs each hook returns."""
    order: dict[str, int] = {}
    infos: dict[str, PluginInfo] = {}
    for plugin, info in plugins:
        if _register(pm, plugin, info, registry):
            order[info.name], infos[info.name] = len(order), info
    for kind, entry in KINDS.items():
        # Registration order, not pluggy's call order (which tryfirst/trylast could change).
        for impl in sorted(getattr(pm.hook, entry.hook_name).get_hookimpls(), key=lambda i: order[i.plugin_name]):
            info = infos[impl.plugin_name]
            for spec in _call_hook(impl, kind, info, registry, interrupts):
                registry.add(kind, spec, info)


def _register(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo, registry: Registry) -> bool:
    """Register ``plugin``; one with a hook ganzoo does not know is reported and left out whole."""
    try:
        pm.register(plugin, name=info.name)
    except Exception as exc:  # pluggy validates hook signatures here
        registry.problems.append(PluginProblem(info, f"cannot be registered: {_why(exc)}"))
        return False
    problems = [*_unknown_hooks(pm, plugin, info), *_unmarked_hooks(pm, plugin, info)]
    if problems:
        pm.unregister(plugin)
        registry.problems.extend(problems)
    return not problems


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> list[PluginProblem]:
    """``@hookimpl`` functions without a hookspec (pluggy would never call them), unless marked optional."""
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        own = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
        if caller.spec is None and not all(impl.optionalhook for impl in own):
            problems.append(PluginProblem(info, f"unknown hook {caller.name!r}{_closest_hook(caller.name)}"))
    return problems


def _unmarked_hooks(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> list[PluginProblem]:
    """``ganzoo_*`` functions pluggy skipped: a forgotten ``@hookimpl``, perhaps with a typo too."""
    problems = []
    for name in dir(plugin):
        if not name.startswith("ganzoo_") or pm.parse_hookimpl_opts(plugin, name) is not None:
            continue
        value = inspect.getattr_static(plugin, name, None)
        if not (inspect.isroutine(value) or isinstance(value, (staticmethod, classmethod))):
            continue
        if name in HOOK_NAMES:
            problems.append(PluginProblem(info, f"{name} is not marked with @hookimpl",
                                          fix=f"decorate it with @hookimpl from ganzoo.plugin, or uninstall "
                                              f"{info.distribution}"))
        else:
            problems.append(PluginProblem(info, f"unknown hook {name!r}{_closest_hook(name)}"))
    return problems


def _closest_hook(name: str) -> str:
    close = difflib.get_close_matches(name, HOOK_NAMES, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (ganzoo's hooks are {', '.join(HOOK_NAMES)})"


def _entry_point_plugins(registry: Registry, interrupts: UserInterrupts) -> Iterable[tuple[Any, PluginInfo]]:
    """Every entry point, loaded in a fixed order: ganzoo's own, then the rest by distribution name."""
    found = []
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        info = PluginInfo(entry_point.name, dist.name if dist else entry_point.value,
                          dist.version if dist else "unknown")
        found.append((_load_order(entry_point.value, info), entry_point, info))
    for _, entry_point, info in sorted(found, key=lambda item: item[0]):
        try:
            yield entry_point.load(), info
        except BaseException as exc:  # SystemExit, a KeyboardInterrupt of its own: contained too
            interrupts.reraise_if_from_user(exc)
            registry.problems.append(PluginProblem(info, f"failed to import {entry_point.value!r}: {_why(exc)}"))


def _load_order(target: str, info: PluginInfo) -> tuple[int, str, str, str]:
    """Built-ins first, in ``BUILTIN_PLUGINS`` order; then the rest by distribution name."""
    builtin = BUILTIN_PLUGINS.index(target) if target in BUILTIN_PLUGINS else len(BUILTIN_PLUGINS)
    return builtin, _canonical(info.distribution), info.name, target


def _canonical(distribution: str) -> str:
    """A distribution name as packaging compares them (PEP 503): ``Ganzoo_MLP`` is ``ganzoo-mlp``."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _call_hook(impl: pluggy.HookImpl, kind: str, info: PluginInfo, registry: Registry,
               interrupts: UserInterrupts) -> list[Any]:
    try:
        result = impl.function()
    except BaseException as exc:
        interrupts.reraise_if_from_user(exc)
        registry.problems.append(PluginProblem(info, f"{impl.function.__name__}() raised {_why(exc)}"))
        return []
    expected = KINDS[kind].spec_type
    if not isinstance(result, (list, tuple)) or not all(isinstance(s, expected) for s in result):
        registry.problems.append(PluginProblem(
            info, f"{impl.function.__name__}() must return a list of {expected.__name__}, "
                       f"got {_describe(result)}"))
        return []
    return list(result)


class UserInterrupts:
    """While plugin code runs, records a real SIGINT (Ctrl+C), so that a ``KeyboardInterrupt`` a
    plugin raises itself, like its ``sys.exit``, is contained as its failure, while the user's
    own Ctrl+C still stops ganzoo. Outside the main thread no handler can be set: every
    ``KeyboardInterrupt`` then counts as the user's."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._installed = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> UserInterrupts:
        if self._installed:
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _record(self, signum: int, frame: Any) -> None:
        self.received = True
        raise KeyboardInterrupt

    def reraise_if_from_user(self, exc: BaseException) -> None:
        """Re-raise ``exc`` when it is the user's Ctrl+C; anything else a plugin raised is its failure."""
        if isinstance(exc, KeyboardInterrupt) and (self.received or not self._installed):
            raise exc


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
