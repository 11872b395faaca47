"""Hostile and broken input through the real ``ganzoo`` command: one clear line, exit code 2,
no traceback, and every file that was there before is unchanged (nothing written, nothing
clobbered).

Each case is a small scene built in its own directory (a corrupt weights file, a config with
a typo, an image folder of text files, a run already in ``--out``) plus the command line a user
would type there. The cases run through the real ``ganzoo.cli.main`` (the plugin cases as real
``python -m ganzoo`` processes, since they need their own PYTHONPATH);
``docs/pages/reliability-cases.md``, the table on the reliability page, is these very outputs:
``python tests/test_hostile.py > docs/pages/reliability-cases.md`` writes it again, and a test
checks that it still lists every case with the line the case expects.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ganzoo.testing import faults, install_plugin, resigned, resigned

FAST = ["--limit", "64", "--image-size", "16", "--batch-size", "32", "--epochs", "1", "--device", "cpu", "--quiet"]
SAMPLE = ["--out", "samples.png", "--device", "cpu"]
MARKER = "UNPICKLED"  # a pickle payload would create this file if anything ever unpickled it


@dataclass(frozen=True)
class Case:
    """One hostile scene: what is on disk, what the user types, what the one line must say."""

    id: str
    area: str
    args: list[str]
    expect: str
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 2  # 0: the command must still work and name the problem on stdout (``ganzoo list``)
    fault: Callable[[], ContextManager[object]] | None = None  # e.g. a full disk (``ganzoo.testing.faults``), in-process


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    changed: list[str]


# -- scenes ------------------------------------------------------------------------------------


def _generator_file(path: Path) -> None:
    """A real, valid MLP generator file (untrained: training is not the point here)."""
    from ganzoo.core.registry import get_registry
    from ganzoo.generators.weights import save_generator

    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = variant.spec.build_generator(options, (1, 8, 8), None)
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(mode="json"),
                   plugin=variant.plugin)


def _valid(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    _generator_file(directory / "valid.safetensors")
    with safe_open(str(directory / "valid.safetensors"), "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = handle.metadata()
    (directory / "valid.safetensors").unlink()
    return tensors, metadata


def weights(edit: Callable[[dict[str, torch.Tensor], dict[str, str]], None]) -> Callable[[Path], None]:
    """A generator file whose tensors or metadata ``edit`` has tampered with."""

    def setup(directory: Path) -> None:
        tensors, metadata = _valid(directory)
        edit(tensors, metadata)
        save_file(tensors, directory / "w.safetensors", metadata=resigned(metadata))
    return setup


def raw_bytes(make: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """A weights file whose bytes ``make`` derives from a valid file's bytes."""

    def setup(directory: Path) -> None:
        _generator_file(directory / "valid.safetensors")
        data = (directory / "valid.safetensors").read_bytes()
        (directory / "valid.safetensors").unlink()
        (directory / "w.safetensors").write_bytes(make(data))
    return setup


def _lying_header(data: bytes) -> bytes:
    """The header claims the first tensor is 1000x larger than the bytes that follow."""
    length = struct.unpack("<Q", data[:8])[0]
    header = data[8:8 + length].decode()
    start = header.index('"data_offsets":[') + len('"data_offsets":[')
    first, _, rest = header[start:].partition(",")
    end = rest.partition("]")[0]
    header = header[:start] + f"{first},{int(end) * 1000}" + header[start + len(first) + 1 + len(end):]
    encoded = header.encode().ljust(length)
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + length:]


class _Payload:
    """Unpickling this creates the marker file: proof that something ran a pickle."""

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (MARKER, "w"))


def pickled(directory: Path) -> None:
    (directory / "w.safetensors").write_bytes(pickle.dumps({"weight": _Payload()}, protocol=4))


def torch_saved(directory: Path) -> None:
    torch.save({"net.0.weight": torch.zeros(16, 8), "payload": _Payload()}, directory / "w.pt")


def existing_run(directory: Path) -> None:
    """A finished tiny run in ./run, made once per session and copied into each scene."""
    shutil.copytree(_TEMPLATE_RUN, directory / "run")


_HELD_LOCKS: list[object] = []


def _hold_lock(run: Path) -> None:
    """Another process's lock on the run directory (this test process holds it until it exits)."""
    from ganzoo.training.runlock import RunLock

    lock = RunLock(run)
    lock.acquire()
    _HELD_LOCKS.append(lock)


def corrupt_checkpoint(directory: Path) -> None:
    existing_run(directory)
    checkpoint = directory / "run" / "checkpoints" / "last.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])


def text_file(name: str, content: str) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(content))
    return setup


def folder_of(files: dict[str, bytes]) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        for name, content in files.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(content)
        (directory / "images").mkdir(exist_ok=True)
    return setup


def fake_plugin(distribution: str, module_source: str) -> Callable[[Path], None]:
    """A real installed distribution (dist-info with an entry point) in ./site for PYTHONPATH."""

    def setup(directory: Path) -> None:
        module = distribution.replace("-", "_") + "_plugin"
        install_plugin(directory / "site", distribution, {module: textwrap.dedent(module_source)},
                       {distribution: module}, version="0.1")
    return setup


PLUGIN_SITE = {"PYTHONPATH": "site"}
RAISES_ON_IMPORT = "raise RuntimeError('this plugin is broken on purpose')\n"
TAKES_MLP = """
    from ganzoo.plugin import VariantSpec, hookimpl

    @hookimpl
    def ganzoo_register_variants():
        return [VariantSpec(name="mlp", build_generator=None, build_discriminator=None)]
"""
WRONG_TYPE = """
    from ganzoo.plugin import hookimpl

    @hookimpl
    def ganzoo_register_losses():
        return {"name": "my-loss"}
"""
HOOK_RAISES = """
    from ganzoo.plugin import hookimpl

    @hookimpl
    def ganzoo_register_datasets():
        raise KeyError("dataset table missing")
"""
SHAPE_BUGS = """
    from torch import nn

    from ganzoo.plugin import Discriminator, Generator, VariantSpec, hookimpl


    class HalfSizeGenerator(Generator):
        \"""Declares the image_shape it is given, but draws images at half its height and width.\"""

        def __init__(self, options, image_shape, num_classes):
            super().__init__()
            self.latent_dim, self.image_shape, self.num_classes = 8, tuple(image_shape), None
            channels, height, width = image_shape
            self.drawn = (channels, height // 2, width // 2)
            self.net = nn.Linear(8, channels * (height // 2) * (width // 2))

        def forward(self, latents, labels=None):
            return self.net(latents).tanh().view(len(latents), *self.drawn)


    class SizedGenerator(HalfSizeGenerator):
        def __init__(self, options, image_shape, num_classes):
            super().__init__(options, image_shape, num_classes)
            self.drawn = tuple(image_shape)
            self.net = nn.Linear(8, image_shape[0] * image_shape[1] * image_shape[2])


    class ColumnDiscriminator(Discriminator):
        \"""One logit per image, but as a (B, 1) column instead of (B,).\"""

        def __init__(self, options, image_shape, num_classes):
            super().__init__()
            self.image_shape, self.num_classes = tuple(image_shape), None
            self.net = nn.Linear(image_shape[0] * image_shape[1] * image_shape[2], 1)

        def forward(self, images, labels=None):
            return self.net(images.flatten(1))


    class FlatDiscriminator(ColumnDiscriminator):
        def forward(self, images, labels=None):
            return self.net(images.flatten(1)).flatten()


    @hookimpl
    def ganzoo_register_variants():
        return [VariantSpec("half-size", HalfSizeGenerator, FlatDiscriminator),
                VariantSpec("column-logits", SizedGenerator, ColumnDiscriminator)]
"""
MISSPELT_HOOK = """
    from ganzoo.plugin import VariantSpec, hookimpl

    @hookimpl
    def ganzoo_register_variant():
        return [VariantSpec(name="typo-gan", build_generator=None, build_discriminator=None)]
"""

