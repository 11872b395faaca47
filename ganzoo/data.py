"""Datasets as one in-memory uint8 tensor, and batches taken from it on the device.

Every dataset is decoded and resized once when it is loaded; training never runs per-image
PIL transforms. Batches are gathered by index from the tensor (already on the device) and
scaled to [-1, 1] there, which is both faster and simpler than a DataLoader for data that fits
in memory.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.config import DataConfig
from ganzoo.errors import DataError
from ganzoo.interfaces import Batch, ImageShape

EMBEDDED_MNIST = resources.files("ganzoo") / "assets" / "mnist"
MNIST_CLASSES = [str(digit) for digit in range(10)]


@dataclass(frozen=True)
class ImageDataset:
    """Images as uint8 (N, C, H, W), optional int64 labels (N,), and what the classes are called."""

    name: str
    images: Tensor
    labels: Tensor | None = None
    class_names: list[str] | None = None

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

    def batch(self, indices: Tensor) -> Batch:
        """Gather images by index and scale them to [-1, 1] as float32."""
        labels = None if self.labels is None else self.labels[indices]
        return Batch(to_unit_range(self.images[indices]), labels)


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
    TF = _transforms()
    resized = [TF.center_crop(TF.resize(part, [size], antialias=True), [size, size])
               for part in images.split(chunk)]
    return torch.cat(resized)


# -- MNIST -------------------------------------------------------------------------------------


def read_idx(path: Path) -> Tensor:
    """Read an IDX file (optionally gzipped), the format MNIST is published in."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}; re-download the dataset") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file; re-download the dataset")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = offset + int(torch.tensor(shape).prod()) if shape else offset
    if len(raw) != expected:
        raise DataError(f"{str(path)!r} is truncated or corrupt ({len(raw)} bytes, expected {expected}); "
                        "re-download the dataset")
    return torch.frombuffer(bytearray(raw[offset:]), dtype=torch.uint8).reshape(shape)


def load_embedded_mnist(config: DataConfig) -> ImageDataset:
    """The real MNIST test split shipped inside ganzoo, so every machine can train offline."""
    with resources.as_file(EMBEDDED_MNIST) as folder:
        images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
        labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz").long()
    dataset = ImageDataset("mnist-embedded", images.unsqueeze(1), labels, MNIST_CLASSES)
    return prepare(dataset, config)


def load_mnist(config: DataConfig) -> ImageDataset:
    """Full MNIST in torchvision's layout (``ROOT/MNIST/raw``), optionally downloaded there."""
    from torchvision.datasets import MNIST

    root = config.root or Path.home() / ".cache" / "ganzoo" / "data"
    try:
        mnist = MNIST(str(root), train=config.split == "train", download=config.download)
    except RuntimeError as exc:
        if config.download:
            raise DataError(f"could not download MNIST into {str(root)!r} (no network?): "
                            f"{str(exc).splitlines()[0]}; copy the IDX files to {root}/MNIST/raw "
                            "or use the embedded data (--dataset mnist-embedded)") from None
        raise DataError(f"MNIST not found under {str(root)!r}; add --download, put the IDX files in "
                        f"{root}/MNIST/raw, or use --dataset mnist-embedded") from None
    except OSError as exc:
        raise DataError(f"could not read MNIST under {str(root)!r}: {exc}; re-download it (--download)") from None
    dataset = ImageDataset(f"mnist-{config.split}", mnist.data.unsqueeze(1).contiguous(),
                           mnist.targets.long(), MNIST_CLASSES)
    return prepare(dataset, config)


# -- image folders -----------------------------------------------------------------------------


def load_image_folder(config: DataConfig) -> ImageDataset:
    """Images in torchvision's ``ImageFolder`` layout (ROOT/CLASS/IMAGE), decoded once.

    Images of any size and mode are accepted: each is converted to the requested channels
    (RGB by default), resized on its shorter side and centre-cropped to ``image_size``.
    """
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder

    if config.root is None:
        raise DataError("dataset 'image-folder' needs a folder: pass --data-root DIR (layout DIR/CLASS/IMAGE)")
    root = Path(config.root)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist; check --data-root")
    mode = "L" if config.channels == 1 else "RGB"
    try:
        folder = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"no images found in {str(root)!r} ({exc}); expected DIR/CLASS/IMAGE files "
                        "such as .png or .jpg") from None
    size = config.image_size
    TF = _transforms()
    images = []
    for path, _ in folder.samples:
        try:
            with Image.open(path) as image:
                tensor = TF.pil_to_tensor(image.convert(mode))
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"cannot decode image {path!r}: {exc}; remove or replace the file") from None
        images.append(TF.center_crop(TF.resize(tensor, [size], antialias=True), [size, size]))
    labels = torch.tensor(folder.targets, dtype=torch.long)
    dataset = ImageDataset(f"image-folder:{root.name}", torch.stack(images), labels, list(folder.classes))
    return prepare(dataset, config.model_copy(update={"channels": None}))
