"""Datasets become one uint8 tensor; batches are scaled on the device."""

from __future__ import annotations

import gzip

import pytest
import torch
from PIL import Image

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import epoch_order, load_embedded_mnist, load_mnist, read_idx, to_uint8, to_unit_range
from ganzoo.data.files import load_image_folder
from ganzoo.errors import DataError


def test_embedded_mnist_is_the_real_test_split():
    dataset = load_embedded_mnist(DataConfig(image_size=28))
    assert dataset.images.shape == (10_000, 1, 28, 28) and dataset.images.dtype == torch.uint8
    assert torch.bincount(dataset.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert dataset.class_names == [str(d) for d in range(10)]


def test_resizing_and_limit_happen_once_on_the_whole_tensor():
    dataset = load_embedded_mnist(DataConfig(image_size=32, limit=100, channels=3))
    assert dataset.images.shape == (100, 3, 32, 32) and dataset.images.dtype == torch.uint8
    batch = dataset.batch(torch.arange(10))
    assert batch.images.dtype == torch.float32 and batch.images.min() >= -1 and batch.images.max() <= 1
    assert batch.labels.shape == (10,)


def test_unit_range_round_trips_to_uint8():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    assert torch.equal(to_uint8(to_unit_range(pixels)), pixels)


def test_epoch_order_depends_only_on_seed_and_epoch():
    assert torch.equal(epoch_order(50, seed=1, epoch=3), epoch_order(50, seed=1, epoch=3))
    assert not torch.equal(epoch_order(50, seed=1, epoch=3), epoch_order(50, seed=1, epoch=4))
    assert sorted(epoch_order(50, seed=1, epoch=3).tolist()) == list(range(50))


def test_mnist_in_torchvision_layout_loads(tmp_path, mnist_files):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, data in mnist_files.items():  # torchvision wants the unpacked files for both splits
        for split in ("train", "t10k"):
            (raw / name.replace("t10k", split)).write_bytes(data)
    dataset = load_mnist(DataConfig(name="mnist", root=tmp_path, split="train", image_size=28))
    assert dataset.images.shape == (10_000, 1, 28, 28) and dataset.name == "mnist-train"


def test_missing_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="MNIST not found under .*add --download"):
        load_mnist(DataConfig(name="mnist", root=tmp_path))


def test_truncated_idx_is_refused(tmp_path, mnist_files):
    broken = tmp_path / "broken-idx3-ubyte"
    broken.write_bytes(mnist_files["t10k-images-idx3-ubyte"][:1000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(broken)


def test_image_folder_handles_mixed_sizes_and_modes(tmp_path):
    for index, (size, mode) in enumerate([((40, 30), "RGB"), ((20, 20), "L"), ((64, 64), "RGBA")]):
        folder = tmp_path / f"class{index % 2}"
        folder.mkdir(exist_ok=True)
        Image.new(mode, size, color=index * 60 if mode == "L" else (index * 60,) * len(mode)).save(
            folder / f"{index}.png")
    dataset = load_image_folder(DataConfig(name="image-folder", root=tmp_path, image_size=16))
    assert dataset.images.shape == (3, 3, 16, 16) and dataset.class_names == ["class0", "class1"]
    grey = load_image_folder(DataConfig(name="image-folder", root=tmp_path, image_size=16, channels=1))
    assert grey.images.shape == (3, 1, 16, 16)


def test_empty_image_folder_is_refused(tmp_path):
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(DataConfig(name="image-folder", root=tmp_path))


@pytest.fixture(scope="module")
def mnist_files() -> dict[str, bytes]:
    from ganzoo.data.dataset import EMBEDDED_MNIST

    return {name.removesuffix(".gz"): gzip.decompress((EMBEDDED_MNIST / name).read_bytes())
            for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
