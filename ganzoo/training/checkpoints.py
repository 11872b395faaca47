"""The full training state in one safetensors file, for exact resume.

A checkpoint holds both models, both optimisers, the GradScalers, the progress counters (epoch,
position inside the epoch, global step, images seen), the fixed noise batch and every RNG state
(torch CPU and CUDA, numpy, python). Data order is derived from (seed, epoch), so with these a
resumed CPU run is bit-for-bit the run that was never interrupted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.core.callback import Progress
from ganzoo.errors import WeightsError, first_line
from ganzoo.io.safe_state import (
    StateSkeletonError,
    flatten_state,
    read_safetensors,
    read_safetensors_metadata,
    save_safetensors,
    unflatten_state,
)
from ganzoo.io.structured import load_json
from ganzoo.version import __version__

CHECKPOINT_FORMAT = "ganzoo.training-state.v1"


def capture_rng_states() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    numpy_state = states["numpy"]
    np.random.set_state(("MT19937", numpy_state["key"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    random.setstate((states["python_version"], tuple(states["python"]), None))


def save_checkpoint(path: Path, *, state: dict[str, Any], progress: Progress, config: dict[str, Any],
                    written_by: str = "") -> None:
    """Atomically write ``state`` (modules, optimisers, ...) with progress, RNGs and the config;
    ``written_by`` names the variant's plugin and version, for the line a mismatch gives later."""
    full_state = {**state, "progress": asdict(progress), "rng": capture_rng_states()}
    tensors, skeleton = flatten_state(full_state)
    metadata = {"format": CHECKPOINT_FORMAT, "ganzoo_version": __version__, "state": skeleton,
                "config": json.dumps(config, sort_keys=True), "written_by": written_by}
    save_safetensors(tensors, metadata, path)


def load_checkpoint(path: Path) -> tuple[dict[str, Any], Progress, dict[str, Any]]:
    """Read a checkpoint back: (state, progress, config). RNGs are restored by the caller."""
    tensors, metadata = read_safetensors(path, "checkpoint")
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{str(path)!r} is not a ganzoo training checkpoint; resume needs "
                           "checkpoints/last.safetensors from a run directory")
    try:
        state = unflatten_state(tensors, metadata["state"])
        progress = Progress(**state.pop("progress"))
        config = load_json(metadata["config"], "its config", error=StateSkeletonError, fix="")
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"checkpoint {str(path)!r} is corrupt ({type(exc).__name__}: {exc}); "
                           "resume from an earlier copy or start again with --overwrite") from None
    return state, progress, config


def read_checkpoint_config(path: Path) -> dict[str, Any]:
    """The resolved config a checkpoint was written with (from its header alone), so a run whose
    ``config.json`` is missing or damaged can still be resumed."""
    metadata = read_safetensors_metadata(path, "checkpoint")
    try:
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a training checkpoint")
        config = load_json(metadata["config"], "its config", error=StateSkeletonError, fix="")
        if not isinstance(config, dict):
            raise ValueError("its config is not a table")
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"checkpoint {str(path)!r} is corrupt ({first_line(exc)}); resume from an earlier copy "
                           "or start again with --overwrite") from None
    return config


def restore_state(parts: Mapping[str, Any], state: Mapping[str, Any], path: Path, *, built: str) -> None:
    """Load each part (a module, an optimiser, anything with ``load_state_dict``) from the state
    under its key, after checking that it fits: a checkpoint of another variant, or of another
    version of a plugin whose tensors changed, is one line naming the first key that is missing,
    unexpected or of another shape, never a half-loaded model. ``built`` says what the run built
    now (``'mlp' from ganzoo-mlp 0.2``)."""
    for key, part in parts.items():
        try:
            mismatch = (f"it has no {key!r} state" if key not in state else
                        _state_mismatch(part, state[key], key))
            if mismatch is None:
                part.load_state_dict(state[key])
        except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as exc:
            mismatch = f"{key}: {first_line(exc)}"
        if mismatch is not None:
            raise WeightsError(f"checkpoint {str(path)!r} does not fit the run built now ({built}): {mismatch}; it "
                               f"was written by {_written_by(path)}: resume with the variant and plugin version that "
                               "wrote it, or start a new run with another --out (or --overwrite)") from None


def _state_mismatch(part: Any, saved: Any, key: str) -> str | None:
    """The first way ``saved`` does not fit ``part`` (a module's names and shapes, an optimiser's
    parameter groups and per-parameter tensors); None when it fits as far as can be seen."""
    if isinstance(part, torch.nn.Module):
        return _tensors_mismatch(part.state_dict(), saved, key)
    if isinstance(part, torch.optim.Optimizer):
        return _optimizer_mismatch(part, saved, key)
    return None


def _tensors_mismatch(expected: Mapping[str, torch.Tensor], saved: Any, key: str) -> str | None:
    if not isinstance(saved, Mapping):
        return f"its {key!r} state is not a table of tensors"
    if missing := [name for name in expected if name not in saved]:
        return f"{key}.{missing[0]} is missing from it" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
    if unexpected := [name for name in saved if name not in expected]:
        return f"its {key}.{unexpected[0]} is not in the model" + (
            f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
    for name, tensor in expected.items():
        if not isinstance(saved[name], torch.Tensor) or saved[name].shape != tensor.shape:
            shape = list(saved[name].shape) if isinstance(saved[name], torch.Tensor) else type(saved[name]).__name__
            return f"{key}.{name} is {shape} in the checkpoint, {list(tensor.shape)} in the model"
    return None


def _optimizer_mismatch(optimizer: torch.optim.Optimizer, saved: Any, key: str) -> str | None:
    groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
    if not isinstance(groups, list) or len(groups) != len(optimizer.param_groups):
        return f"its {key!r} state does not have the optimiser's {len(optimizer.param_groups)} parameter group(s)"
    for index, (mine, theirs) in enumerate(zip(optimizer.param_groups, groups)):
        if len(theirs.get("params", [])) != len(mine["params"]):
            return (f"{key} parameter group {index} holds {len(theirs.get('params', []))} parameters in the checkpoint, "
                    f"{len(mine['params'])} in the model")
    parameters = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    for index, values in (saved.get("state") or {}).items():
        for name, value in (values.items() if isinstance(values, Mapping) else ()):
            shape = parameters[int(index)].shape
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != shape:
                return f"{key} state {index}.{name} is {list(value.shape)} in the checkpoint, {list(shape)} in the model"
    return None


def _written_by(path: Path) -> str:
    """``'mlp' from ganzoo-mlp 0.1`` as the checkpoint records it (older ones: the ganzoo version)."""
    try:
        metadata = read_safetensors_metadata(path, "checkpoint")
        if metadata.get("written_by"):
            return metadata["written_by"]
        variant = load_json(metadata.get("config", "{}"), "its config", error=StateSkeletonError).get("variant")
    except (WeightsError, ValueError, AttributeError):
        return "another setup"
    return f"{variant!r} with ganzoo {metadata.get('ganzoo_version', '(unknown version)')}"
