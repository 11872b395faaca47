"""Every file ganzoo reads is checked in one place (``ganzoo.io.inputs``), and every user mistake in
an input file or value is one line: paths that are not regular readable files, configs in the
wrong encoding, images whose mode would load silently wrong, damaged MNIST IDX files, weights
whose metadata lies or that generate NaN, evaluations that cannot give a result, caches that are
present but wrong, and settings that are NaN or nonsense. Real files throughout; the CLI cases
run ``ganzoo.cli.main`` and check exit code 2 and exactly one ``error:`` line."""

from __future__ import annotations

import gzip
import json
import math
import os
import socket
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

import ganzoo
from ganzoo.cli import main
from ganzoo.config import load_config_file
from ganzoo.core.interfaces import Generator
from ganzoo.core.options import DataConfig
from ganzoo.core.registry import get_registry
from ganzoo.data.dataset import EMBEDDED_MNIST, ImageDataset, load_embedded_mnist, load_mnist, read_idx
from ganzoo.data.files import load_image_folder
from ganzoo.data.image_files import decode_image
from ganzoo.errors import ConfigError, DataError, GanzooError, WeightsError
from ganzoo.generators.weights import load_generator, read_generator_metadata, save_generator
from ganzoo.io.inputs import open_input, read_input_bytes
from ganzoo.metrics.preflight import check_evaluable_shape, check_sample_counts
from ganzoo.testing import resigned


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the real CLI; it must exit 2 with exactly one ``error:`` line, which is returned."""
    code = main(list(argv))
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, lines)
    return lines[0]


def generator_file(path: Path, variant: str = "mlp", shape: tuple[int, int, int] = (1, 8, 8),
                   num_classes: int | None = None) -> Path:
    """A real, untrained generator file; MLP widths [16, 16] so it holds a BatchNorm."""
    spec = get_registry().get("variant", variant)
    options = spec.spec.config_model(latent_dim=8, generator_widths=[16, 16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = spec.spec.build_generator(options, shape, num_classes)
    names = [str(i) for i in range(num_classes)] if num_classes else None
    save_generator(generator, path, variant=variant, model_config=options.model_dump(mode="json"),
                   plugin=spec.plugin, class_names=names)
    return path


def tampered(source: Path, target: Path, *, metadata: dict[str, str] | None = None,
             tensors: dict[str, Tensor] | None = None) -> Path:
    """A copy of a generator file with some metadata entries or tensors replaced."""
    with safe_open(str(source), "pt") as handle:
        state = {name: handle.get_tensor(name) for name in handle.keys()}
        meta = dict(handle.metadata())
    save_file({**state, **(tensors or {})}, str(target), metadata=resigned({**meta, **(metadata or {})}))
    return target


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own directory as the working directory, with a private cache and no Inception."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    return tmp_path


# -- ganzoo.io.inputs: paths that are not readable regular files --------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()


@pytest.mark.parametrize(("make", "expected"), [
    (None, "does not exist; check the path"),
    (lambda p: p.mkdir(), "is a directory, not a file"),
    (_fifo, "is a named pipe (FIFO), not a regular file"),
    (_socket, "is a socket, not a regular file"),
    (lambda p: p.symlink_to(p.parent / "gone"), "does not exist (it is a symbolic link to a missing file)"),
], ids=["missing", "directory", "fifo", "socket", "dangling-link"])
def test_a_path_that_is_not_a_readable_regular_file_is_one_line(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "thing"
    if make:
        make(path)
    with pytest.raises(WeightsError) as raised:
        open_input(path, "weights file", error=WeightsError)  # a FIFO would block forever if it were opened
    assert str(raised.value).startswith(f"weights file {str(path)!r} ") and expected in str(raised.value)


def test_a_path_under_a_file_and_an_absurd_size_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x" * 100)
    with pytest.raises(GanzooError, match="a part of its path is a file, not a directory"):
        read_input_bytes(tmp_path / "notes.txt" / "config.toml", "config file")
    with pytest.raises(GanzooError, match=r"is 100 bytes, more than the 10 bytes a config file can sensibly be"):
        read_input_bytes(tmp_path / "notes.txt", "config file", max_bytes=10)


def test_no_read_permission_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Tests run as root, who may read anything: the refusal is simulated where the OS answers."""
    locked = generator_file(tmp_path / "w.safetensors")
    real_access, real_open = os.access, os.open
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != locked and real_access(p, mode, **kw))
    assert "cannot read weights file" in refused(capsys, "sample", str(locked), "--out", str(tmp_path / "s.png"))
    monkeypatch.setattr(os, "access", real_access)

    def no_permission(path, flags, *args, **kwargs):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_permission)
    line = refused(capsys, "sample", str(locked), "--out", str(tmp_path / "s.png"))
    assert "permission denied; give yourself read permission" in line


