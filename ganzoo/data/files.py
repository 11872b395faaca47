"""Datasets that are a list of image files (image folders, CelebA): in memory when they fit, streamed when not.

``load_image_files`` estimates the in-memory size (N x C x H x W bytes) before decoding anything
(``ganzoo.data.budget``) and takes one of two paths that hold the same pixels:

* in memory (the default when it fits): every file decoded once into one uint8 tensor, an
  ``ImageDataset``;
* streamed: a ``StreamingImageDataset``, whose batches are decoded and resized on the fly by
  DataLoader workers (pinned memory on CUDA) and moved to the device, prefetched in order.

Both decode and resize through ``ganzoo.data.loading``, and both serve
``batches(order, start=..., batch_size=...)``: the run loop's epoch order, from the position a
checkpoint recorded. So a streamed run trains on exactly the batches an in-memory one would,
and resumes bit-exactly. With ``data.cache_dir`` the resized array is decoded once into a
``.npy`` file there (``ganzoo.data.cache``) and both paths read it instead of the files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from ganzoo.core.interfaces import Batch, ImageShape, TrainingImages
from ganzoo.core.options import DataConfig
from ganzoo.data.budget import choose_streaming
from ganzoo.data.cache import cached_images
from ganzoo.data.dataset import ImageDataset, to_unit_range
from ganzoo.data.loading import LOAD_CHUNK, DecodedFiles, load_in_order, sequential_chunks
from ganzoo.errors import DataError, GanzooError


@dataclass(frozen=True)
class StreamingImageDataset:
    """A dataset too large for memory, with ``ImageDataset``'s interface: ``batches`` decodes
    (or reads from the cache) the epoch's batches in order with DataLoader workers.

    ``source`` is map-style over uint8 images (``DecodedFiles`` or ``image_cache.CachedImages``);
    ``labels`` stay on the device, the images go there batch by batch.
    """

    name: str
    source: Any
    labels: Tensor | None = None
    class_names: list[str] | None = None
    note: str | None = None
    workers: int = 2
    device: torch.device = torch.device("cpu")

    def __len__(self) -> int:
        return len(self.source)

    @property
    def image_shape(self) -> ImageShape:
        return tuple(self.source.image_shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    def to(self, device: torch.device | str) -> StreamingImageDataset:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, labels=labels, device=torch.device(device))

    def uint8_images(self, indices: Tensor | None = None) -> Tensor:
        """The images (all, or those at ``indices``) as uint8 on the CPU, read in chunks by the
        workers: what evaluation compares against (``eval --num-real`` caps how many)."""
        wanted = torch.arange(len(self)) if indices is None else indices.cpu()
        chunks = [wanted[first:first + LOAD_CHUNK].tolist() for first in range(0, len(wanted), LOAD_CHUNK)]
        return torch.cat(list(load_in_order(self.source, chunks, workers=self.workers, pin_memory=False)))

    def batch(self, indices: Tensor) -> Batch:
        """One batch, read in this process."""
        images = self.source.__getitems__(indices.tolist())
        if isinstance(images, GanzooError):
            raise images
        return self._on_device(images, indices)

    def batches(self, order: Tensor, *, start: int, batch_size: int) -> Iterator[Batch]:
        """The full batches of ``order`` from position ``start`` on, prefetched by the workers."""
        order = order.cpu()
        chunks = [order[first:first + batch_size] for first in range(start, len(order) - batch_size + 1, batch_size)]
        loaded = load_in_order(self.source, [chunk.tolist() for chunk in chunks], workers=self.workers,
                               pin_memory=self.device.type == "cuda")
        for indices, images in zip(chunks, loaded):
            yield self._on_device(images, indices)

    def _on_device(self, images: Tensor, indices: Tensor) -> Batch:
        labels = None if self.labels is None else self.labels[indices.to(self.labels.device)]
        return Batch(to_unit_range(images.to(self.device, non_blocking=True)), labels)




def load_image_files(name: str, paths: Sequence[Path], labels: Tensor | None, class_names: list[str] | None,
                     config: DataConfig) -> TrainingImages:
    """The files (after ``data.limit``) at ``data.image_size``, in memory or streamed (see the module)."""
    if config.limit is not None:
        paths = paths[:config.limit]
        labels = None if labels is None else labels[:config.limit]
    channels: Literal[1, 3] = 1 if config.channels == 1 else 3
    source: Any = DecodedFiles(paths, channels, config.image_size)
    holding = choose_streaming(name, len(source), source.image_shape, config)
    if config.cache_dir is not None:
        source = cached_images(source, Path(config.cache_dir).expanduser(), name, workers=config.workers)
    if holding.stream:
        return StreamingImageDataset(name, source, labels, class_names, holding.note, config.workers)
    images = torch.empty((len(source), *source.image_shape), dtype=torch.uint8)
    chunks = sequential_chunks(len(source))
    for chunk, loaded in zip(chunks, load_in_order(source, chunks, workers=_workers_for(len(source), config))):
        images[chunk.start:chunk.stop] = loaded
    return ImageDataset(name, images, labels, class_names, holding.note)


def _workers_for(count: int, config: DataConfig) -> int:
    """No worker processes for a dataset of one chunk: starting them costs more than it saves."""
    return config.workers if count > LOAD_CHUNK else 0


def load_image_folder(config: DataConfig) -> TrainingImages:
    """Images in torchvision's ``ImageFolder`` layout (ROOT/CLASS/IMAGE), in memory or streamed.

    Images of any size are accepted, and of any mode ``ganzoo.data.image_files`` can convert faithfully
    (16-bit, float, transparent ...): each becomes the requested channels (RGB by default), is
    resized on its shorter side and centre-cropped to ``image_size``. ``load_image_files``
    decodes them once into memory when they fit ``data.memory_budget_mb``, else streams them.
    """
    from torchvision.datasets import ImageFolder

    if config.root is None:
        raise DataError("dataset 'image-folder' needs a folder: pass --data-root DIR (layout DIR/CLASS/IMAGE)")
    root = Path(config.root)
    if not root.is_dir():
        problem = "is a file, not a folder" if os.path.lexists(root) else "does not exist"
        raise DataError(f"image folder {str(root)!r} {problem}; check --data-root")
    try:
        folder = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"no images found in {str(root)!r} ({exc}); expected DIR/CLASS/IMAGE files "
                        "such as .png or .jpg") from None
    except OSError as exc:
        raise DataError(f"cannot list image folder {str(root)!r}: {exc.strerror or exc}; "
                        "check its permissions") from None
    paths = [Path(path) for path, _ in folder.samples]
    labels = torch.tensor(folder.targets, dtype=torch.long)
    return load_image_files(f"image-folder:{root.name}", paths, labels, list(folder.classes), config)
