"""The named datasets (Fashion-MNIST, CIFAR-10, CelebA), read from small synthetic files in each
dataset's real on-disk format, offline; and the streaming path for datasets over the memory budget,
which must give the in-memory path's batches and resume bit-exactly."""

from __future__ import annotations

import gzip
import os
import pickle
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import ImageDataset, epoch_order
from ganzoo.data.files import StreamingImageDataset
from ganzoo.data.loading import resize_and_crop
from ganzoo.data.named import FASHION_MNIST_CLASSES
from ganzoo.errors import DataError
from ganzoo.training.build import load_dataset
from ganzoo.training.loop import train

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here is offline: an internet connection attempt fails at once. Local (Unix)
    sockets stay allowed: DataLoader workers pass their batches' memory through them."""
    connect = socket.socket.connect

    def refuse_internet(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network disabled in tests")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", refuse_internet)


# -- writers of the real formats ---------------------------------------------------------------


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def fashion_mnist(root: Path, counts: dict[str, int] = {"train": 12, "t10k": 6}) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    written = {}
    for prefix, count in counts.items():
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        write_idx_gz(root / "FashionMNIST" / "raw" / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(root / "FashionMNIST" / "raw" / f"{prefix}-labels-idx1-ubyte.gz", labels)
        written[prefix] = images
    return written


def cifar10(root: Path, per_batch: int = 4) -> dict[str, np.ndarray]:
    """CIFAR-10's python batches: dicts of ``data`` (N, 3072) uint8 rows (R, G, B planes) and
    ``labels``, pickled with protocol 2 as the real files are; plus ``batches.meta``."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for index, name in enumerate([f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch = {"batch_label": f"synthetic batch {index}", "labels": [(index + i) % 10 for i in range(per_batch)],
                 "data": data, "filenames": [f"image_{index}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = data
    meta = {"num_cases_per_batch": per_batch, "label_names": CIFAR_NAMES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def celeba(root: Path, partition: list[int] = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]) -> Path:
    """CelebA's extracted layout: 178x218 aligned JPEGs, the partition list and the attribute file."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(2)
    names = [f"{number:06d}.jpg" for number in range(1, len(partition) + 1)]
    for name in names:
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=90)
    (folder / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, p in zip(names, partition)))
    attributes = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Smiling", "Young"]
    rows = "".join(f"{n} " + " ".join(rng.choice(["-1", " 1"], len(attributes))) + "\n" for n in names)
    (folder / "list_attr_celeba.txt").write_text(f"{len(names)}\n{' '.join(attributes)}\n{rows}")
    return folder


def image_folder(root: Path, count: int = 96) -> Path:
    rng = np.random.default_rng(3)
    for index in range(count):
        folder = root / f"class_{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / f"{index:04d}.png")
    return root


# -- Fashion-MNIST -------------------------------------------------------------------------------


def test_fashion_mnist_reads_torchvisions_raw_folder_with_its_class_names(tmp_path):
    written = fashion_mnist(tmp_path)
    train_split = load_dataset(DataConfig(name="fashion-mnist", root=tmp_path, image_size=28))
    assert train_split.images.shape == (12, 1, 28, 28)
    assert torch.equal(train_split.images[:, 0], torch.from_numpy(written["train"]))
    assert train_split.class_names == FASHION_MNIST_CLASSES and train_split.labels.tolist()[:3] == [0, 1, 2]
    assert "in memory" in train_split.note
    test_split = load_dataset(DataConfig(name="fashion-mnist", root=tmp_path, split="test", image_size=28))
    assert torch.equal(test_split.images[:, 0], torch.from_numpy(written["t10k"]))


def test_missing_fashion_mnist_offline_names_the_files_and_the_folder(tmp_path):
    with pytest.raises(DataError) as raised:
        load_dataset(DataConfig(name="fashion-mnist", root=tmp_path))
    message = str(raised.value)
    assert "\n" not in message and "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message and "--download" in message


def test_download_without_a_network_fails_in_one_line(tmp_path):
    with pytest.raises(DataError, match=r"^could not download FashionMNIST into .*no network.*put the IDX files"):
        load_dataset(DataConfig(name="fashion-mnist", root=tmp_path, download=True))
    # MNIST takes the same path (ganzoo.data.dataset.load_idx_dataset), with its own advice
    with pytest.raises(DataError, match=r"^could not download MNIST into .*no network.*copy the IDX files to "
                                        r".*MNIST/raw or use the embedded data \(--dataset mnist-embedded\)$"):
        load_dataset(DataConfig(name="mnist", root=tmp_path, split="test", download=True))


# -- CIFAR-10 ------------------------------------------------------------------------------------