def test_fifos_as_weights_config_and_image_never_block(scene: Path, capsys) -> None:
    os.mkfifo("w.safetensors")
    os.mkfifo("c.toml")
    (scene / "images" / "cats").mkdir(parents=True)
    os.mkfifo(scene / "images" / "cats" / "a.png")
    assert "is a named pipe (FIFO)" in refused(capsys, "sample", "w.safetensors", "--out", "s.png")
    assert "config file 'c.toml' is a named pipe" in refused(capsys, "train", "--config", "c.toml")
    with pytest.raises(DataError, match=r"image '.*a\.png' is a named pipe"):
        load_image_folder(DataConfig(name="image-folder", root=scene / "images", image_size=8))


# -- config files: encodings ---------------------------------------------------------------------


def test_config_files_must_be_utf8_a_bom_is_fine(tmp_path: Path, capsys) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + 'variant = "mlp"\n'.encode())
    assert load_config_file(bom) == {"variant": "mlp"}
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text('variant = "mlp"\n', encoding="utf-16")
    with pytest.raises(ConfigError, match=r"utf16.toml' is UTF-16 text, not UTF-8; save it as UTF-8"):
        load_config_file(utf16)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("# café\nvariant: mlp\n".encode("latin-1"))
    line = refused(capsys, "train", "--config", str(latin))
    assert "latin.yaml' is not UTF-8 text (byte 0xe9 at offset 5); save it as UTF-8" in line


# -- images that would load silently wrong ----------------------------------------------------------


def _save(tmp_path: Path, image: Image.Image, name: str) -> Path:
    path = tmp_path / name
    image.save(path)
    return path


@pytest.mark.parametrize(("mode", "suffix"), [("I;16", "png"), ("I;16B", "tiff")])
def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path, mode: str, suffix: str) -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    image = Image.fromarray(values.astype(">u2") if mode == "I;16B" else values)
    assert image.mode == mode
    decoded = decode_image(_save(tmp_path, image, f"a.{suffix}"), channels=1)
    assert decoded.tolist() == [[[0, 1, 128, 255]]]  # PIL's convert("L") gives 0, 255, 255, 255
    assert decode_image(tmp_path / f"a.{suffix}", channels=3).shape == (3, 1, 4)


def test_float_tiff_in_unit_range_is_scaled_others_are_refused(tmp_path: Path) -> None:
    unit = _save(tmp_path, Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)), "unit.tiff")
    assert decode_image(unit, channels=1).tolist() == [[[0, 128, 255]]]  # PIL's convert("L") gives 0, 0, 1
    wide = _save(tmp_path, Image.fromarray(np.array([[0.0, 255.0]], dtype=np.float32)), "wide.tiff")
    with pytest.raises(DataError) as raised:
        decode_image(wide, channels=1)
    message = str(raised.value)
    assert "wide.tiff" in message and "(mode F)" in message and "[0, 255]" in message
    assert "save it as an 8-bit PNG" in message
    nan = _save(tmp_path, Image.fromarray(np.array([[0.5, np.nan]], dtype=np.float32)), "nan.tiff")
    with pytest.raises(DataError, match=r"values in \[0.5, 0.5\] and NaN or Inf"):
        decode_image(nan, channels=1)


def test_thirty_two_bit_integer_images_are_refused(tmp_path: Path) -> None:
    path = _save(tmp_path, Image.fromarray(np.array([[0, 70000]], dtype=np.int32)), "deep.tiff")
    with pytest.raises(DataError, match=r"deep.tiff' is 32-bit integer \(mode I\) with values in \[0, 70000\]"):
        decode_image(path, channels=1)


