"""Datasets as one in-memory uint8 tensor, and batches taken from it on the device.

Every dataset is decoded and resized once when it is loaded; training never runs per-image
PIL transforms. Batches are gathered by index from the tensor (already on the device) and
scaled to [-1, 1] there, which is both faster and simpler than a DataLoader for data that fits
in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.core.interfaces import Batch, ImageShape
from ganzoo.core.options import DataConfig
from ganzoo.data.idx import REDOWNLOAD, describe_idx, read_idx
from ganzoo.data.loading import resize_and_crop
from ganzoo.errors import DataError

EMBEDDED_MNIST = resources.files("ganzoo") / "assets" / "mnist"
MNIST_CLASSES = [str(digit) for digit in range(10)]


@dataclass(frozen=True)
class ImageDataset:
    """Images as uint8 (N, C, H, W), optional int64 labels (N,), and what the classes are called.

    ``note`` is one line for the user about how the data is held (its size in memory), shown
    when a run starts. ``ganzoo.data.files.StreamingImageDataset`` offers the same interface
    for datasets that do not fit in memory.
    """

    name: str
    images: Tensor
    labels: Tensor | None = None
    class_names: list[str] | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"dataset {self.name!r} must hold uint8 images shaped (N, C, H, W)")
        if len(self.images) == 0:
            raise DataError(f"dataset {self.name!r} holds no images")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise DataError(f"dataset {self.name!r} has {len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> ImageShape:
        channels, height, width = self.images.shape[1:]
        return (int(channels), int(height), int(width))

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    def to(self, device: torch.device | str) -> ImageDataset:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, images=self.images.to(device), labels=labels)

    def uint8_images(self, indices: Tensor | None = None) -> Tensor:
        """The images (all, or those at ``indices``) as stored: uint8 on the dataset's device."""
        return self.images if indices is None else self.images[indices.to(self.images.device)]

    def batch(self, indices: Tensor) -> Batch:
        """Gather images by index and scale them to [-1, 1] as float32."""
        labels = None if self.labels is None else self.labels[indices]
        return Batch(to_unit_range(self.images[indices]), labels)

    def batches(self, order: Tensor, *, start: int, batch_size: int) -> Iterator[Batch]:
        """The full batches of ``order`` from position ``start`` on, in order: how the run loop
        reads an epoch (a streaming dataset prefetches them; here each is one gather)."""
        order = order.to(self.images.device)
        for first in range(start, len(order) - batch_size + 1, batch_size):
            yield self.batch(order[first:first + batch_size])


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1], the range of a Tanh generator."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding to nearest."""
    return images.detach().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def epoch_order(num_items: int, *, seed: int, epoch: int) -> Tensor:
    """The shuffled order of one epoch, derived from (seed, epoch) alone.

    No sampler state has to be saved: a resumed run recomputes the same order and skips the
    batches it already trained on.
    """
    rng = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_items, generator=rng)


def prepare(dataset: ImageDataset, config: DataConfig) -> ImageDataset:
    """Apply ``limit``, channel conversion and resizing once, to the whole tensor."""
    images, labels = dataset.images, dataset.labels
    if config.limit is not None:
        images = images[:config.limit]
        labels = None if labels is None else labels[:config.limit]
    if config.channels is not None and images.shape[1] != config.channels:
        images = _convert_channels(images, config.channels)
    if images.shape[-2:] != (config.image_size, config.image_size):
        images = _resize_square(images, config.image_size)
    return replace(dataset, images=images.contiguous(), labels=labels)


def _transforms() -> Any:
    """torchvision's tensor transforms, imported on first use: importing torchvision costs seconds
    (it loads torch._dynamo), which every CLI call that fails early or only lists would pay."""
    from torchvision.transforms.v2 import functional

    return functional


def _convert_channels(images: Tensor, channels: int) -> Tensor:
    if channels == 3:
        return images.expand(-1, 3, -1, -1)
    return _transforms().rgb_to_grayscale(images, num_output_channels=1)


def _resize_square(images: Tensor, size: int, chunk: int = 4096) -> Tensor:
    """Resize the shorter side to ``size`` (antialiased) and centre-crop to a square."""
    return torch.cat([resize_and_crop(part, size) for part in images.split(chunk)])


# -- MNIST -------------------------------------------------------------------------------------

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MNIST_SIDE = 28


def load_embedded_mnist(config: DataConfig) -> ImageDataset:
    """The real MNIST test split shipped inside ganzoo, so every machine can train offline."""
    images_name, labels_name = MNIST_FILES["test"]
    with resources.as_file(EMBEDDED_MNIST) as folder:
        images, labels = read_mnist(folder / f"{images_name}.gz", folder / f"{labels_name}.gz")
    return prepare(ImageDataset("mnist-embedded", images, labels, MNIST_CLASSES), config)


