"""CIFAR-10's "python version": pickled batches, read with an unpickler that can build only data.

CIFAR-10 ships as Python pickles (``data_batch_1`` .. ``data_batch_5``, ``test_batch``,
``batches.meta`` in ``cifar-10-batches-py/``), which torchvision unpickles as they are. A pickle
can name any importable function to call while it loads, so ganzoo, whose weights are never
unpickled either, reads these files only from the ``--data-root`` the user gives and with
``DataOnlyUnpickler``: it allows the few globals a numpy array needs (``_reconstruct``,
``ndarray``, ``dtype``) and ``codecs.encode`` (how protocol 2 stores bytes), and refuses every
other one, naming it, before anything is called. What it returns is then checked for CIFAR-10's
shapes and types.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganzoo.errors import DataError
from ganzoo.io.inputs import MiB, read_input_bytes

try:  # numpy 2 moved it; numpy.core still works there but warns
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

BATCH_MAX_BYTES = 256 * MiB
"""A real batch is 31 MB."""
CIFAR_SIDE = 32
CIFAR_NUM_CLASSES = 10
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
REDOWNLOAD = "re-download CIFAR-10 (cifar-10-python.tar.gz) and extract it again"


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle named a global outside ``ALLOWED_GLOBALS``; the message is its dotted name."""


class DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers, bytes and numpy arrays; refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise RefusedGlobal(f"{module}.{name}")
        return allowed


def read_pickle(path: Path) -> dict[str, Any]:
    """The dict a CIFAR-10 pickle holds, keys as text (Python 2 wrote them as byte strings)."""
    raw = read_input_bytes(path, "CIFAR-10 file", max_bytes=BATCH_MAX_BYTES, error=DataError, fix=REDOWNLOAD)
    shown = repr(str(path))
    try:
        loaded = DataOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except RefusedGlobal as exc:
        raise DataError(f"refused {shown}: it asks to import {exc} while loading, which no CIFAR-10 file does "
                        "(ganzoo unpickles only arrays, lists, text and numbers); delete it and "
                        f"{REDOWNLOAD}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            MemoryError) as exc:
        raise DataError(f"{shown} is truncated or corrupt ({type(exc).__name__}: {exc}); {REDOWNLOAD}") from None
    if not isinstance(loaded, dict):
        raise DataError(f"{shown} holds a {type(loaded).__name__}, not CIFAR-10's table; {REDOWNLOAD}")
    return {key.decode("latin1") if isinstance(key, bytes) else str(key): value for key, value in loaded.items()}


def read_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One batch's images (N, 3, 32, 32) uint8 and labels (N,) int64, checked."""
    batch, shown = read_pickle(path), repr(str(path))
    data, labels = batch.get("data"), batch.get("labels")
    row = 3 * CIFAR_SIDE * CIFAR_SIDE
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
        what = f"an array of {data.dtype} shaped {data.shape}" if isinstance(data, np.ndarray) else "no 'data' array"
        raise DataError(f"{shown} holds {what}, not CIFAR-10's uint8 rows of {row} pixels; {REDOWNLOAD}")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(isinstance(x, int) for x in labels):
        count = len(labels) if isinstance(labels, list) else "no"
        raise DataError(f"{shown} holds {count} integer labels for {len(data)} images; {REDOWNLOAD}")
    if labels and not 0 <= min(labels) <= max(labels) < CIFAR_NUM_CLASSES:
        raise DataError(f"{shown} holds labels outside 0..9 (min {min(labels)}, max {max(labels)}); {REDOWNLOAD}")
    images = torch.from_numpy(data.reshape(len(data), 3, CIFAR_SIDE, CIFAR_SIDE).copy())
    return images, torch.tensor(labels, dtype=torch.long)


def read_class_names(path: Path) -> list[str]:
    """``batches.meta``'s ten ``label_names``."""
    names = read_pickle(path).get("label_names")
    if not isinstance(names, list) or len(names) != CIFAR_NUM_CLASSES:
        raise DataError(f"{str(path)!r} does not hold CIFAR-10's ten label_names; {REDOWNLOAD}")
    return [name.decode("latin1") if isinstance(name, bytes) else str(name) for name in names]