def test_transparency_is_composited_onto_white(tmp_path: Path) -> None:
    rgba = np.array([[[0, 0, 0, 0], [200, 0, 0, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    decoded = decode_image(_save(tmp_path, Image.fromarray(rgba), "rgba.png"), channels=3)
    assert decoded[:, 0, :].T.tolist() == [[255, 255, 255], [200, 0, 0], [127, 127, 127]]
    la = Image.new("LA", (2, 1))
    la.putdata([(10, 0), (10, 255)])
    assert decode_image(_save(tmp_path, la, "la.png"), channels=1).tolist() == [[[255, 10]]]
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.putdata([0, 1])
    palette.save(tmp_path / "p.png", transparency=0)
    assert decode_image(tmp_path / "p.png", channels=3)[:, 0, :].T.tolist() == [[255, 255, 255], [255, 0, 0]]


def test_one_bit_cmyk_and_orientation(tmp_path: Path) -> None:
    one_bit = Image.new("1", (2, 1))
    one_bit.putdata([0, 1])
    assert decode_image(_save(tmp_path, one_bit, "bit.png"), channels=1).tolist() == [[[0, 255]]]
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))
    assert decode_image(_save(tmp_path, cmyk, "cmyk.tiff"), channels=3)[:, 0, 0].tolist() == [255, 0, 0]
    sideways = Image.new("L", (16, 8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display"
    sideways.save(tmp_path / "photo.jpg", exif=exif)
    assert decode_image(tmp_path / "photo.jpg", channels=1).shape == (1, 16, 8)


def test_an_image_folder_of_every_mode_loads_what_the_files_show(tmp_path: Path) -> None:
    folder = tmp_path / "images" / "all"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(folder / "deep.png")
    Image.fromarray(np.full((8, 8), 1.0, dtype=np.float32)).save(folder / "float.tiff")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(folder / "clear.png")
    Image.new("L", (8, 8), 255).save(folder / "plain.png")
    dataset = load_image_folder(DataConfig(name="image-folder", root=tmp_path / "images", image_size=8, channels=1))
    assert dataset.images.shape == (4, 1, 8, 8) and bool((dataset.images == 255).all())


def test_an_image_folder_that_is_a_file_is_named_as_one(tmp_path: Path) -> None:
    (tmp_path / "images").write_text("not a folder")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_image_folder(DataConfig(name="image-folder", root=tmp_path / "images"))


def test_an_unconvertible_image_in_training_is_one_line(scene: Path, capsys) -> None:
    (scene / "images" / "a").mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 3.5, dtype=np.float32)).save(scene / "images" / "a" / "x.tiff")
    line = refused(capsys, "train", "mlp", "--dataset", "image-folder", "--data-root", "images", "--device", "cpu")
    assert "x.tiff' is 32-bit float (mode F) with values in [3.5, 3.5]" in line


# -- MNIST IDX files --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_bytes() -> dict[str, bytes]:
    return {name: gzip.decompress((EMBEDDED_MNIST / f"{name}.gz").read_bytes())
            for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _mnist_root(tmp_path: Path, images: bytes, labels: bytes, *, gz: bool) -> Path:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    suffix = ".gz" if gz else ""
    (raw / f"train-images-idx3-ubyte{suffix}").write_bytes(gzip.compress(images) if gz else images)
    (raw / f"train-labels-idx1-ubyte{suffix}").write_bytes(gzip.compress(labels) if gz else labels)
    return tmp_path / "data"


def test_gzipped_only_mnist_loads(tmp_path: Path, mnist_bytes: dict[str, bytes]) -> None:
    """torchvision calls this layout "not found"; the files are there, so it loads."""
    root = _mnist_root(tmp_path, *mnist_bytes.values(), gz=True)
    dataset = load_mnist(DataConfig(name="mnist", root=root, image_size=28))
    assert dataset.images.shape == (10_000, 1, 28, 28) and dataset.name == "mnist-train"


def test_truncated_idx_files_are_called_truncated(tmp_path: Path, mnist_bytes: dict[str, bytes]) -> None:
    images = mnist_bytes["t10k-images-idx3-ubyte"]
    cut = tmp_path / "t10k-images-idx3-ubyte.gz"
    whole = gzip.compress(images)
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError) as raised:
        read_idx(cut)
    assert ("t10k-images-idx3-ubyte.gz' is truncated or corrupt (its gzip stream ends early): its header promises "
            "10000 images of 28x28 (7,840,016 bytes), the file unpacks to") in str(raised.value)
    assert str(raised.value).endswith("re-download it")
    raw = tmp_path / "raw-idx3-ubyte"
    raw.write_bytes(images[:5000])
    with pytest.raises(DataError, match=r"promises 10000 images of 28x28 \(7,840,016 bytes\), the file holds 5,000"):
        read_idx(raw)
    raw.write_bytes(images + b"\0")
    with pytest.raises(DataError, match="is corrupt: its header promises 10000 images"):
        read_idx(raw)


def test_a_gzip_bomb_is_refused_without_unpacking_it(tmp_path: Path, mnist_bytes: dict[str, bytes]) -> None:
    """A header promising MNIST's 7.8 MB, then 512 MiB of zeros in a 0.5 MB gzip: refused once
    unpacking passes the promise, so memory stays near what the header says, not the bomb's size."""
    bomb = tmp_path / "t10k-images-idx3-ubyte.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**24)
    parts = [compressor.compress(mnist_bytes["t10k-images-idx3-ubyte"][:16])]
    parts += [compressor.compress(zeros) for _ in range(32)]
    bomb.write_bytes(b"".join([*parts, compressor.flush()]))
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as raised:
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ("is corrupt: its header promises 10000 images of 28x28 (7,840,016 bytes), the file unpacks to more "
            "than 7,840,016") in str(raised.value)
    assert peak < 64 * 2**20, f"read_idx held {peak / 2**20:.0f} MiB for a 7.8 MB promise"


def test_damaged_or_foreign_idx_files_are_named(tmp_path: Path, mnist_bytes: dict[str, bytes]) -> None:
    labels = mnist_bytes["t10k-labels-idx1-ubyte"]
    damaged = bytearray(gzip.compress(labels))
    damaged[len(damaged) // 2] ^= 0xFF
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match="is a damaged gzip file"):
        read_idx(path)
    path.write_bytes(b"hello, this is a text file\n")
    with pytest.raises(DataError, match="is not an unsigned-byte IDX file"):
        read_idx(path)
    path.write_bytes(b"\0\0\x0d\x01" + (2).to_bytes(4, "big") + b"\0" * 8)
    with pytest.raises(DataError, match="is an IDX file of floats"):
        read_idx(path)
    path.write_bytes(b"\0\0\x08\x03" + (0).to_bytes(4, "big") * 3)
    with pytest.raises(DataError, match="impossible shape 0x0x0"):
        read_idx(path)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda images, labels: (images, labels[:4] + (9999).to_bytes(4, "big") + labels[8:-1]),
     "holds 9999 labels for the 10000 images"),
    (lambda images, labels: (images, labels[:8] + b"\x0b" + labels[9:]), "holds the label 11; MNIST's are 0..9"),
    (lambda images, labels: (images[:8] + (14).to_bytes(4, "big") + (56).to_bytes(4, "big") + images[16:], labels),
     "holds 10000 images of 14x56, not MNIST's images of 28x28"),
], ids=["label-count", "label-range", "image-size"])
def test_mnist_files_that_disagree_are_refused(tmp_path: Path, mnist_bytes: dict[str, bytes], edit,
                                               expected: str) -> None:
    images, labels = edit(*mnist_bytes.values())
    root = _mnist_root(tmp_path, images, labels, gz=False)
    with pytest.raises(DataError, match=expected):
        load_mnist(DataConfig(name="mnist", root=root))