@dataclass(frozen=True)
class IdxSource:
    """A dataset published the way MNIST is: per split, an images and a labels IDX file (raw or
    gzipped, named as ``MNIST_FILES`` says) in ``ROOT/<torchvision_class>/raw``, where that
    torchvision class downloads them. What differs between MNIST and Fashion-MNIST is here;
    ``load_idx_dataset`` is the rest."""

    name: str
    """The dataset's registered name (``mnist``); its splits are ``mnist-train``, ``mnist-test``."""
    torchvision_class: str
    """The torchvision class that downloads it, whose name is also its folder under the data root."""
    class_names: list[str]
    not_found: Callable[[Path, str], str]
    """The one-line message when a split's files are missing, from the data root and the split."""
    download_fix: Callable[[Path], str]
    """What to do by hand when the download fails, from the data root."""


MNIST_SOURCE = IdxSource(
    "mnist", "MNIST", MNIST_CLASSES,
    not_found=lambda root, split: (
        f"MNIST not found under {str(root)!r} (no {' and '.join(MNIST_FILES[split])}[.gz] in {root}/MNIST/raw); "
        f"add --download, put the IDX files in {root}/MNIST/raw, or use --dataset mnist-embedded"),
    download_fix=lambda root: f"copy the IDX files to {root}/MNIST/raw or use the embedded data "
                              "(--dataset mnist-embedded)")


def load_mnist(config: DataConfig) -> ImageDataset:
    """Full MNIST in torchvision's layout (``ROOT/MNIST/raw``, raw or gzipped), optionally downloaded there.

    The files are read and checked here rather than by torchvision, which reports a truncated
    or gzipped-only copy as "not found".
    """
    return prepare(load_idx_dataset(config, MNIST_SOURCE), config)


def load_idx_dataset(config: DataConfig, source: IdxSource) -> ImageDataset:
    """The split ``config`` asks for of ``source``, as its files hold it (the caller prepares it):
    found under the data root, downloaded there first with ``--download`` when missing (nothing
    touches the network otherwise), read and checked by ``read_mnist``."""
    require_split(source.name, config, tuple(MNIST_FILES))
    root = data_root(config)
    paths = mnist_paths(root, config.split, source.torchvision_class)
    if paths is None and config.download:
        download_with_torchvision(source.torchvision_class, root, source.download_fix(root),
                                  train=config.split == "train")
        paths = mnist_paths(root, config.split, source.torchvision_class)
    if paths is None:
        raise DataError(source.not_found(root, config.split))
    images, labels = read_mnist(*paths)
    return ImageDataset(f"{source.name}-{config.split}", images, labels, source.class_names)


def data_root(config: DataConfig) -> Path:
    """``data.root``, or the shared cache folder of the named datasets."""
    return Path(config.root or Path.home() / ".cache" / "ganzoo" / "data")


def require_split(name: str, config: DataConfig, splits: tuple[str, ...]) -> None:
    if config.split not in splits:
        raise DataError(f"dataset {name!r} has no {config.split!r} split; use data.split "
                        f"{' or '.join(splits)}")


def read_mnist(images_path: Path, labels_path: Path) -> tuple[Tensor, Tensor]:
    """MNIST's images (N, 1, 28, 28) and labels (N,) from two IDX files that must agree (also
    Fashion-MNIST's, which are published in the same format and names)."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise DataError(f"{str(images_path)!r} holds {describe_idx(tuple(images.shape))}, not MNIST's images of "
                        f"{MNIST_SIDE}x{MNIST_SIDE}; check the file (other data: --dataset image-folder)")
    if labels.ndim != 1:
        raise DataError(f"{str(labels_path)!r} holds {describe_idx(tuple(labels.shape))}, not a list of labels; "
                        "check the file")
    if len(labels) != len(images):
        raise DataError(f"{str(labels_path)!r} holds {len(labels)} labels for the {len(images)} images of "
                        f"{str(images_path)!r}; the two files are from different sets, {REDOWNLOAD} both")
    if int(labels.max()) >= len(MNIST_CLASSES):
        raise DataError(f"{str(labels_path)!r} holds the label {int(labels.max())}; MNIST's are 0..9, so the file is "
                        f"damaged or not MNIST; {REDOWNLOAD}")
    return images.unsqueeze(1).contiguous(), labels.long()


def mnist_paths(root: Path, split: str, folder_name: str = "MNIST") -> tuple[Path, Path] | None:
    """The split's two files, raw or gzipped, when both are present (in any state: reading judges them)."""
    folder = root / folder_name / "raw"
    found = [next((candidate for candidate in (folder / name, folder / f"{name}.gz") if os.path.lexists(candidate)),
                  None) for name in MNIST_FILES[split]]
    return (found[0], found[1]) if found[0] and found[1] else None


def download_with_torchvision(class_name: str, root: Path, fix: str, **options: Any) -> None:
    """Let torchvision's own dataset class ``class_name`` download into ``root`` (``--download``
    only); a failure is one line ending in ``fix`` (where to put the files by hand)."""
    import torchvision.datasets

    try:
        getattr(torchvision.datasets, class_name)(str(root), download=True, **options)
    except (RuntimeError, OSError, ImportError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"could not download {class_name} into {str(root)!r} (no network?): {reason}; {fix}") from None

