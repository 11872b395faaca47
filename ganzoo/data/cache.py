"""``data.cache_dir``: a file dataset decoded and resized once into a ``.npy`` array, read by memory map.

The cache file's name holds a digest of what its pixels depend on: every file's path,
modification time and size, in order, and the channels and size they were resized to. Any
change (a file added, replaced or touched, another ``image_size``) names another file, so a
stale cache is never read. The array is written in place through ``ganzoo.io.files.atomic_output``,
so a run killed while filling it leaves no file that looks complete; a damaged one (wrong shape,
truncated) is written again.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganzoo.core.interfaces import ImageShape
from ganzoo.data.loading import DecodedFiles, load_in_order, sequential_chunks
from ganzoo.errors import DataError
from ganzoo.io.files import atomic_output, describe_os_error

CACHE_FORMAT = "ganzoo-image-cache-1"


class CachedImages(torch.utils.data.Dataset):
    """Map-style over the cached uint8 array (N, C, H, W); each process maps the file itself."""

    def __init__(self, path: Path, image_shape: ImageShape, count: int) -> None:
        self.path, self.image_shape, self.count = path, image_shape, count
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return self.count

    def __getitems__(self, indices: Sequence[int]) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.array()[list(indices)]))

    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getstate__(self) -> dict[str, Any]:  # workers open their own map
        return {**self.__dict__, "_array": None}


def cached_images(source: DecodedFiles, cache_dir: Path, name: str, *, workers: int) -> CachedImages:
    """The cache of ``source`` in ``cache_dir``, decoded and written first when it is not there."""
    shape = (len(source), *source.image_shape)
    channels, height, width = source.image_shape
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    path = cache_dir / f"{safe_name}-{channels}x{height}x{width}-n{len(source)}-{cache_key(source)}.npy"
    if not _holds(path, shape):
        try:
            with atomic_output(path) as temporary:
                array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
                chunks = sequential_chunks(len(source))
                for chunk, images in zip(chunks, load_in_order(source, chunks, workers=workers)):
                    array[chunk.start:chunk.stop] = images.numpy()
                array.flush()
                del array
        except OSError as exc:
            raise DataError(describe_os_error(exc, "cannot write the image cache (data.cache_dir)")) from None
    return CachedImages(path, source.image_shape, len(source))


def cache_key(source: DecodedFiles) -> str:
    """A digest of the file list (path, mtime, size, in order) and the channels and size."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}\n{source.channels}\n{source.size}\n".encode())
    for path in source.paths:
        try:
            info = os.stat(path)
        except OSError as exc:
            raise DataError(describe_os_error(exc, "cannot read an image of the dataset")) from None
        digest.update(f"{os.path.abspath(path)}\t{info.st_mtime_ns}\t{info.st_size}\n".encode())
    return digest.hexdigest()[:16]


def _holds(path: Path, shape: tuple[int, ...]) -> bool:
    """Whether ``path`` is a complete cache of that shape (anything else is written again)."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError):
        return False
    return isinstance(array, np.ndarray) and array.dtype == np.uint8 and array.shape == shape