def test_truncated_mnist_in_training_is_one_line_not_not_found(scene: Path, capsys,
                                                               mnist_bytes: dict[str, bytes]) -> None:
    images, labels = mnist_bytes.values()
    _mnist_root(scene, images[: len(images) // 3], labels, gz=True)
    line = refused(capsys, "train", "mlp", "--dataset", "mnist", "--data-root", "data", "--device", "cpu")
    assert "train-images-idx3-ubyte.gz' is truncated or corrupt" in line and "not found" not in line


# -- weights: metadata that lies, weights that generate NaN ----------------------------------------


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"image_shape": "[-1, 8, 8]"}, "image_shape.0: Input should be greater than 0 (got -1)"),
    ({"image_shape": "[1, 0, 8]"}, "image_shape.1: Input should be greater than 0 (got 0)"),
    ({"image_shape": "[1, 8, 1000000]"}, "image_shape.2: Input should be less than or equal to 16384"),
    ({"latent_dim": "0"}, "latent_dim: Input should be greater than 0"),
    ({"num_classes": "3", "class_names": '["a"]'}, "1 class names for num_classes 3"),
    ({"image_shape": "[1.0, 8, 8]"}, "image_shape.0: Input should be a valid integer"),
    ({"image_shape": '["1", 8, 8]'}, "image_shape.0: Input should be a valid integer"),
    ({"image_shape": "[true, 8, 8]"}, "image_shape.0: Input should be a valid integer"),
    ({"latent_dim": "true"}, "latent_dim: Input should be a valid integer"),
    ({"variant": "mlp\nerror: forged"}, "variant: String should match pattern"),
    ({"plugin_version": "not a version"}, "plugin_version: String should match pattern"),
    ({"class_names": "null", "num_classes": "[10]"}, "num_classes"),
], ids=["negative", "zero", "huge", "latent", "class-names", "float-side", "string-side", "bool-side", "bool-latent",
        "newline-variant", "version-text", "list-count"])
