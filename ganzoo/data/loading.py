"""Image files decoded and resized to uint8, by DataLoader worker processes, in a given order.

The one decoding path of both file-dataset paths (``ganzoo.data.files``) and of the image
cache (``ganzoo.data.cache``), so that they all hold the same pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from ganzoo.core.interfaces import ImageShape
from ganzoo.data.image_files import decode_image
from ganzoo.errors import GanzooError

LOAD_CHUNK = 256
"""Images per DataLoader batch when a whole dataset is decoded (into memory or the cache)."""


def resize_and_crop(image: Tensor, size: int) -> Tensor:
    """Resize the shorter side of an image or a batch to ``size`` (antialiased) and centre-crop a
    square: the DCGAN tutorial's ``Resize(size)`` + ``CenterCrop(size)``."""
    from torchvision.transforms.v2 import functional as TF  # slow to import: on first use

    return TF.center_crop(TF.resize(image, [size], antialias=True), [size, size])


class DecodedFiles(torch.utils.data.Dataset):
    """Map-style: item i is file i decoded to uint8 (C, size, size). A ``GanzooError`` is returned,
    not raised, so that it reaches the main process as its one line (a DataLoader would wrap it
    in a worker traceback)."""

    def __init__(self, paths: Sequence[Path], channels: Literal[1, 3], size: int) -> None:
        self.paths, self.channels, self.size = list(paths), channels, size

    @property
    def image_shape(self) -> ImageShape:
        return (self.channels, self.size, self.size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        return resize_and_crop(decode_image(self.paths[index], self.channels), self.size)

    def __getitems__(self, indices: Sequence[int]) -> Tensor | GanzooError:
        try:
            return torch.stack([self[index] for index in indices])
        except GanzooError as exc:
            return exc


def load_in_order(source: torch.utils.data.Dataset, chunks: Iterable[Sequence[int]], *, workers: int,
                  pin_memory: bool = False) -> Iterator[Tensor]:
    """uint8 batches of ``source`` for each chunk of indices, in order, decoded by ``workers`` processes.

    The DataLoader gets its own ``torch.Generator``: its iterators draw a seed, and drawing it
    from the global RNG would make a streamed run differ from an in-memory one.
    """
    loader = torch.utils.data.DataLoader(source, batch_sampler=list(chunks), num_workers=workers,
                                         collate_fn=_raise_or_pass, pin_memory=pin_memory,
                                         generator=torch.Generator(), prefetch_factor=4 if workers else None)
    for images in loader:
        if isinstance(images, GanzooError):
            raise images
        yield images


def _raise_or_pass(images: Any) -> Any:
    """The collate function: ``__getitems__`` already stacked the batch (or returned its error)."""
    return images


def sequential_chunks(count: int, chunk: int = LOAD_CHUNK) -> list[range]:
    return [range(first, min(first + chunk, count)) for first in range(0, count, chunk)]