def test_cifar10_reads_the_python_batches_in_order_with_the_meta_class_names(tmp_path):
    written = cifar10(tmp_path)
    train_split = load_dataset(DataConfig(name="cifar10", root=tmp_path))
    assert train_split.images.shape == (20, 3, 32, 32) and train_split.class_names == CIFAR_NAMES
    first = written["data_batch_1"][0]
    assert torch.equal(train_split.images[0, 0].flatten(), torch.from_numpy(first[:1024]))  # the red plane
    assert torch.equal(train_split.images[4].flatten(), torch.from_numpy(written["data_batch_2"][0]))
    assert train_split.labels[:5].tolist() == [0, 1, 2, 3, 1]
    test_split = load_dataset(DataConfig(name="cifar10", root=tmp_path, split="test"))
    assert len(test_split) == 4 and test_split.name == "cifar10-test"


def test_an_incomplete_cifar10_names_the_missing_batches(tmp_path):
    cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"lacks data_batch_3 \(expected data_batch_1, .*batches.meta\); extract"):
        load_dataset(DataConfig(name="cifar10", root=tmp_path))


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_imports_code_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({"data": Exploit(), "labels": []}, protocol=2))
    with pytest.raises(DataError, match=r"refused .*data_batch_1.*asks to import posix.system"):
        load_dataset(DataConfig(name="cifar10", root=tmp_path))
    assert not (tmp_path / "pwned").exists()


def test_a_truncated_cifar10_batch_is_one_line(tmp_path):
    cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"data_batch_2' is truncated or corrupt .*re-download CIFAR-10"):
        load_dataset(DataConfig(name="cifar10", root=tmp_path))


def test_conditional_variants_train_on_cifar10_labels(tmp_path, tiny_config):
    cifar10(tmp_path / "data")
    plan = tiny_config("cgan-mlp", data={"name": "cifar10", "root": str(tmp_path / "data"), "image_size": 16,
                                         "limit": None}, run={"batch_size": 4, "max_steps": 2})
    result = train(plan)
    from ganzoo.generators.weights import load_generator

    generator = load_generator(result.generator_path, device="cpu")
    assert generator.num_classes == 10 and generator.image_shape == (3, 16, 16)


# -- CelebA --------------------------------------------------------------------------------------


def test_celeba_splits_by_the_partition_file_and_crops_like_the_dcgan_tutorial(tmp_path):
    folder = celeba(tmp_path)
    train_split = load_dataset(DataConfig(name="celeba", root=tmp_path, image_size=64))
    assert train_split.images.shape == (6, 3, 64, 64) and train_split.class_names is None
    from ganzoo.data.image_files import decode_image

    expected = resize_and_crop(decode_image(folder / "img_align_celeba" / "000001.jpg", 3), 64)
    assert torch.equal(train_split.images[0], expected)
    assert len(load_dataset(DataConfig(name="celeba", root=tmp_path, split="valid", image_size=64))) == 2
    assert len(load_dataset(DataConfig(name="celeba", root=tmp_path, split="test", image_size=64))) == 2


def test_celebas_size_is_64_unless_the_variant_or_the_user_says_otherwise():
    from ganzoo.training.plan import make_plan

    def size(*flags: dict) -> int:
        return make_plan([{"variant": "dcgan", "data": {"name": "celeba"}}, *flags]).config.data.image_size

    assert size() == 64 and size({"data": {"image_size": 32}}) == 32
    assert make_plan([{"variant": "dcgan", "data": {"name": "cifar10"}}]).config.data.image_size == 32
    assert make_plan([{"variant": "mlp"}]).config.data.image_size == 32