def test_metadata_that_cannot_be_true_is_refused(tmp_path: Path, metadata: dict[str, str], expected: str) -> None:
    path = tampered(generator_file(tmp_path / "valid.safetensors"), tmp_path / "w.safetensors", metadata=metadata)
    with pytest.raises(WeightsError, match="corrupt ganzoo metadata") as raised:
        read_generator_metadata(path)
    assert expected in str(raised.value)


def test_metadata_edited_after_writing_is_refused_by_its_digest(tmp_path: Path) -> None:
    """A consistent-looking edit (the same pixels, another shape) samples scrambled images
    unless something notices: the digest over the metadata does."""
    valid = generator_file(tmp_path / "valid.safetensors")
    with safe_open(str(valid), "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = {**handle.metadata(), "image_shape": "[1, 4, 16]"}
    save_file(tensors, str(tmp_path / "w.safetensors"), metadata=metadata)  # edited, not re-signed
    with pytest.raises(WeightsError, match="its metadata was changed after it was written"):
        read_generator_metadata(tmp_path / "w.safetensors")


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"ganzoo_version": "99.0.0"}, "was written by ganzoo 99.0.0, newer than the installed"),
    ({"padding": "x" * 2**21}, "bytes of metadata, more than any generator's"),
], ids=["future", "megabytes"])
def test_metadata_from_the_future_or_too_large_is_refused(tmp_path: Path, metadata: dict[str, str],
                                                          expected: str) -> None:
    path = tampered(generator_file(tmp_path / "valid.safetensors"), tmp_path / "w.safetensors", metadata=metadata)
    with pytest.raises(WeightsError, match=expected):
        read_generator_metadata(path)


def test_a_conditional_file_that_says_it_is_unconditional_is_about_the_file(scene: Path, capsys) -> None:
    source = generator_file(scene / "c.safetensors", "cgan-mlp", num_classes=10)
    tampered(source, scene / "w.safetensors", metadata={"num_classes": "null", "class_names": "null"})
    for extra in (["--label", "3"], ["--grid-by-class"]):
        line = refused(capsys, "sample", "w.safetensors", "--out", "s.png", *extra)
        assert "'w.safetensors' says it is unconditional (num_classes: null), but its variant 'cgan-mlp' is " \
               "conditional" in line and "dataset" not in line


def test_a_file_from_an_older_plugin_that_no_longer_fits_says_retrain_or_pin(scene: Path, capsys) -> None:
    """A plugin that changed its model (an option dropped, a layer resized) since a file was
    written: the line names both versions and both ways out, not "damaged" and not a config fix."""
    source = generator_file(scene / "c.safetensors", "cgan-mlp", num_classes=10)
    meta = read_generator_metadata(source)
    old_config = json.dumps({**meta.model_config_, "dropped_option": 50})
    tampered(source, scene / "old-config.safetensors", metadata={"plugin_version": "0.0.1", "model_config": old_config})
    line = refused(capsys, "sample", "old-config.safetensors", "--out", "s.png")
    assert "model.dropped_option: unknown setting" in line
    assert f"written by {meta.plugin} 0.0.1 and" in line and f"pip install {meta.plugin}==0.0.1" in line
    old_tensors = {"net.0.weight": torch.zeros(16, 99)}
    tampered(source, scene / "old-shape.safetensors", metadata={"plugin_version": "0.0.1"}, tensors=old_tensors)
    line = refused(capsys, "sample", "old-shape.safetensors", "--out", "s.png")
    assert "has shape (16, 99)" in line and "retrain it" in line and "damaged" not in line
    tampered(source, scene / "same-version.safetensors", tensors=old_tensors)
    assert "damaged or from another model" in refused(capsys, "sample", "same-version.safetensors", "--out", "s.png")
    assert not (scene / "s.png").exists()