# -- round two: scenes for output files -----------------------------------------------------------


def with_generator(*more: Callable[[Path], None]) -> Callable[[Path], None]:
    """A valid generator file ``w.safetensors``, then the rest of the scene."""

    def setup(directory: Path) -> None:
        _generator_file(directory / "w.safetensors")
        for step in more:
            step(directory)
    return setup


def fifo(name: str) -> Callable[[Path], None]:
    return lambda directory: os.mkfifo(directory / name)


def dangling_link(name: str) -> Callable[[Path], None]:
    return lambda directory: (directory / name).symlink_to(f"gone/{name}")


def large_generator(directory: Path) -> None:
    """A valid (tiny, untrained) 256x256 RGB generator: 100,000 of its images make a 19 GiB grid."""
    from ganzoo.core.registry import get_registry
    from ganzoo.generators.weights import save_generator

    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=8, generator_widths=[4], discriminator_widths=[4])
    generator = variant.spec.build_generator(options, (3, 256, 256), None)
    save_generator(generator, directory / "big.safetensors", variant="mlp",
                   model_config=options.model_dump(mode="json"), plugin=variant.plugin)


def _nan_beyond_the_probe(t: dict[str, torch.Tensor], m: dict[str, str]) -> None:
    """Finite weights whose images overflow to inf - inf = NaN once a latent's first coordinate
    exceeds 2 in size: the loader's probe latents stay below that, some of seed 1's do not."""
    t["net.0.weight"].zero_(), t["net.0.bias"].zero_()
    t["net.0.weight"][0, 0], t["net.0.weight"][1, 0] = 1.7e38, -1.7e38
    t["net.2.weight"][:, :2] = 1.0


def disk_full_at(name: str, code: int = errno.ENOSPC) -> Callable[[], ContextManager[object]]:
    return lambda: faults.disk_full(name, code)


# -- round two: scenes for input files ------------------------------------------------------------