def test_celeba_missing_or_incomplete_is_one_line_naming_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"CelebA is not under .*img_align_celeba/\*\.jpg, .*list_eval_partition.txt "
                                        r"and .*list_attr_celeba.txt; .*--download"):
        load_dataset(DataConfig(name="celeba", root=tmp_path))
    folder = celeba(tmp_path)
    (folder / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(DataError, match=r"1 of the 6 train images .* missing \(first: .*000003.jpg'\)"):
        load_dataset(DataConfig(name="celeba", root=tmp_path))
    with pytest.raises(DataError, match="dataset 'cifar10' has no 'valid' split"):
        load_dataset(DataConfig(name="cifar10", root=tmp_path, split="valid"))


@pytest.mark.slow
def test_the_cli_trains_dcgan_on_cifar10_and_celeba_in_colour(tmp_path, run_cli):
    from ganzoo.generators.weights import load_generator

    cifar10(tmp_path / "cifar")
    celeba(tmp_path / "faces", partition=[0] * 8)
    runs = {"cifar10": ("cifar", (3, 32, 32)), "celeba": ("faces", (3, 64, 64))}  # CelebA's own default size
    for dataset, (root, shape) in runs.items():
        done = run_cli("train", "dcgan", "--dataset", dataset, "--data-root", str(tmp_path / root),
                       "--max-steps", "2", "--batch-size", "4", "--device", "cpu", "--out",
                       str(tmp_path / dataset), "--set", "model.ngf=8", "--set", "model.ndf=8")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "in memory" in done.stdout
        assert load_generator(tmp_path / dataset / "generator.safetensors", device="cpu").image_shape == shape


# -- the streaming path --------------------------------------------------------------------------


def folder_config(root: Path, **settings: object) -> DataConfig:
    return DataConfig(name="image-folder", root=root, image_size=16, **settings)


def test_a_folder_over_the_memory_budget_streams_the_same_batches(tmp_path):
    root = image_folder(tmp_path / "images")
    in_memory = load_dataset(folder_config(root))
    streamed = load_dataset(folder_config(root, memory_budget_mb=0.05, workers=2))
    assert isinstance(in_memory, ImageDataset) and isinstance(streamed, StreamingImageDataset)
    tiny = load_dataset(folder_config(root, stream=True))
    assert isinstance(tiny, StreamingImageDataset) and "streaming from disk (data.stream = true)" in tiny.note
    order = epoch_order(len(in_memory), seed=3, epoch=1)
    pairs = zip(in_memory.batches(order, start=16, batch_size=16), tiny.batches(order, start=16, batch_size=16))
    count = 0
    for expected, got in pairs:
        assert torch.equal(expected.images, got.images) and torch.equal(expected.labels, got.labels)
        count += 1
    assert count == 5 and streamed.image_shape == (3, 16, 16) and streamed.num_classes == 3


def test_evaluation_reads_the_same_reference_images_from_a_streamed_folder(tmp_path):
    from ganzoo.metrics.reference import reference_subset

    root = image_folder(tmp_path / "images")
    in_memory = load_dataset(folder_config(root))
    streamed = load_dataset(folder_config(root, stream=True, workers=2))
    for num_real in (None, 10):
        expected, expected_labels = reference_subset(in_memory, num_real)
        got, got_labels = reference_subset(streamed, num_real)
        assert got.dtype == torch.uint8 and torch.equal(got, expected) and torch.equal(got_labels, expected_labels)


def test_over_the_budget_without_streaming_is_refused_in_one_line(tmp_path):
    root = image_folder(tmp_path / "images", count=3)
    with pytest.raises(DataError, match=r"3 images of 3x512x512 take 2.2 MiB as uint8, more than the memory budget "
                                        r"of 1 MiB .*data.stream = auto$"):
        load_dataset(DataConfig(name="image-folder", root=root, image_size=512, memory_budget_mb=1, stream=False))
    cifar10(tmp_path / "cifar")
    with pytest.raises(DataError, match="read from one array file and cannot be streamed"):
        load_dataset(DataConfig(name="cifar10", root=tmp_path / "cifar", stream=True))


def test_the_cache_is_written_once_and_keyed_by_the_files(tmp_path):
    root = image_folder(tmp_path / "images", count=20)
    cache = tmp_path / "cache"
    expected = load_dataset(folder_config(root))
    cached = load_dataset(folder_config(root, cache_dir=cache))
    streamed = load_dataset(folder_config(root, cache_dir=cache, stream=True))
    [written] = list(cache.iterdir())
    assert written.suffix == ".npy" and torch.equal(cached.images, expected.images)
    indices = torch.tensor([5, 0, 19, 7])
    assert torch.equal(streamed.batch(indices).images, expected.batch(indices).images)
    touched = root / "class_0" / "0000.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    load_dataset(folder_config(root, cache_dir=cache))
    assert len(list(cache.iterdir())) == 2  # a changed file names another cache; the old one is never read


def weights(result) -> dict[str, torch.Tensor]:
    state = load_file(result.checkpoint_path)
    return {key: value for key, value in state.items() if key.startswith(("state.generator", "state.discriminator"))}


def test_a_streamed_run_resumes_bit_exactly_and_equals_the_in_memory_run(tmp_path, tiny_config):
    root = image_folder(tmp_path / "images")
    data = {"name": "image-folder", "root": str(root), "image_size": 16, "limit": None}
    streamed = {**data, "memory_budget_mb": 0.05, "workers": 2}  # 96 images of 3x16x16 are 72 KiB

    def plan(name: str, data_settings: dict, **run: object):
        return tiny_config("mlp", data=data_settings, run={"out_dir": str(tmp_path / name), "epochs": 2,
                                                           "batch_size": 16, "sample_every_epochs": 0, **run})

    in_memory = train(plan("memory", data))
    straight = train(plan("straight", streamed))
    assert straight.progress.global_step == in_memory.progress.global_step == 12
    train(plan("split", streamed, max_steps=3))  # stopped inside the first epoch
    resumed = train(plan("split", streamed), resume=True)
    assert resumed.progress.global_step == 12
    reference = weights(in_memory)
    assert reference and all(torch.equal(reference[key], weights(straight)[key]) for key in reference)
    assert all(torch.equal(reference[key], weights(resumed)[key]) for key in reference)
