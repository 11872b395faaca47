"""The named datasets beyond MNIST: ``fashion-mnist``, ``cifar10`` and ``celeba``, in torchvision's layouts.

Each lives under ``--data-root`` (default ``~/.cache/ganzoo/data``) exactly where torchvision's
own class (``FashionMNIST``, ``CIFAR10``, ``CelebA``) puts it, and ``--download`` lets that class
fetch it. Without ``--download`` nothing touches the network: a missing file is one
``DataError`` naming every file expected and the folder to put it in. The files are read and
checked by ganzoo (``ganzoo.data.idx``, ``ganzoo.data.cifar``, ``ganzoo.data.celeba``),
not by torchvision's md5 checks, which cannot say which file is missing or what is wrong with it.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ganzoo.core.options import DataConfig
from ganzoo.data.budget import choose_streaming
from ganzoo.data.celeba import CELEBA_FOLDER, celeba_layout, celeba_present, celeba_split_files
from ganzoo.data.cifar import read_batch, read_class_names
from ganzoo.data.dataset import (
    MNIST_FILES,
    IdxSource,
    ImageDataset,
    data_root,
    download_with_torchvision,
    load_idx_dataset,
    prepare,
    require_split,
)
from ganzoo.data.files import StreamingImageDataset, load_image_files
from ganzoo.errors import DataError

FASHION_MNIST_FOLDER = "FashionMNIST"
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]
"""torchvision's ``FashionMNIST.classes``, written out so listing a run needs no torchvision import."""
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = {"train": [f"data_batch_{number}" for number in range(1, 6)], "test": ["test_batch"]}
CIFAR_META = "batches.meta"


FASHION_MNIST_SOURCE = IdxSource(
    "fashion-mnist", FASHION_MNIST_FOLDER, FASHION_MNIST_CLASSES,
    not_found=lambda root, split: (
        f"Fashion-MNIST's {split} split is not under {str(root)!r}: expected "
        f"{' and '.join(f'{name}.gz' for name in MNIST_FILES[split])} (gzipped or not) in "
        f"{root / FASHION_MNIST_FOLDER / 'raw'}; put them there, or add --download"),
    download_fix=lambda root: f"put the IDX files in {root / FASHION_MNIST_FOLDER / 'raw'}")


def load_fashion_mnist(config: DataConfig) -> ImageDataset:
    """Fashion-MNIST (Zalando, 28x28 grey, ten clothing classes): ``ROOT/FashionMNIST/raw``, IDX, raw or gzipped."""
    return _prepared_within_budget(load_idx_dataset(config, FASHION_MNIST_SOURCE), config)


def load_cifar10(config: DataConfig) -> ImageDataset:
    """CIFAR-10 (32x32 RGB, ten classes), the python batches in ``ROOT/cifar-10-batches-py``."""
    require_split("cifar10", config, ("train", "test"))
    root = data_root(config)
    folder = root / CIFAR_FOLDER
    expected = [*CIFAR_FILES[config.split], CIFAR_META]
    missing = [name for name in expected if not (folder / name).exists()]
    if missing and config.download:
        download_with_torchvision("CIFAR10", root, f"extract cifar-10-python.tar.gz into {root}",
                                  train=config.split == "train")
        missing = [name for name in expected if not (folder / name).exists()]
    if missing:
        raise DataError(f"CIFAR-10's {config.split} split is incomplete under {str(root)!r}: {folder} lacks "
                        f"{', '.join(missing)} (expected {', '.join(expected)}); extract cifar-10-python.tar.gz "
                        f"into {root}, or add --download")
    batches = [read_batch(folder / name) for name in CIFAR_FILES[config.split]]
    images = torch.cat([images for images, _ in batches])
    labels = torch.cat([labels for _, labels in batches])
    dataset = ImageDataset(f"cifar10-{config.split}", images, labels, read_class_names(folder / CIFAR_META))
    return _prepared_within_budget(dataset, config)


def load_celeba(config: DataConfig) -> ImageDataset | StreamingImageDataset:
    """CelebA's aligned faces (``ganzoo.data.celeba``), the DCGAN tutorial's way: the shorter side
    resized to ``data.image_size`` (``--image-size 64``, the tutorial's), then centre-cropped; unconditional.
    200k faces at 64x64 are 2.4 GiB: in memory within the budget, streamed beyond it."""
    require_split("celeba", config, ("train", "valid", "test"))
    root = data_root(config)
    if not celeba_present(root) and config.download:
        download_with_torchvision("CelebA", root, f"put {celeba_layout(root)} there by hand "
                                                  "(the download also needs the gdown package)", split="all")
    if not celeba_present(root):
        raise DataError(f"CelebA is not under {str(root)!r}: expected {celeba_layout(root)}; extract "
                        f"img_align_celeba.zip and copy the two lists into {root / CELEBA_FOLDER}, or add --download")
    paths = celeba_split_files(root, config.split)
    return load_image_files(f"celeba-{config.split}", paths, None, None, config)


def _prepared_within_budget(dataset: ImageDataset, config: DataConfig) -> ImageDataset:
    """``prepare`` once the prepared size is known to fit ``data.memory_budget_mb``."""
    count = min(len(dataset), config.limit or len(dataset))
    channels = config.channels or dataset.image_shape[0]
    holding = choose_streaming(dataset.name, count, (channels, config.image_size, config.image_size), config,
                               streamable=False)
    return replace(prepare(dataset, config), note=holding.note)