def all_of(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    """One scene made of several steps, in order."""

    def setup(directory: Path) -> None:
        for step in steps:
            step(directory)
    return setup


def replaced_by_fifo(name: str) -> Callable[[Path], None]:
    """An existing file of the scene swapped for a FIFO of the same name."""

    def setup(directory: Path) -> None:
        (directory / name).unlink()
        os.mkfifo(directory / name)
    return setup


def an_image(name: str, make: Callable[[], object]) -> Callable[[Path], None]:
    """An image folder ``images/cats`` holding ``name``, the PIL image ``make`` builds."""

    def setup(directory: Path) -> None:
        (directory / "images" / "cats").mkdir(parents=True, exist_ok=True)
        make().save(directory / "images" / "cats" / name)
    return setup


def pixels(values: list[list[float]], dtype: str) -> Callable[[], object]:
    """A PIL image of these values (float32 -> mode F, int32 -> mode I)."""
    import numpy as np
    from PIL import Image

    return lambda: Image.fromarray(np.array(values, dtype=dtype))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` grey pixels, and no pixel data."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


def truncated_png(directory: Path) -> None:
    from PIL import Image

    (directory / "images" / "cats").mkdir(parents=True)
    path = directory / "images" / "cats" / "a.png"
    Image.effect_noise((64, 64), 50).save(path)
    path.write_bytes(path.read_bytes()[:200])


def mnist_files(images: Callable[[bytes], bytes] = bytes, labels: Callable[[bytes], bytes] = bytes, *,
                gz: bool = True, packed: Callable[[bytes], bytes] = bytes) -> Callable[[Path], None]:
    """``data/MNIST/raw`` holding the embedded digits as the train split: ``images`` and ``labels``
    edit the IDX bytes, ``packed`` the gzipped images file."""

    def setup(directory: Path) -> None:
        import gzip

        from ganzoo.data.dataset import EMBEDDED_MNIST

        raw = directory / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for kind, edit in (("images-idx3", images), ("labels-idx1", labels)):
            data = edit(gzip.decompress((EMBEDDED_MNIST / f"t10k-{kind}-ubyte.gz").read_bytes()))
            if gz:
                data = gzip.compress(data, mtime=0)
                data = packed(data) if kind == "images-idx3" else data
            (raw / f"train-{kind}-ubyte{'.gz' if gz else ''}").write_bytes(data)
    return setup


def _flip_middle_byte(data: bytes) -> bytes:
    return data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]


def _overflowing(t: dict[str, torch.Tensor], m: dict[str, str]) -> None:
    """Finite weights of +-3e38: every image overflows to inf - inf = NaN."""
    rng = torch.Generator().manual_seed(1)
    t.update({name: torch.sign(torch.randn(tensor.shape, generator=rng)) * 3e38 for name, tensor in t.items()})


def run_generator_claiming(image_shape: str) -> Callable[[Path], None]:
    """The template run, its generator's metadata claiming another ``image_shape``."""

    def setup(directory: Path) -> None:
        existing_run(directory)
        path = directory / "run" / "generator.safetensors"
        with safe_open(str(path), "pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            metadata = {**handle.metadata(), "image_shape": image_shape}
        save_file(tensors, path, metadata=resigned(metadata))
    return setup


def rgb_generator_and_images(directory: Path) -> None:
    """A 3x8x8 generator file and an image folder of eight RGB images."""
    from PIL import Image

    from ganzoo.core.registry import get_registry
    from ganzoo.generators.weights import save_generator

    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    save_generator(variant.spec.build_generator(options, (3, 8, 8), None), directory / "w.safetensors",
                   variant="mlp", model_config=options.model_dump(mode="json"), plugin=variant.plugin)
    (directory / "images" / "cats").mkdir(parents=True)
    for index in range(8):
        Image.new("RGB", (8, 8), (index * 30, 0, 0)).save(directory / "images" / "cats" / f"{index}.png")


NO_INCEPTION = {"GANZOO_CACHE": "cache", "TORCH_HOME": "torch-home", "GANZOO_INCEPTION_WEIGHTS": ""}
IMAGES = ["--dataset", "image-folder", "--data-root", "images"]
MNIST = ["--dataset", "mnist", "--data-root", "data"]
EVAL = ["--num", "16", "--device", "cpu"]


_TEMPLATE_RUN: Path  # set by the session fixture below


def unsigned_edit(edits: dict[str, str]) -> Callable[[Path], None]:
    """A generator file whose metadata was edited after writing, its digest left as it was."""

    def setup(directory: Path) -> None:
        tensors, metadata = _valid(directory)
        save_file(tensors, directory / "w.safetensors", metadata={**metadata, **edits})
    return setup


def _dcgan_file(directory: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> None:
    """A valid, untrained 32x32 DCGAN generator file as ./w.safetensors, its tensors edited."""
    from ganzoo.core.registry import get_registry
    from ganzoo.generators.weights import save_generator

    variant = get_registry().get("variant", "dcgan")
    options = variant.spec.config_model(latent_dim=8, ngf=8, ndf=8)
    torch.manual_seed(0)
    generator = variant.spec.build_generator(options, (1, 32, 32), None)
    with torch.no_grad():
        state = generator.state_dict()
        edit(state)
        generator.load_state_dict(state)
    save_generator(generator, directory / "w.safetensors", variant="dcgan", model_config=options.model_dump(mode="json"),
                   plugin=variant.plugin)


def _zero_variance_huge_gain(state: dict[str, torch.Tensor]) -> None:
    variance = next(name for name in state if name.endswith("running_var"))
    state[variance].zero_()
    state[variance.replace("running_var", "weight")].fill_(1e6)


def with_rgb_generator(directory: Path) -> None:
    """A valid, untrained RGB MLP generator at 8x8, alone (no run beside it)."""
    from ganzoo.core.registry import get_registry
    from ganzoo.generators.weights import save_generator

    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = variant.spec.build_generator(options, (3, 8, 8), None)
    save_generator(generator, directory / "w.safetensors", variant="mlp", model_config=options.model_dump(mode="json"),
                   plugin=variant.plugin)


def _bomb(packed: bytes) -> bytes:
    """The real images' header, then 256 MiB of zeros, in about 256 KB of gzip."""
    import gzip
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = gzip.decompress(packed)[:16]
    return b"".join([compressor.compress(head), *(compressor.compress(bytes(2**24)) for _ in range(16)),
                     compressor.flush()])


def _w(*sections: str) -> list[str]:
    return ["sample", "w.safetensors", *SAMPLE, *sections]


def _drop_first(t: dict[str, torch.Tensor], m: dict[str, str]) -> None:
    t.pop(next(iter(t)))


CASES = [
    # -- weights ---------------------------------------------------------------------------------
    Case("weights: missing file", "weights", _w(), "does not exist; check the path"),
    Case("weights: a directory", "weights", ["sample", "run", *SAMPLE], "is a directory", existing_run),
    Case("weights: empty file", "weights", _w(), "is truncated (0 bytes)", raw_bytes(lambda d: b"")),
    Case("weights: truncated to half", "weights", _w(), "is truncated or corrupt: its header promises",
         raw_bytes(lambda d: d[: len(d) // 2])),
    Case("weights: absurd header length", "weights", _w(), "header length of 1152921504606846976 bytes",
         raw_bytes(lambda d: struct.pack("<Q", 2**60) + d[8:])),
    Case("weights: header is not JSON", "weights", _w(), "corrupt or not a safetensors file",
         raw_bytes(lambda d: struct.pack("<Q", 16) + b"\xff" * 16 + d[8:])),
    Case("weights: header lies about offsets", "weights", _w(), "is truncated or corrupt: its header promises",
         raw_bytes(_lying_header)),
    Case("weights: pickle with a payload", "weights", _w(), "is a pickle/PyTorch .pt file", pickled),
    Case("weights: torch.save .pt file", "weights", ["sample", "w.pt", *SAMPLE], "never unpickles", torch_saved),
    Case("weights: safetensors but not ganzoo", "weights", _w(), "not a ganzoo generator",
         weights(lambda t, m: m.clear())),
    Case("weights: a checkpoint, not a generator", "weights",
         ["sample", "run/checkpoints/last.safetensors", *SAMPLE], "format 'ganzoo.training-state.v1'", existing_run),
    Case("weights: corrupt metadata", "weights", _w(), "corrupt ganzoo metadata",
         weights(lambda t, m: m.update(image_shape="[1, 8"))),
    Case("weights: variant of a plugin not installed", "weights", _w(), "`pip install ganzoo-stylegan9`",
         weights(lambda t, m: m.update(variant="stylegan9", plugin="ganzoo-stylegan9"))),
    Case("weights: model config out of range", "weights", _w(), "model.latent_dim",
         weights(lambda t, m: m.update(model_config=m["model_config"].replace('"latent_dim": 8', '"latent_dim": -8')))),
    Case("weights: missing tensor", "weights", _w(), "does not fit its variant: missing", weights(_drop_first)),
    Case("weights: extra tensor", "weights", _w(), "unexpected 'backdoor'",
         weights(lambda t, m: t.update(backdoor=torch.zeros(3)))),
    Case("weights: wrong shape", "weights", _w(), "has shape (3,), the model needs",
         weights(lambda t, m: t.update({next(iter(t)): torch.zeros(3)}))),
    Case("weights: wrong dtype", "weights", _w(), "is torch.float64, the model needs torch.float32",
         weights(lambda t, m: t.update({next(iter(t)): t[next(iter(t))].double()}))),
    Case("weights: NaN values", "weights", _w(), "holds NaN or Inf values",
         weights(lambda t, m: t[next(iter(t))].view(-1)[0].fill_(float("nan")))),
    Case("weights: Inf values", "weights", _w(), "holds NaN or Inf values",
         weights(lambda t, m: t[next(iter(t))].view(-1)[-1].fill_(float("inf")))),
    # -- configs and the command line ------------------------------------------------------------
    Case("config: unknown variant", "config", ["train", "mpl", *FAST], "unknown variant 'mpl'; did you mean 'mlp'?"),
    Case("config: unknown loss", "config", ["train", "mlp", "--loss", "non-saturatin", *FAST],
         "unknown loss 'non-saturatin'; did you mean 'non-saturating'"),
    Case("config: unknown strategy", "config", ["train", "mlp", "--strategy", "alternate", *FAST],
         "unknown strategy 'alternate'; did you mean 'alternating'"),
    Case("config: unknown dataset", "config", ["train", "mlp", "--dataset", "mnist-embeded", *FAST],
         "unknown dataset 'mnist-embeded'; did you mean 'mnist-embedded'"),
    Case("config: misspelt setting", "config", ["train", "mlp", "--set", "run.epoch=3", *FAST],
         "run.epoch: unknown setting; did you mean 'epochs'?"),
    Case("config: wrong type", "config", ["train", "mlp", "--set", "run.epochs=many", *FAST],
         "run.epochs: Input should be a valid integer"),
    Case("config: batch size 0", "config", ["train", "mlp", *FAST, "--batch-size", "0"],
         "run.batch_size: Input should be greater than 0"),
    Case("config: negative learning rate", "config", ["train", "mlp", "--lr", "-0.001", *FAST],
         "optimizer.lr: Input should be greater than 0"),
    Case("config: image size out of range", "config", ["train", "mlp", *FAST, "--image-size", "4"],
         "data.image_size: Input should be greater than or equal to 8"),
    Case("config: image size the variant cannot build", "config", ["train", "dcgan", *FAST, "--image-size", "24"],
         "power of two"),
    Case("config: plugin option out of range", "config", ["train", "mlp", "--set", "model.latent_dim=-3", *FAST],
         "model.latent_dim: Input should be greater than 0"),
    Case("config: unknown device", "config", ["train", "mlp", *FAST, "--device", "tpu"],
         "run.device: must be auto, cpu, mps, cuda or cuda:N"),
    Case("config: batch larger than the dataset", "config", ["train", "mlp", *FAST, "--batch-size", "128"],
         "needs at least 128 images"),
    Case("config: fp16 on the CPU", "config", ["train", "mlp", *FAST, "--precision", "fp16"], "fp16 needs CUDA"),
    Case("config: --resume with --overwrite", "config", ["train", "mlp", *FAST, "--resume", "--overwrite"],
         "--resume and --overwrite contradict"),
    Case("config: malformed --set", "config", ["train", "mlp", "--set", "run.epochs", *FAST],
         "must look like section.key=value"),
    Case("config: config file missing", "config", ["train", "mlp", "--config", "nope.toml", *FAST],
         "config file 'nope.toml' does not exist"),
    Case("config: config file not TOML", "config", ["train", "--config", "bad.toml", *FAST], "is not valid TOML",
         text_file("bad.toml", "variant = mlp\n[run\n")),
    Case("config: config file holds a list", "config", ["train", "--config", "list.yaml", *FAST],
         "must hold a table of settings, not list", text_file("list.yaml", "- variant: mlp\n")),
    Case("config: --out holds another run", "config", ["train", "mlp", *FAST, "--out", "run"],
         "already holds a run; pass --resume to continue it, --overwrite to replace it", existing_run),
    Case("config: --out is a file", "config", ["train", "mlp", *FAST, "--out", "notes.txt"],
         "is a file; choose another --out", text_file("notes.txt", "keep me\n")),
    Case("config: --overwrite with a config that cannot start", "config",
         ["train", "mlp", *FAST, "--out", "run", "--overwrite", "--dataset", "image-folder", "--data-root", "missing"],
         "does not exist", existing_run),
    Case("config: resume with other settings", "config", ["train", "mlp", *FAST, "--out", "run", "--resume", "--lr",
                                                         "0.01"], "with different settings: optimizer.lr was 0.0002, now 0.01", existing_run),
    Case("config: resume with nothing to resume", "config", ["train", "mlp", *FAST, "--out", "empty", "--resume"],
         "nothing to resume", text_file("empty/README", "not a run\n")),
    Case("config: resume from a corrupt checkpoint", "config", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "truncated or corrupt", corrupt_checkpoint),
    # -- data --------------------------------------------------------------------------------------
    Case("data: image folder without --data-root", "data", ["train", "mlp", "--dataset", "image-folder", *FAST],
         "needs a folder: pass --data-root DIR"),
    Case("data: image folder that does not exist", "data",
         ["train", "mlp", "--dataset", "image-folder", "--data-root", "missing", *FAST], "does not exist"),
    Case("data: empty image folder", "data", ["train", "mlp", "--dataset", "image-folder", "--data-root", "images",
                                              *FAST], "no images found", folder_of({})),
    Case("data: folder of text files", "data", ["train", "mlp", "--dataset", "image-folder", "--data-root", "images",
                                                *FAST], "no images found", folder_of({"images/cats/a.txt": b"meow"})),
    Case("data: undecodable image", "data", ["train", "mlp", "--dataset", "image-folder", "--data-root", "images",
                                             *FAST], "cannot decode image",
         folder_of({"images/cats/a.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40})),
    Case("data: MNIST files missing", "data", ["train", "mlp", "--dataset", "mnist", "--data-root", "images", *FAST],
         "MNIST not found", folder_of({})),
    # -- plugins -----------------------------------------------------------------------------------
    Case("plugin: a generator that draws the wrong size", "plugin", ["train", "half-size", *FAST],
         "variant 'half-size' (shape-bugs): the generator returned shape (2, 1, 8, 8) for 2 latents, expected "
         "(2, 1, 16, 16)", fake_plugin("shape-bugs", SHAPE_BUGS), PLUGIN_SITE),
    Case("plugin: a discriminator that returns (B, 1)", "plugin", ["train", "column-logits", *FAST],
         "variant 'column-logits' (shape-bugs): the discriminator returned shape (2, 1) for 2 images, expected (2,)",
         fake_plugin("shape-bugs", SHAPE_BUGS), PLUGIN_SITE),
    Case("plugin: the variant of a plugin with a misspelt hook", "plugin", ["train", "typo-gan", *FAST],
         "unknown variant 'typo-gan'; known variants: acgan, cgan-dcgan, cgan-mlp, dcgan, dcgan-64, ddpm, ddpm-conditional, mlp, resnet, resnet-projection, sngan, wgan-clip, wgan-gp; "
         "plugins that failed to load: 'typo-gan' (`ganzoo list` says why)", fake_plugin("typo-gan", MISSPELT_HOOK),
         PLUGIN_SITE),
    Case("plugin: the variant of a plugin that fails to import", "plugin", ["train", "fancy", *FAST],
         "unknown variant 'fancy'; known variants: acgan, cgan-dcgan, cgan-mlp, dcgan, dcgan-64, ddpm, ddpm-conditional, mlp, resnet, resnet-projection, sngan, wgan-clip, wgan-gp; plugins that failed to load: 'fancy-gan' (`ganzoo list` says why)", fake_plugin("fancy-gan", RAISES_ON_IMPORT),
         PLUGIN_SITE),
    # `ganzoo list` keeps working beside a broken plugin: exit 0, the tables, and one line naming it.
    Case("plugin: raises on import, list still works", "plugin", ["list"],
         "broken: plugin 'fancy-gan' (fancy-gan 0.1): failed to import 'fancy_gan_plugin': RuntimeError: this plugin "
         "is broken on purpose; fix or uninstall fancy-gan", fake_plugin("fancy-gan", RAISES_ON_IMPORT), PLUGIN_SITE,
         exit_code=0),
    Case("plugin: registers a taken name, list still works", "plugin", ["list"],
         "broken: plugin 'evil-dup' (evil-dup 0.1): variant 'mlp' is already provided by ganzoo-mlp 0.1.0, so this "
         "plugin's is ignored; rename it in evil-dup or uninstall evil-dup", fake_plugin("evil-dup", TAKES_MLP),
         PLUGIN_SITE, exit_code=0),
    Case("plugin: a misspelt hook, list still works", "plugin", ["list"],
         "broken: plugin 'typo-gan' (typo-gan 0.1): unknown hook 'ganzoo_register_variant' (did you mean "
         "'ganzoo_register_variants'?); fix or uninstall typo-gan", fake_plugin("typo-gan", MISSPELT_HOOK), PLUGIN_SITE,
         exit_code=0),
    Case("plugin: hook returns the wrong type, list still works", "plugin", ["list"],
         "ganzoo_register_losses() must return a list of LossSpec, got dict", fake_plugin("odd-loss", WRONG_TYPE),
         PLUGIN_SITE, exit_code=0),
    Case("plugin: hook raises, list still works", "plugin", ["list"],
         "ganzoo_register_datasets() raised KeyError: 'dataset table missing'",
         fake_plugin("no-data", HOOK_RAISES), PLUGIN_SITE, exit_code=0),
    # -- round two: output files and the environment (disk full, permissions, paths) ----------------
    Case("outputs: sample grid on a full disk", "outputs", _w(), "cannot write: samples.png: No space left on "
         "device; free some space (or choose another --out) and rerun; nothing was overwritten",
         with_generator(text_file("samples.png", "the previous grid")), fault=disk_full_at("samples.png")),
    Case("outputs: sample PNG files on a full disk", "outputs",
         ["sample", "w.safetensors", "--format", "png", "--out", "pngs", "--device", "cpu"],
         "cannot write: pngs/sample-00000.png: No space left on device",
         with_generator(text_file("pngs/sample-00000.png", "a previous sample")), fault=disk_full_at("sample-00000")),
    Case("outputs: interpolation on a full disk", "outputs",
         ["interpolate", "w.safetensors", "--out", "walk.png", "--device", "cpu"],
         "cannot write: walk.png: No space left on device", with_generator(text_file("walk.png", "a previous walk")),
         fault=disk_full_at("walk.png")),
    Case("outputs: sample grid over the disk quota", "outputs", _w(), "Disk quota exceeded; free some space within "
         "your disk quota", with_generator(text_file("samples.png", "the previous grid")),
         fault=disk_full_at("samples.png", errno.EDQUOT)),
    Case("outputs: sample on a read-only file system", "outputs", _w(),
         "--out 'samples.png': cannot write in '.': Read-only file system; that file system is mounted read-only",
         with_generator(), fault=faults.read_only_file_system),
    Case("outputs: sample into a directory without write permission", "outputs", _w(),
         "--out 'samples.png': cannot write in '.': Permission denied; fix its permissions", with_generator(),
         fault=faults.no_write_permission),
    Case("outputs: sample grid --out an existing directory", "outputs",
         ["sample", "w.safetensors", "--out", "grids", "--device", "cpu"],
         "--out 'grids' is an existing directory; give a file path such as 'grids/samples.png'",
         with_generator(text_file("grids/keep.txt", "keep me\n"))),
    Case("outputs: sample --out under a file", "outputs",
         ["sample", "w.safetensors", "--out", "notes.txt/samples.png", "--device", "cpu"],
         "is under 'notes.txt', which is a file, not a directory", with_generator(text_file("notes.txt", "keep\n"))),
    Case("outputs: sample --out a fifo", "outputs", _w(), "--out 'samples.png' is a fifo (named pipe), not a regular "
         "file", with_generator(fifo("samples.png"))),
    Case("outputs: sample --out a dangling symlink", "outputs", _w(), "--out 'samples.png' is a dangling symbolic link "
         "(to 'gone/samples.png')", with_generator(dangling_link("samples.png"))),
    Case("outputs: sample --out a name too long", "outputs",
         ["sample", "w.safetensors", "--out", "x" * 300 + ".png", "--device", "cpu"],
         "has a name of 304 bytes, more than the 255 this file system allows", with_generator()),
    Case("outputs: sample --format png --out a file", "outputs",
         ["sample", "w.safetensors", "--format", "png", "--out", "notes.txt", "--device", "cpu"],
         "--out 'notes.txt' is an existing file, not a directory", with_generator(text_file("notes.txt", "keep\n"))),
    Case("outputs: sample grid --out not a .png", "outputs",
         ["sample", "w.safetensors", "--out", "grid.jpg", "--device", "cpu"],
         "--out 'grid.jpg' must end in .png; give a file name such as 'grid.png'", with_generator()),
    Case("outputs: sample a grid too large for memory", "outputs",
         ["sample", "big.safetensors", "--num", "100000", *SAMPLE], "100,000 images of 3x256x256 need about 56.08 GiB",
         large_generator),
    Case("outputs: sample weights that make NaN beyond the loader's probe", "outputs", _w("--seed", "1"),
         "'w.safetensors': its weights produce NaN or Inf images", weights(_nan_beyond_the_probe)),
    Case("outputs: interpolate --out under a file", "outputs",
         ["interpolate", "w.safetensors", "--out", "notes.txt/walk.png", "--device", "cpu"],
         "is under 'notes.txt', which is a file", with_generator(text_file("notes.txt", "keep\n"))),
    Case("outputs: eval --out under a file, before evaluating", "outputs",
         ["eval", "w.safetensors", "--out", "notes.txt/eval.json", "--device", "cpu"],
         "--out 'notes.txt/eval.json' is under 'notes.txt', which is a file",
         with_generator(text_file("notes.txt", "keep\n"))),
    Case("outputs: eval --out an existing directory", "outputs",
         ["eval", "w.safetensors", "--out", "results", "--device", "cpu"], "--out 'results' is an existing directory",
         with_generator(text_file("results/keep.txt", "keep\n"))),
    Case("outputs: eval with GANZOO_CACHE under a file", "outputs", ["eval", "w.safetensors", "--device", "cpu"],
         "GANZOO_CACHE 'notes.txt/reference' is under 'notes.txt', which is a file",
         with_generator(text_file("notes.txt", "keep\n")), {"GANZOO_CACHE": "notes.txt"}),
    Case("outputs: bench --out a file", "outputs", ["bench", "mlp", "--budget-images", "64", "--out", "notes.txt"],
         "--out 'notes.txt' is an existing file, not a directory", text_file("notes.txt", "keep\n")),
    Case("outputs: bench report path taken by a directory", "outputs",
         ["bench", "mlp", "--budget-images", "64", "--out", "bench"], "--out 'bench/bench.json' is an existing directory",
         text_file("bench/bench.json/keep.txt", "keep\n")),
    # (end of round two: outputs)
    # -- round two: input files and values (odd images, encodings, caches, metadata) ----------------
    Case("inputs: weights file is a fifo", "inputs", _w(), "weights file 'w.safetensors' is a named pipe (FIFO), not "
         "a regular file", fifo("w.safetensors")),
    Case("inputs: weights file is a dangling symlink", "inputs", _w(), "weights file 'w.safetensors' does not exist "
         "(it is a symbolic link to a missing file)", dangling_link("w.safetensors")),
    Case("inputs: checkpoint is a fifo", "inputs", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "checkpoint 'run/checkpoints/last.safetensors' is a named pipe (FIFO)",
         all_of(existing_run, replaced_by_fifo("run/checkpoints/last.safetensors"))),
    Case("inputs: negative image shape in metadata", "inputs", _w(),
         "image_shape.0: Input should be greater than 0 (got -1)",
         weights(lambda t, m: m.update(image_shape="[-1, 8, 8]"))),
    Case("inputs: absurd image shape in metadata", "inputs", _w(), "image_shape.1: Input should be less than or equal "
         "to 16384", weights(lambda t, m: m.update(image_shape="[1, 1000000, 8]"))),
    Case("inputs: class names that do not fit num_classes", "inputs", _w(), "1 class names for num_classes 3",
         weights(lambda t, m: m.update(num_classes="3", class_names='["zero"]'))),
    Case("inputs: a conditional file that says it is unconditional", "inputs", _w("--label", "3"),
         "'w.safetensors' says it is unconditional (num_classes: null), but its variant 'cgan-mlp' is conditional",
         weights(lambda t, m: m.update(variant="cgan-mlp", plugin="ganzoo-conditional", num_classes="null"))),
    Case("inputs: finite weights that overflow to NaN", "inputs", _w(), "makes NaN or Inf images from these weights "
         "(16 of 16 probe images)", weights(_overflowing)),
    Case("inputs: config file is a fifo", "inputs", ["train", "--config", "c.toml", *FAST],
         "config file 'c.toml' is a named pipe (FIFO), not a regular file", fifo("c.toml")),
    Case("inputs: config file is a directory", "inputs", ["train", "--config", "c.toml", *FAST],
         "config file 'c.toml' is a directory, not a file", text_file("c.toml/keep.txt", "keep\n")),
    Case("inputs: config file in UTF-16", "inputs", ["train", "--config", "c.toml", *FAST],
         "config file 'c.toml' is UTF-16 text, not UTF-8; save it as UTF-8",
         folder_of({"c.toml": 'variant = "mlp"\n'.encode("utf-16")})),
    Case("inputs: config file in Latin-1", "inputs", ["train", "--config", "c.yaml", *FAST],
         "config file 'c.yaml' is not UTF-8 text (byte 0xe9 at offset 5); save it as UTF-8",
         folder_of({"c.yaml": "# café\nvariant: mlp\n".encode("latin-1")})),
    Case("inputs: NaN in a config file", "inputs", ["train", "--config", "c.toml", *FAST],
         "optimizer.weight_decay: Input should be a finite number (got nan)",
         text_file("c.toml", 'variant = "mlp"\n[optimizer]\nweight_decay = nan\n')),
    Case("inputs: weight decay of inf", "inputs", ["train", "mlp", "--set", "optimizer.weight_decay=.inf", *FAST],
         "optimizer.weight_decay: Input should be a finite number (got inf)"),
    Case("inputs: learning rate of NaN", "inputs", ["train", "mlp", "--lr", "nan", *FAST],
         "optimizer.lr: Input should be a finite number (got nan)"),
    Case("inputs: least-squares target of NaN", "inputs",
         ["train", "mlp", "--loss", "least-squares", "--set", "loss.options.real_target=.nan", *FAST],
         "loss.options.real_target: Input should be a finite number (got nan)"),
    Case("inputs: weight clipping at inf", "inputs",
         ["train", "mlp", "--strategy", "wgan-clip", "--set", "strategy.options.clip=.inf", *FAST],
         "strategy.options.clip: Input should be a finite number (got inf)"),
    Case("inputs: a hidden layer of width 0", "inputs", ["train", "mlp", "--set", "model.generator_widths=[0]", *FAST],
         "model.generator_widths.0: Input should be greater than 0 (got 0)"),
    Case("inputs: an image that is a fifo", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "image 'images/cats/a.png' is a named pipe (FIFO)",
         all_of(text_file("images/cats/keep.txt", "keep\n"), fifo("images/cats/a.png"))),
    Case("inputs: a float TIFF outside [0, 1]", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "is 32-bit float (mode F) with values in [0, 255]; only float images in [0, 1] are read; save it as an 8-bit "
         "PNG",
         an_image("a.tiff", pixels([[0.0, 255.0]], "float32"))),
    Case("inputs: a float TIFF with NaN", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "with values in [0.5, 0.5] and NaN or Inf", an_image("a.tiff", pixels([[0.5, float("nan")]], "float32"))),
    Case("inputs: a 32-bit integer TIFF", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "is 32-bit integer (mode I) with values in [0, 70000]", an_image("a.tiff", pixels([[0, 70000]], "int32"))),
    Case("inputs: an image too large to decode", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "is too large to decode safely", folder_of({"images/cats/a.png": png_claiming(40_000, 40_000)})),
    Case("inputs: a truncated PNG", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "cannot decode image 'images/cats/a.png'", truncated_png),
    Case("inputs: image folder that is a file", "inputs", ["train", "mlp", *IMAGES, *FAST],
         "image folder 'images' is a file, not a folder", text_file("images", "keep\n")),
    Case("inputs: truncated gzipped MNIST", "inputs", ["train", "mlp", *MNIST, *FAST],
         "train-images-idx3-ubyte.gz' is truncated or corrupt (its gzip stream ends early): its header promises 10000 "
         "images of 28x28", mnist_files(packed=lambda data: data[:len(data) // 2])),
    Case("inputs: truncated raw MNIST", "inputs", ["train", "mlp", *MNIST, *FAST],
         "train-images-idx3-ubyte' is truncated or corrupt: its header promises 10000 images of 28x28 (7,840,016 "
         "bytes), the file holds 5,000", mnist_files(lambda data: data[:5000], gz=False)),
    Case("inputs: MNIST gzip with a bad checksum", "inputs", ["train", "mlp", *MNIST, *FAST],
         "train-images-idx3-ubyte.gz' is a damaged gzip file", mnist_files(packed=_flip_middle_byte)),
    Case("inputs: MNIST labels for fewer images", "inputs", ["train", "mlp", *MNIST, *FAST],
         "holds 9999 labels for the 10000 images",
         mnist_files(labels=lambda d: d[:4] + (9999).to_bytes(4, "big") + d[8:-1])),
    Case("inputs: MNIST label out of range", "inputs", ["train", "mlp", *MNIST, *FAST],
         "train-labels-idx1-ubyte.gz' holds the label 11; MNIST's are 0..9",
         mnist_files(labels=lambda d: d[:8] + b"\x0b" + d[9:])),
    Case("inputs: MNIST IDX of floats", "inputs", ["train", "mlp", *MNIST, *FAST],
         "train-images-idx3-ubyte.gz' is an IDX file of floats", mnist_files(lambda d: d[:2] + b"\x0d" + d[3:])),
    Case("inputs: MNIST file is a fifo", "inputs", ["train", "mlp", *MNIST, *FAST],
         "IDX file 'data/MNIST/raw/train-images-idx3-ubyte.gz' is a named pipe (FIFO)",
         all_of(mnist_files(), replaced_by_fifo("data/MNIST/raw/train-images-idx3-ubyte.gz"))),
    Case("inputs: eval --num too small for precision/recall", "inputs", ["eval", "w.safetensors", "--num", "2"],
         "--num is 2, too few: precision/recall with k=3 needs more than k points per set, so at least 4"),
    Case("inputs: eval --num-real too small for the baseline", "inputs",
         ["eval", "w.safetensors", "--num-real", "6", *EVAL], "--num-real is 6, too few"),
    Case("inputs: eval weights whose shape lies (same pixel count)", "inputs",
         ["eval", "run/generator.safetensors", *EVAL], "makes 1x8x32 images but the data its run trained on "
         "(config.json) is 1x16x16; as many values per image, laid out differently",
         run_generator_claiming("[1, 8, 32]")),
    Case("inputs: eval weights of a non-square shape", "inputs", ["eval", "w.safetensors", *EVAL],
         "makes 1x4x16 images; evaluation needs square images",
         weights(lambda t, m: m.update(image_shape="[1, 4, 16]"))),
    Case("inputs: eval a 4-channel generator against MNIST", "inputs", ["eval", "w.safetensors", *EVAL],
         "makes 4-channel images (4x4x4); evaluation compares grey (1 channel) or RGB (3 channel) images",
         weights(lambda t, m: m.update(image_shape="[4, 4, 4]"))),
    Case("inputs: eval beside a damaged config.json", "inputs", ["eval", "run/generator.safetensors", *EVAL],
         "the run's config 'run/config.json' is damaged",
         all_of(existing_run, text_file("run/config.json", '{"data": '))),
    Case("inputs: eval beside a config.json that is a fifo", "inputs", ["eval", "run/generator.safetensors", *EVAL],
         "the run's config 'run/config.json' is a named pipe (FIFO)",
         all_of(existing_run, replaced_by_fifo("run/config.json"))),
    Case("inputs: eval an image folder without Inception weights", "inputs", ["eval", "w.safetensors", *IMAGES, *EVAL],
         "no backbone can evaluate this data: inception skipped: the FID InceptionV3 weights are not here",
         rgb_generator_and_images, NO_INCEPTION),
    Case("inputs: eval with --inception-weights a fifo", "inputs",
         ["eval", "w.safetensors", "--backbone", "inception", "--inception-weights", "i.pth", *EVAL],
         "inception skipped: Inception weights file 'i.pth' is a named pipe (FIFO)",
         all_of(with_generator(), fifo("i.pth"))),
    Case("inputs: eval conditional accuracy of an unconditional generator", "inputs",
         ["eval", "w.safetensors", "--metrics", "accuracy", *EVAL],
         "none of the metrics asked for (accuracy: cond_accuracy) can be measured here", with_generator()),
    # (end of round two: inputs)
    # -- round two: run directories (locks, restarts, resume, divergence) --------------------------
    Case("run: resume another variant's run", "run", ["train", "dcgan", *FAST, "--out", "run", "--resume"],
         "holds a 'mlp' run, not 'dcgan'; resume it with `ganzoo train mlp --out run --resume`", existing_run),
    Case("run: resume with another seed", "run", ["train", "mlp", *FAST, "--out", "run", "--resume", "--seed", "5"],
         "run.seed was 0, now 5", existing_run),
    Case("run: resume with another batch size", "run",
         ["train", "mlp", *FAST, "--out", "run", "--resume", "--batch-size", "16"], "run.batch_size was 32, now 16",
         existing_run),
    Case("run: resume with another image size", "run",
         ["train", "mlp", *FAST, "--out", "run", "--resume", "--image-size", "8"], "data.image_size was 16, now 8",
         existing_run),
    Case("run: resume with neither config.json nor checkpoint", "run",
         ["train", "--out", "run", "--resume", "--device", "cpu"], "nothing to resume in 'run': it holds no run",
         folder_of({"run/metrics.jsonl": b""})),
    Case("run: resume without --out or variant", "run", ["train", "--resume", "--device", "cpu"],
         "--resume needs the run directory: pass --out DIR"),
    Case("run: --out locked by a running process", "run", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "is in use by process", lambda d: (existing_run(d), _hold_lock(d / "run"))),
    Case("run: --out under a file", "run", ["train", "mlp", *FAST, "--out", "notes.txt/run"],
         "--out 'notes.txt/run' is under 'notes.txt', which is a file, not a directory", text_file("notes.txt", "keep me\n")),
    Case("run: batch size 1 with BatchNorm", "run", ["train", "dcgan", *FAST, "--image-size", "32", "--batch-size", "1"],
         "its BatchNorm layers need at least 2 images per batch; use --batch-size 2 or more"),
    Case("run: a one-image dataset with BatchNorm", "run",
         ["train", "dcgan", *FAST, "--image-size", "32", "--limit", "1", "--batch-size", "1"], "need at least 2 images per batch"),
    Case("run: a config file table given as a value, with a run flag", "run",
         ["train", "mlp", "--config", "r.toml", *FAST], "run must be a table of settings, got 5",
         text_file("r.toml", "run = 5\n")),
    Case("run: a config file table given as a value, alone", "run", ["train", "mlp", "--config", "r.toml"],
         "run must be a table of settings, got 5", text_file("r.toml", "run = 5\n")),
    # (end of round two: runs)
    # -- round three: whose directory --out is, outputs that are inputs --------------------------
    Case("round3: --out is another tool's folder", "run", ["train", "mlp", *FAST, "--out", "other"],
         "holds files ganzoo did not write", folder_of({"other/config.json": b'{"epochs": 3}',
                                                        "other/samples/a.png": b"png", "other/checkpoints/c": b"c"})),
    Case("round3: --overwrite on another tool's folder", "run", ["train", "mlp", *FAST, "--out", "other",
                                                                  "--overwrite"],
         "holds files ganzoo did not write", folder_of({"other/README.md": b"# mine\n", "other/tensorboard/e": b"e"})),
    Case("round3: --out is a non-empty folder of notes", "run", ["train", "mlp", *FAST, "--out", "notes"],
         "holds files ganzoo did not write", folder_of({"notes/todo.txt": b"keep me"})),
    Case("round3: a damaged run marker", "run", ["train", "mlp", *FAST, "--out", "run", "--overwrite"],
         "run marker", lambda d: (existing_run(d), (d / "run" / ".ganzoo-run").write_text("{not json"))),
    Case("round3: the VARIANT argument and --set variant disagree", "config",
         ["train", "mlp", *FAST, "--set", "variant=dcgan"], "two variants asked for: 'mlp'"),
    Case("round3: eval --out is its own generator", "outputs",
         ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/generator.safetensors"],
         "which this command reads", existing_run),
    Case("round3: eval --out is the run's checkpoint", "outputs",
         ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/checkpoints/last.safetensors"],
         "which this command reads", existing_run),
    Case("round3: sample --out is the run's loss curve", "outputs",
         ["sample", "run/generator.safetensors", "--out", "run/loss_curve.png"], "which this command reads",
         existing_run),
    Case("round3: export --out is a link to its input", "outputs",
         ["export", "run/generator.safetensors", "--format", "torchscript", "--out", "link.pt"],
         "which this command reads",
         lambda d: (existing_run(d), os.symlink(d / "run" / "generator.safetensors", d / "link.pt"))),
    # -- round three: strict readers --------------------------------------------------------------
    Case("round3: a YAML key given twice", "config", ["train", "mlp", "--config", "c.yaml", *FAST],
         "'epochs' is set twice", text_file("c.yaml", "run:\n  epochs: 1\n  epochs: 2\n")),
    Case("round3: a JSON section given twice", "config", ["train", "mlp", "--config", "c.json", *FAST],
         "is set twice", text_file("c.json", '{"run": {"epochs": 1}, "run": {"epochs": 2}}')),
    Case("round3: a TOML boolean for a count", "config", ["train", "mlp", "--config", "c.toml", *FAST],
         "run.log_every_steps: must be a number, not true or false",
         text_file("c.toml", "[run]\nlog_every_steps = true\n")),
    Case("round3: YAML 1.1's yes for a count", "config", ["train", "mlp", "--config", "c.yaml", *FAST],
         "run.seed: Input should be a valid integer", text_file("c.yaml", "run:\n  seed: yes\n")),
    Case("round3: a YAML alias bomb", "config", ["train", "mlp", "--config", "bomb.yaml", *FAST],
         "aliases expand to more than", text_file("bomb.yaml", "".join(
             [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" if i else "l0: &l0 [lol, lol, lol]\n"
              for i in range(9)]))),
    Case("round3: a config nested 10,000 deep", "config", ["train", "mlp", "--config", "deep.json", *FAST],
         "nest more than 64 deep", text_file("deep.json", '{"model": ' + "[" * 10_000 + "]" * 10_000 + "}")),
    Case("round3: a number no float holds", "config", ["train", "mlp", "--config", "c.json", *FAST],
         "is out of range", text_file("c.json", '{"optimizer": {"lr": 1e400}}')),
    Case("round3: YAML with a NUL character", "config", ["train", "mlp", "--config", "c.yaml", *FAST],
         "unacceptable character", text_file("c.yaml", "run:\n  epochs: 1\x00\n")),
    # -- round three: metadata that lies ---------------------------------------------------------
    Case("round3: metadata edited after writing", "weights", _w(), "its metadata was changed after it was written",
         unsigned_edit({"image_shape": "[1, 4, 16]"})),
    Case("round3: metadata from a newer ganzoo", "weights", _w(), "newer than the installed",
         weights(lambda t, m: m.update({"ganzoo_version": "99.0.0"}))),
    Case("round3: an image shape of floats", "weights", _w(), "image_shape.0: Input should be a valid integer",
         weights(lambda t, m: m.update({"image_shape": "[1.0, 8, 8]"}))),
    Case("round3: a variant name with a newline", "weights", _w(), "variant: String should match pattern",
         weights(lambda t, m: m.update({"variant": "mlp\nerror: forged"}))),
    Case("round3: megabytes of metadata", "weights", _w(), "bytes of metadata, more than any generator's",
         weights(lambda t, m: m.update({"notes": "x" * 2**21}))),
    Case("round3: metadata nested 10,000 deep", "weights", _w(), "nest more than 64 deep",
         weights(lambda t, m: m.update({"model_config": "[" * 10_000 + "]" * 10_000}))),
    Case("round3: BatchNorm with zero variance and a huge gain", "weights", _w(), "which no trained layer does",
         lambda d: _dcgan_file(d, _zero_variance_huge_gain)),
    Case("round3: an RGB generator against MNIST digits", "eval",
         ["eval", "w.safetensors", "--dataset", "mnist-embedded", "--num", "100", "--no-baseline"],
         "makes 3-channel images and dataset 'mnist-embedded' holds 1-channel ones", with_rgb_generator),
    # -- round three: plugins that end the process, data that explodes ---------------------------
    Case("round3: a plugin that calls sys.exit on import", "plugins", ["list"],
         "failed to import 'exits_plugin': SystemExit: 3", fake_plugin("exits", "import sys\nsys.exit(3)\n"),
         PLUGIN_SITE, exit_code=0),
    Case("round3: a plugin that raises KeyboardInterrupt in a hook", "plugins", ["list"],
         "raised KeyboardInterrupt", fake_plugin("interrupts", """
             from ganzoo.plugin import hookimpl

             @hookimpl
             def ganzoo_register_losses():
                 raise KeyboardInterrupt
         """), PLUGIN_SITE, exit_code=0),
    Case("round3: a gzip bomb as MNIST", "inputs", ["train", "mlp", *MNIST, *FAST],
         "the file unpacks to more than 7,840,016", mnist_files(packed=_bomb)),
]


# -- running -------------------------------------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def run_case(case: Case, directory: Path) -> Outcome:
    """Build the scene in ``directory``, run the command there, report what changed.

    Cases that need their own environment (a fake plugin on PYTHONPATH) run as real
    ``python -m ganzoo`` processes; the rest call the same ``ganzoo.cli.main`` in this process,
    one at a time from their own directory, which skips the seconds of imports per case.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if case.setup:
        case.setup(directory)
    before = _snapshot(directory)
    if case.env:
        env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **case.env}
        result = subprocess.run([sys.executable, "-m", "ganzoo", *case.args], cwd=directory, env=env,
                                capture_output=True, text=True, timeout=600)
        returncode, stdout, stderr = result.returncode, result.stdout, result.stderr
    else:
        returncode, stdout, stderr = _run_in_process(case.args, directory, case.fault)
    after = _snapshot(directory)
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    return Outcome(returncode, stdout, stderr, changed)


def _run_in_process(args: list[str], directory: Path,
                    fault: Callable[[], ContextManager[object]] | None = None) -> tuple[int, str, str]:
    from ganzoo.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(directory)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                fault() if fault else contextlib.nullcontext():
            try:
                returncode = main(args)
            except SystemExit as exit_:  # argparse's own usage errors
                returncode = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:  # what a real process would print as a traceback
                traceback.print_exc()
                returncode = 1
    finally:
        os.chdir(previous)
    return returncode, stdout.getvalue(), stderr.getvalue()


def run_cases(cases: list[Case], root: Path, template_run: Path) -> dict[str, Outcome]:
    """Run the subprocess cases in a thread pool while the in-process ones run here."""
    global _TEMPLATE_RUN
    _TEMPLATE_RUN = template_run
    directories = {case.id: root / f"case-{index:02d}" for index, case in enumerate(cases)}
    with ThreadPoolExecutor(2) as pool:
        futures = {case.id: pool.submit(run_case, case, directories[case.id]) for case in cases if case.env}
        outcomes = {case.id: run_case(case, directories[case.id]) for case in cases if not case.env}
        return outcomes | {name: future.result() for name, future in futures.items()}


def make_template_run(directory: Path) -> Path:
    """A real finished run (one tiny epoch) to copy into the scenes that need one."""
    from ganzoo.core.registry import get_registry
    from ganzoo.training.loop import train
    from ganzoo.training.plan import make_plan

    flags = {"variant": "mlp", "data": {"limit": 64, "image_size": 16},
             "run": {"out_dir": str(directory), "epochs": 1, "batch_size": 32, "device": "cpu"}}
    train(make_plan([{"run": {"out_dir": "runs/mlp"}}, flags], get_registry()))
    return directory


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if getattr(item, "callspec", None) and isinstance(item.callspec.params.get("case"), Case)}
    root = tmp_path_factory.mktemp("hostile")
    template = make_template_run(root / "template-run")
    return run_cases([case for case in CASES if case.id in wanted], root, template)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_refused_in_one_line(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert outcome.returncode == case.exit_code, outcome
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert not outcome.changed, f"files changed or appeared: {outcome.changed}"
    if case.exit_code == 0:
        assert "Variants" in outcome.stdout and "mnist-embedded" in outcome.stdout, outcome.stdout
        named = [line for line in outcome.stdout.splitlines() if line.startswith("broken: ")]
        assert len(named) == 1 and case.expect in named[0], outcome.stdout[-2000:]
        return
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.stderr
    assert case.expect in lines[0], lines[0]


def test_a_duplicate_never_takes_a_builtin_down(tmp_path: Path) -> None:
    """With a plugin that registers ``mlp`` again, ganzoo's ``mlp`` still lists, trains and samples."""
    def step(args: list[str], scene: Callable[[Path], None] | None = None) -> Outcome:
        return run_case(Case(args[0], "plugin", args, "", scene, PLUGIN_SITE), tmp_path)

    listing = step(["list"], fake_plugin("evil-dup", TAKES_MLP))
    assert listing.returncode == 0 and re.search(r"│ mlp +│ ganzoo-mlp +│", listing.stdout), listing.stdout
    assert "│ evil-dup" not in listing.stdout and "broken: plugin 'evil-dup'" in listing.stdout
    trained = step(["train", "mlp", *FAST, "--out", "run"])
    assert trained.returncode == 0 and "run/generator.safetensors" in trained.changed, trained
    sampled = step(["sample", "run/generator.safetensors", *SAMPLE])
    assert sampled.returncode == 0 and sampled.changed == ["samples.png"], sampled


TABLE = Path(__file__).resolve().parents[1] / "docs" / "pages" / "reliability-cases.md"


def test_the_documented_table_lists_every_case_with_its_line() -> None:
    rows = {row.split(" | ")[1]: row for row in TABLE.read_text(encoding="utf-8").splitlines()
            if row.startswith("| ") and row.count(" | ") >= 4}
    missing = [case.id for case in CASES if case.id not in rows]
    assert not missing, f"regenerate {TABLE.name} (python tests/test_hostile.py): missing {missing}"
    stale = [case.id for case in CASES if _markdown(case.expect) not in rows[case.id]]
    assert not stale, f"regenerate {TABLE.name} (python tests/test_hostile.py): stale {stale}"


def _markdown(text: str) -> str:
    """Text for a table cell inside a code span (``` `` text `` ```): shown as printed, brackets and
    stars included; only the cell's own separator needs escaping."""
    return text.replace("|", "\\|")


def _command(case: Case) -> str:
    shown = list(case.args)
    for common in (FAST, SAMPLE):  # the small sizes every case adds, which the page mentions once
        for start in range(len(shown) - len(common) + 1):
            if shown[start:start + len(common)] == common:
                del shown[start:start + len(common)]
                break
    prefix = "PYTHONPATH=site " if case.env else ""
    return f"`{prefix}ganzoo {' '.join(shown)}`".replace("|", "\\|")


def write_table(outcomes: dict[str, Outcome]) -> str:
    lines = ["| # | case | command | exit | what ganzoo prints |", "|---|---|---|---|---|"]
    for number, case in enumerate(CASES, 1):
        outcome = outcomes[case.id]
        printed = (outcome.stderr.strip() if case.exit_code else
                   next(line for line in outcome.stdout.splitlines() if line.startswith("broken: ")))
        lines.append(f"| {number} | {case.id} | {_command(case)} | {outcome.returncode} | `` {_markdown(printed)} `` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        sys.stdout.write(write_table(run_cases(CASES, root, make_template_run(root / "template-run"))))
