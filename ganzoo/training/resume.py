"""The resume rules: which settings a ``--resume`` may change, all of them here.

A resumed run continues the same run bit for bit, so ``check_resumable`` refuses a config that
would train something else, naming the first setting that changed with both values:

- The sections that say what is trained (``IDENTITY_SECTIONS``: variant, model, loss, strategy,
  data, optimizer, ema, augment) must be equal, setting by setting.
- How the data is held and read (``DATA_SETTINGS_FREE_ON_RESUME``) may change: streamed or in
  memory, with or without a cache, both give the same batches in the same order.
- A run saved before ``ema`` or ``augment`` (or some of their settings) existed trained with their
  defaults (``SECTIONS_ADDED_LATER``), so its saved config is read with those filled in.
- Of ``run``, the settings that change the trajectory (``RESUME_FIXED_RUN_SETTINGS``: seed,
  batch size, precision) must be equal; the rest (epochs, budgets, logging, sample, checkpoint and
  evaluation cadence, device, speed options, callbacks) may change.

The speed options a resumed run left open are the ones it recorded (``choose_speed`` keeps them
when ``RunPlan.for_device`` is given the saved config), so a resume with the same flags passes
this check even when the speed table has changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ganzoo.config import TrainConfig
from ganzoo.errors import ConfigError
from ganzoo.training.plan import RunPlan

IDENTITY_SECTIONS = ("variant", "model", "loss", "strategy", "data", "optimizer", "ema", "augment")
"""Sections that define what is trained; a resumed run must not change them."""

RESUME_FIXED_RUN_SETTINGS = ("seed", "batch_size", "precision")
"""``run`` settings that change the trajectory; the rest (epochs, budgets, logging, checkpoint and
evaluation cadence, device, speed options) may change when a run is resumed."""

SECTIONS_ADDED_LATER = ("ema", "augment")
"""Sections a run saved by an older ganzoo may lack: it trained with their defaults (off)."""

DATA_SETTINGS_FREE_ON_RESUME = ("stream", "memory_budget_mb", "workers", "cache_dir")
"""How the data is held and read, not what it is: both paths give the same batches."""


def check_resumable(saved: Mapping[str, Any], plan: RunPlan, root: Path) -> None:
    """Refuse to resume the run in ``root`` (its ``saved`` config) with ``plan`` when that would not
    continue the same run, naming the first changed setting. ``plan`` is the one resolved for the
    device (``RunPlan.for_device``), whose speed options are concrete as ``config.json`` records them."""
    recorded, requested = _as_it_ran(saved), _without_free_data_settings(plan.to_dict())
    if changed := changed_settings(recorded, requested):
        first, more = changed[0], _more(changed)
        raise ConfigError(f"cannot resume {str(root)!r} with different settings: {first} was "
                          f"{_setting(recorded, first)!r}, now {_setting(requested, first)!r}{more}; resume with the "
                          "original settings (epochs, budgets and logging may change), or start a new run with "
                          "another --out")


def check_checkpoint_is_the_runs(saved: Mapping[str, Any], written_with: Mapping[str, Any], path: Path) -> None:
    """Refuse a checkpoint that another run wrote (copied in from elsewhere): the config it
    carries (``written_with``) must be the run's own (``saved``, its ``config.json``) by the same
    rules as a resume, or the run would go on with another seed or model while ``config.json``
    says otherwise."""
    theirs, ours = _as_it_ran(written_with), _as_it_ran(saved)
    if changed := changed_settings(theirs, ours):
        first, more = changed[0], _more(changed)
        raise ConfigError(f"checkpoint {str(path)!r} is not this run's: it was written with {first} "
                          f"{_setting(theirs, first)!r}, config.json has {_setting(ours, first)!r}{more}; put back "
                          "the run's own checkpoint, or start a new run with another --out (or --overwrite)")


def changed_settings(recorded: Mapping[str, Any], requested: Mapping[str, Any]) -> list[str]:
    """Dotted names of the settings that make ``requested`` another run than ``recorded``: the
    identity sections, then the trajectory settings of ``run``."""
    changed = describe_differences(recorded, requested)
    return changed + [f"run.{key}" for key in RESUME_FIXED_RUN_SETTINGS
                      if recorded.get("run", {}).get(key) != requested.get("run", {}).get(key)]


def _more(changed: list[str]) -> str:
    return f" (and {len(changed) - 1} more: {', '.join(changed[1:4])})" if len(changed) > 1 else ""


def describe_differences(saved: Mapping[str, Any], requested: Mapping[str, Any],
                         sections: Iterable[str] = IDENTITY_SECTIONS) -> list[str]:
    """Dotted names of settings in ``sections`` whose values differ between two configs."""
    differences: list[str] = []

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{prefix}.{key}")
        elif a != b:
            differences.append(prefix)

    for section in sections:
        walk(saved.get(section), requested.get(section), section)
    return differences


def _as_it_ran(saved: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``saved`` with the defaults of the sections added later filled in, the free data
    settings dropped; ``saved`` itself is left as it was read."""
    recorded = dict(saved)
    for section in SECTIONS_ADDED_LATER:
        defaults = TrainConfig.model_fields[section].get_default().model_dump(mode="json")
        recorded[section] = {**defaults, **recorded.get(section, {})}
    return _without_free_data_settings(recorded)


def _without_free_data_settings(config: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data := config.get("data"), dict):
        config["data"] = {key: value for key, value in data.items() if key not in DATA_SETTINGS_FREE_ON_RESUME}
    return config


def _setting(config: Mapping[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