def test_weights_that_generate_nan_are_refused_at_load(tmp_path: Path) -> None:
    source = generator_file(tmp_path / "valid.safetensors")
    with safe_open(str(source), "pt") as handle:
        names = list(handle.keys())
    variances = {name: -torch.ones(16) for name in names if name.endswith("running_var")}
    assert variances, "the MLP generator should hold a BatchNorm"
    with pytest.raises(WeightsError, match="holds negative variances"):
        load_generator(tampered(source, tmp_path / "bn.safetensors", tensors=variances), device="cpu")
    rng = torch.Generator().manual_seed(1)
    with safe_open(str(source), "pt") as handle:
        huge = {name: torch.sign(torch.randn(handle.get_tensor(name).shape, generator=rng)) * 3e38
                for name in names if "running" not in name and "num_batches" not in name}
    with pytest.raises(WeightsError, match=r"makes NaN or Inf images from these weights \(16 of 16 probe images\)"):
        load_generator(tampered(source, tmp_path / "huge.safetensors", tensors=huge), device="cpu")


class ReplayGenerator(Generator):
    """Plays back real images; NaN for the latents whose first value exceeds ``nan_above``."""

    def __init__(self, images: Tensor, nan_above: float = math.inf) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = 4, tuple(images.shape[1:]), None
        self.images, self.nan_above = images, nan_above
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        index = torch.arange(len(latents)) % len(self.images)
        images = self.images[index].float().div(127.5).sub(1)
        return torch.where((latents[:, 0] > self.nan_above).view(-1, 1, 1, 1), torch.nan, images)


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_embedded_mnist(DataConfig(image_size=8, limit=64))


def test_evaluation_refuses_nan_images_for_some_latents(digits: ImageDataset, tmp_path: Path) -> None:
    generator = ReplayGenerator(digits.images, nan_above=2.5)  # about 1 latent in 160
    with pytest.raises(WeightsError, match=r"the generator made NaN or Inf values in \d+ of samples 0\.\.499"):
        ganzoo.evaluate(generator, digits, metrics="fid", backbones="mnist-classifier", num_samples=1000, baseline=False,
                        cache_root=tmp_path)


# -- evaluation: refused before any work ------------------------------------------------------------


def test_too_few_samples_are_refused_before_the_weights_are_read(scene: Path, capsys) -> None:
    line = refused(capsys, "eval", "missing.safetensors", "--num", "2")
    assert "--num is 2, too few: precision/recall with k=3 needs more than k points per set, so at least 4" in line
    line = refused(capsys, "eval", "missing.safetensors", "--num", "100", "--num-real", "6")
    assert "--num-real is 6, too few" in line and "at least 8 real samples" in line
    assert "does not exist" in refused(capsys, "eval", "missing.safetensors", "--num", "2", "--metrics", "fid")
    check_sample_counts(["fid"], 2, 4, baseline=True)
    with pytest.raises(ConfigError, match="the real set size is 6, too few"):
        ganzoo.evaluate(ReplayGenerator(torch.zeros(6, 1, 8, 8, dtype=torch.uint8)),
                        ImageDataset("six", torch.zeros(6, 1, 8, 8, dtype=torch.uint8)), metrics="pr", num_samples=10)


def test_no_usable_backbone_is_one_line_not_an_empty_table(scene: Path, capsys) -> None:
    generator_file(scene / "w.safetensors", shape=(3, 8, 8))
    (scene / "images" / "a").mkdir(parents=True)
    for index in range(8):
        Image.new("RGB", (8, 8), (index * 30, 0, 0)).save(scene / "images" / "a" / f"{index}.png")
    line = refused(capsys, "eval", "w.safetensors", "--dataset", "image-folder", "--data-root", "images",
                   "--num", "16", "--device", "cpu")
    assert line.startswith("error: no backbone can evaluate this data: inception skipped: the FID InceptionV3")
    assert not (scene / "cache").exists()


