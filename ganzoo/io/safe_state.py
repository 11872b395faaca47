"""Nested training state <-> safetensors, with no pickle anywhere.

Optimiser states, RNG states and progress counters are nested dicts and lists holding tensors
and plain values. ``flatten_state`` pulls every tensor out into a flat ``name -> tensor`` map
(stored as safetensors) and leaves a JSON skeleton (stored in the file's metadata) that says
where each tensor goes back. Files are written atomically: a crash leaves the old file or the
new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes

from ganzoo.errors import WeightsError, first_line
from ganzoo.io.files import atomic_write_bytes
from ganzoo.io.inputs import MiB, open_input
from ganzoo.io.structured import load_json

_TENSOR = "__tensor__"
_ITEMS = "__items__"
_TUPLE = "__tuple__"
PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save's zip container, raw pickle protocol >= 2
# A safetensors file is an 8-byte little-endian header length, then a JSON header: byte 8 is "{".
# The pickle magic can also be the first byte of a header length (any length = 0x80 mod 256), so
# only a file whose header does not open like JSON is taken for a pickle.
_HEADER_START = b"{"
HEADER_MAX_BYTES = 100 * MiB
"""The safetensors library's own bound on a header."""
CORRUPT_FIX = "it is corrupt or not a safetensors file; re-create or re-download it"


class StateSkeletonError(WeightsError, ValueError):
    """A state skeleton that ``flatten_state`` cannot have written: a ``WeightsError``, and a
    ``ValueError`` to callers that name the file in their own "is corrupt" line."""


def flatten_state(state: Any) -> tuple[dict[str, torch.Tensor], str]:
    """Split ``state`` into tensors and a JSON skeleton referring to them by name."""
    tensors: dict[str, torch.Tensor] = {}

    def encode(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[path] = value.detach().to("cpu", copy=True).contiguous()
            return {_TENSOR: path}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and _TENSOR not in value and _ITEMS not in value:
                return {k: encode(v, f"{path}.{k}") for k, v in value.items()}
            return {_ITEMS: [[k, encode(v, f"{path}.{k}")] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {_TUPLE: [encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} at {path!r} in a safetensors state")

    skeleton = encode(state, "state")
    return tensors, json.dumps(skeleton, allow_nan=True)


def unflatten_state(tensors: dict[str, torch.Tensor], skeleton_json: str, shown: str = "") -> Any:
    """Inverse of ``flatten_state``. The skeleton is read within ``ganzoo.io.structured``'s
    bounds (so ``decode`` recurses at most ``MAX_DEPTH`` deep); a damaged one raises
    ``StateSkeletonError``, a wrong reference ``KeyError``/``TypeError``/``ValueError``."""

    def decode(node: Any) -> Any:
        if isinstance(node, dict):
            if _TENSOR in node:
                return tensors[node[_TENSOR]]
            if _ITEMS in node:
                return {k: decode(v) for k, v in node[_ITEMS]}
            if _TUPLE in node:
                return tuple(decode(v) for v in node[_TUPLE])
            return {k: decode(v) for k, v in node.items()}
        if isinstance(node, list):
            return [decode(v) for v in node]
        return node

    return decode(load_json(skeleton_json, shown, error=StateSkeletonError, fix="", allow_nan=True,
                            max_bytes=HEADER_MAX_BYTES))


def save_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Atomically write tensors (each stored as its own contiguous CPU copy) and metadata."""
    own = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    atomic_write_bytes(safetensors_bytes(own, metadata=metadata), path)


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read every tensor and the metadata, refusing pickles and turning corruption into one line.

    The file is opened once and read whole: a training run may replace it (atomically) at any
    moment, and a reader that opened it twice (``safe_open`` maps the tensors by file name) could
    pair one file's header with the next one's data.
    """
    with _open_weights(path, what) as handle:
        header = _checked_header(handle, path, what)
        handle.seek(0)
        data = handle.read()
    try:
        tensors = safetensors_load(data)
    except Exception as exc:  # safetensors raises its own error types, plus ValueError
        raise WeightsError(f"{what} {str(path)!r} is corrupt or not a safetensors file "
                           f"({first_line(exc)}); re-create or re-download it") from None
    return tensors, _metadata(header, path, what)


def read_safetensors_metadata(path: Path, what: str) -> dict[str, str]:
    """Only the header's metadata, without reading any tensor data (from one open file)."""
    with _open_weights(path, what) as handle:
        return _metadata(_checked_header(handle, path, what), path, what)


def _open_weights(path: Path, what: str) -> BinaryIO:
    """The checked file (``ganzoo.io.inputs``: no directory, FIFO or unreadable path); the callers close it."""
    return open_input(path, what, error=WeightsError)


def _checked_header(handle: BinaryIO, path: Path, what: str) -> dict[str, Any]:
    """The parsed JSON header of the open file, after checking that the file is no pickle and
    holds every byte its header promises."""
    size = os.fstat(handle.fileno()).st_size
    head = handle.read(9)
    if head.startswith(PICKLE_MAGIC) and head[8:9] != _HEADER_START:
        raise WeightsError(f"{what} {str(path)!r} is a pickle/PyTorch .pt file; ganzoo only loads safetensors "
                           "and never unpickles (convert it with safetensors.torch.save_file in a trusted session)")
    if len(head) < 8:
        raise WeightsError(f"{what} {str(path)!r} is truncated ({len(head)} bytes); re-create or re-download it")
    header_length = int.from_bytes(head[:8], "little")
    if header_length > min(size - 8, HEADER_MAX_BYTES):
        raise WeightsError(f"{what} {str(path)!r} has a header length of {header_length} bytes that does not "
                           "fit the file; it is truncated or corrupt, re-create or re-download it")
    handle.seek(8)
    header = load_json(handle.read(header_length), f"the header of {what} {str(path)!r}", error=WeightsError,
                       fix=CORRUPT_FIX, max_bytes=HEADER_MAX_BYTES)
    try:
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        data_length = max((int(entry["data_offsets"][1]) for name, entry in header.items()
                           if name != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise WeightsError(f"{what} {str(path)!r} is corrupt or not a safetensors file (unreadable header: "
                           f"{first_line(exc)}); re-create or re-download it") from None
    promised = 8 + header_length + data_length
    if promised > size:
        raise WeightsError(f"{what} {str(path)!r} is truncated or corrupt: its header promises {promised} bytes, "
                           f"the file has {size}; re-create or re-download it")
    return header


def _metadata(header: dict[str, Any], path: Path, what: str) -> dict[str, str]:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise WeightsError(f"{what} {str(path)!r} is corrupt or not a safetensors file (its metadata is not a "
                           "map of strings); re-create or re-download it")
    return metadata


