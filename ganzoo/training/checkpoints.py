"""The full training state in one safetensors file, for exact resume.

A checkpoint holds both models, both optimisers, the GradScalers, the progress counters (epoch,
position inside the epoch, global step, images seen), the fixed noise batch and every RNG state
(torch CPU and CUDA, numpy, python). Data order is derived from (seed, epoch), so with these a
resumed CPU run is bit-for-bit the run that was never interrupted.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.core.callback import Progress
from ganzoo.errors import WeightsError, first_line
from ganzoo.io.safe_state import (
    flatten_state,
    read_safetensors,
    read_safetensors_metadata,
    save_safetensors,
    unflatten_state,
)
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


def save_checkpoint(path: Path, *, state: dict[str, Any], progress: Progress, config: dict[str, Any]) -> None:
    """Atomically write ``state`` (modules, optimisers, ...) with progress, RNGs and the config."""
    full_state = {**state, "progress": asdict(progress), "rng": capture_rng_states()}
    tensors, skeleton = flatten_state(full_state)
    metadata = {"format": CHECKPOINT_FORMAT, "ganzoo_version": __version__, "state": skeleton,
                "config": json.dumps(config, sort_keys=True)}
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
        config = json.loads(metadata["config"])
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
        config = json.loads(metadata["config"])
        if not isinstance(config, dict):
            raise ValueError("its config is not a table")
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"checkpoint {str(path)!r} is corrupt ({first_line(exc)}); resume from an earlier copy "
                           "or start again with --overwrite") from None
    return config