def test_a_shape_the_file_claims_falsely_is_refused_naming_both(scene: Path, capsys) -> None:
    run = scene / "run"
    run.mkdir()
    tampered(generator_file(scene / "valid.safetensors"), run / "generator.safetensors",
             metadata={"image_shape": "[1, 4, 16]"})
    (run / "config.json").write_text(json.dumps({"data": {"name": "mnist-embedded", "image_size": 8}}))
    line = refused(capsys, "eval", "run/generator.safetensors", "--num", "16", "--device", "cpu")
    assert ("makes 1x4x16 images but the data its run trained on (config.json) is 1x8x8; as many values per image, "
            "laid out differently") in line
    tampered(generator_file(scene / "mnist.safetensors", shape=(1, 28, 28)), scene / "w.safetensors",
             metadata={"image_shape": "[1, 14, 56]"})
    line = refused(capsys, "eval", "w.safetensors", "--num", "16", "--device", "cpu")
    assert "makes 1x14x56 images but mnist-embedded at its native size is 1x28x28; as many values" in line


def test_a_four_channel_generator_against_mnist_is_one_clear_line(scene: Path, capsys) -> None:
    tampered(generator_file(scene / "valid.safetensors"), scene / "w.safetensors",
             metadata={"image_shape": "[4, 4, 4]"})
    line = refused(capsys, "eval", "w.safetensors", "--num", "16", "--device", "cpu")
    assert "makes 4-channel images (4x4x4); evaluation compares grey (1 channel) or RGB (3 channel)" in line
    assert "validation error" not in line
    with pytest.raises(ConfigError, match=r"makes 1x4x4 images; real data cannot be prepared at that size "
                                          r"\(data.image_size: Input should be greater than or equal to 8\)"):
        check_evaluable_shape((1, 4, 4))


def test_a_damaged_run_config_beside_the_weights_is_refused_not_ignored(scene: Path, capsys) -> None:
    run = scene / "run"
    run.mkdir()
    generator_file(run / "generator.safetensors")
    (run / "config.json").write_text('{"data": {"name": ')
    line = refused(capsys, "eval", "run/generator.safetensors", "--num", "16", "--device", "cpu")
    assert "the run's config 'run/config.json' is damaged" in line and "pass --dataset" in line


def test_metrics_nothing_can_measure_are_refused(scene: Path, capsys) -> None:
    generator_file(scene / "w.safetensors")
    line = refused(capsys, "eval", "w.safetensors", "--metrics", "accuracy", "--num", "16", "--device", "cpu")
    assert "none of the metrics asked for (accuracy: cond_accuracy) can be measured here" in line


# -- reference caches that are present but wrong ----------------------------------------------------


def _evaluate(digits: ImageDataset, cache: Path) -> ganzoo.EvaluationResult:
    return ganzoo.evaluate(ReplayGenerator(digits.images), digits, metrics="fid", backbones="mnist-classifier",
                           num_samples=32, cache_root=cache)


def _rewrite(path: Path, edit) -> None:
    with safe_open(str(path), "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = dict(handle.metadata())
    edit(tensors, metadata)
    save_file(tensors, str(path), metadata=resigned(metadata))


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[:100]),
    lambda p: _rewrite(p, lambda t, m: m.update(key="another-dataset-16x16")),
    lambda p: _rewrite(p, lambda t, m: t["features"].view(-1)[3].fill_(float("nan"))),
    lambda p: _rewrite(p, lambda t, m: t.update(features=t["features"][:10])),
    lambda p: _rewrite(p, lambda t, m: t.update(features=torch.randn_like(t["features"]))),  # another dataset's
    lambda p: _rewrite(p, lambda t, m: t.pop("logits")),
    lambda p: _rewrite(p, lambda t, m: t["features"][-1].mul_(100.0)),  # past the spot check of the first rows
], ids=["truncated", "other-key", "nan", "too-few-rows", "other-features", "no-logits", "last-row-edited"])
def test_a_reference_cache_that_is_wrong_is_recomputed(digits: ImageDataset, tmp_path: Path, damage) -> None:
    first = _evaluate(digits, tmp_path)
    entry = first.protocol["backbones"]["mnist-classifier"]
    reference = Path(entry["reference_file"])
    assert entry["reference_cache"] == "miss" and _evaluate(digits, tmp_path).protocol[
        "backbones"]["mnist-classifier"]["reference_cache"] == "hit"
    damage(reference)
    again = _evaluate(digits, tmp_path)
    assert again.protocol["backbones"]["mnist-classifier"]["reference_cache"] == "miss"
    assert again.get("fid").value == pytest.approx(first.get("fid").value)


def test_a_baseline_cache_that_is_wrong_is_recomputed(digits: ImageDataset, tmp_path: Path) -> None:
    first = _evaluate(digits, tmp_path)
    baseline = Path(first.protocol["backbones"]["mnist-classifier"]["reference_file"]).with_suffix(".baseline.json")
    for damaged in ('{"seed0": {"groups": ["fid"], "values": {"fid": [NaN, null]}}}',
                    '{"seed0": {"groups": ["fid"], "values": {"fid": "low"}}}', "\xff\xfe{", "[1, 2]",
                    baseline.read_text().replace('"fid": [\n', '"fid": [\n 999.0, 0.0, 0,\n', 1)):
        baseline.write_text(damaged, encoding="latin-1")
        assert _evaluate(digits, tmp_path).get("fid").baseline == pytest.approx(first.get("fid").baseline)


def test_a_cache_entry_that_is_not_a_file_is_refused(digits: ImageDataset, tmp_path: Path) -> None:
    reference = Path(_evaluate(digits, tmp_path).protocol["backbones"]["mnist-classifier"]["reference_file"])
    reference.unlink()
    os.mkfifo(reference)
    with pytest.raises(GanzooError, match=r"cached reference statistics .* is a named pipe \(FIFO\), not a regular "
                                          r"file; remove it; ganzoo computes the cache entry again"):
        _evaluate(digits, tmp_path)


def test_a_cache_directory_that_cannot_be_written_is_refused_before_generating(digits: ImageDataset,
                                                                               tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    generator = ReplayGenerator(digits.images, nan_above=-math.inf)  # would fail loudly if it ever generated
    with pytest.raises(GanzooError, match="reference-statistics cache"):
        ganzoo.evaluate(generator, digits, metrics="fid", backbones="mnist-classifier", num_samples=32,
                        cache_root=tmp_path / "cache")


# -- config values: NaN, infinities, nonsense sizes --------------------------------------------------


@pytest.mark.parametrize(("flags", "expected"), [
    (["--set", "optimizer.weight_decay=.inf"], "optimizer.weight_decay: Input should be a finite number (got inf)"),
    (["--lr", "nan"], "optimizer.lr: Input should be a finite number (got nan)"),
    (["--loss", "least-squares", "--set", "loss.options.real_target=.nan"],
     "loss.options.real_target: Input should be a finite number (got nan)"),
    (["--strategy", "wgan-clip", "--set", "strategy.options.clip=.inf"], "strategy.options.clip: Input should be a "
                                                                         "finite number"),
    (["--set", "model.generator_widths=[0]"], "model.generator_widths.0: Input should be greater than 0 (got 0)"),
    (["--set", "model.discriminator_widths=[64, -1]"], "model.discriminator_widths.1: Input should be greater than 0"),
    (["--set", "model.dropout=.nan"], "model.dropout: Input should be a finite number"),
], ids=["weight-decay-inf", "lr-nan", "lsgan-target-nan", "clip-inf", "width-zero", "width-negative", "dropout-nan"])
def test_nonsense_values_are_refused_at_validation(scene: Path, capsys, flags: list[str], expected: str) -> None:
    line = refused(capsys, "train", "mlp", *flags, "--device", "cpu", "--out", "run")
    assert expected in line  # one line: no torch warnings about empty layers before it
    assert not (scene / "run").exists()


def test_nan_in_a_config_file_is_refused_naming_the_setting(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text('variant = "mlp"\n[optimizer]\nweight_decay = nan\n')
    assert "optimizer.weight_decay: Input should be a finite number" in refused(capsys, "train", "--config",
                                                                                 str(config))
