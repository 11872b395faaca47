"""Every file ganzoo writes: atomic (a failed write leaves the old file and no temporary file),
output paths refused before the work, OS errors as one line with exit 2, and ``ganzoo sample``
in chunks with bounded memory and the same images as one big call."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.cli import main
from ganzoo.core.registry import get_registry
from ganzoo.core.sampling import seeded_inputs
from ganzoo.errors import OutputError
from ganzoo.generators.sampling import decode_in_chunks
from ganzoo.generators.weights import load_generator, save_generator
from ganzoo.io.files import append_line, atomic_write_bytes, check_output_path, describe_os_error
from ganzoo.io.images import save_sample_grid
from ganzoo.testing.faults import disk_full, no_write_permission, read_only_file_system
from ganzoo.training.metrics_log import MetricsLog
from ganzoo.training.rundir import RunDirectory

FAST_TRAIN = ["--limit", "64", "--image-size", "16", "--batch-size", "32", "--epochs", "1", "--device", "cpu",
              "--quiet"]
FAST_EVAL = ["--num", "64", "--num-real", "64", "--metrics", "fid", "--backbone", "mnist-classifier",
             "--device", "cpu"]
FAST_BENCH = ["--budget-images", "64", "--seeds", "1", "--limit", "64", "--image-size", "16", "--batch-size", "32",
              "--device", "cpu", "--eval-points", "1", "--eval-samples", "64", "--quiet", "--set",
              "model.latent_dim=8"]


def write_generator(path: Path, variant: str = "mlp", image_shape: tuple[int, int, int] = (1, 8, 8),
                    edit: Callable[[torch.nn.Module], None] | None = None) -> Path:
    """A real, small (untrained) generator file of ``variant``."""
    spec = get_registry().get("variant", variant)
    options = spec.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = spec.spec.build_generator(options, image_shape, 10 if variant.startswith("cgan") else None)
    if edit:
        with torch.no_grad():
            edit(generator)
    save_generator(generator, path, variant=variant, model_config=options.model_dump(mode="json"),
                   plugin=spec.plugin)
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def temporary_files(root: Path) -> list[Path]:
    return list(root.rglob(".*.tmp-*"))


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory of a command: a generator file, a private cache, nothing else."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    write_generator(tmp_path / "w.safetensors")
    return tmp_path


# -- the atomic writers --------------------------------------------------------------------------


def _no_space(*args: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary_file(call: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"old and complete")
    if call != "write":
        monkeypatch.setattr(os, call, _no_space)
    with disk_full("result.json") if call == "write" else contextlib.nullcontext():
        with pytest.raises(OSError) as raised:
            atomic_write_bytes(b"new" * 100_000, path)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)  # never the temporary name
    assert path.read_bytes() == b"old and complete" and not temporary_files(tmp_path)


def test_an_atomic_write_goes_through_a_symbolic_link(tmp_path: Path) -> None:
    (tmp_path / "real.png").write_bytes(b"old")
    (tmp_path / "link.png").symlink_to("real.png")
    atomic_write_bytes(b"new", tmp_path / "link.png")
    assert (tmp_path / "link.png").is_symlink() and (tmp_path / "real.png").read_bytes() == b"new"


def test_a_failed_append_leaves_the_log_as_it_was_and_a_cut_line_is_dropped(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write("step", step=1, d_loss=0.5)
    before = log.path.read_bytes()
    with disk_full("metrics.jsonl") as failed, pytest.raises(OSError, match="No space left"):
        log.write("step", step=2, d_loss=0.25)
    assert failed and log.path.read_bytes() == before  # the part written is cut back off
    with open(log.path, "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"kind": "step", "st')
    assert [row["step"] for row in log.read("step")] == [1]
    RunDirectory(tmp_path).truncate_metrics(after_step=1)
    assert log.path.read_bytes() == before
    append_line('{"kind": "step", "step": 2}', log.path)
    assert [row["step"] for row in log.read("step")] == [1, 2]


def test_os_errors_read_as_one_line_with_the_path_and_the_fix() -> None:
    full = describe_os_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "grid.png"))
    assert full == ("cannot write: grid.png: No space left on device; free some space (or choose another --out) "
                    "and rerun; nothing was overwritten")
    assert describe_os_error(PermissionError(errno.EACCES, "Permission denied", "w.safetensors")).startswith(
        "cannot open: w.safetensors: Permission denied; check its permissions")
    assert "mounted read-only" in describe_os_error(OSError(errno.EROFS, os.strerror(errno.EROFS), "x"))
    assert describe_os_error(OSError(errno.EMFILE, os.strerror(errno.EMFILE))).startswith(
        "cannot open: Too many open files; raise the limit (ulimit -n)")


# -- output paths, before the work ---------------------------------------------------------------


PATH_CASES = {
    "a parent that is a file": ("notes.txt/grid.png", "file", "is under 'notes.txt', which is a file"),
    "a directory where a file goes": ("folder", "file", "is an existing directory; give a file path"),
    "a file where a directory goes": ("notes.txt", "directory", "is an existing file, not a directory"),
    "a fifo": ("grid.png", "file", "is a fifo (named pipe), not a regular file"),
    "a dangling symbolic link": ("dangling.png", "file", "is a dangling symbolic link (to 'nowhere/x.png')"),
    "a name too long": ("x" * 300 + ".png", "file", "has a name of 304 bytes, more than the 255"),
    "the wrong extension": ("grid.jpg", "file", "must end in .png; give a file name such as 'grid.png'"),
}


@pytest.mark.parametrize("name", PATH_CASES)
def test_an_output_path_that_cannot_be_written_is_refused_and_nothing_is_created(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, kind, expected = PATH_CASES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "folder").mkdir()
    (tmp_path / "dangling.png").symlink_to("nowhere/x.png")
    if name == "a fifo":
        os.mkfifo("grid.png")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(OutputError, match="^--out ") as refused:
        check_output_path(Path(path), "--out", kind=kind, suffix=".png" if kind == "file" else None)
    assert expected in str(refused.value)
    assert sorted(tmp_path.iterdir()) == before


def test_missing_directories_are_fine_and_stay_uncreated(tmp_path: Path) -> None:
    check_output_path(tmp_path / "new" / "deeper" / "grid.png", "--out", suffix=".png")
    check_output_path(tmp_path / "pngs", "--out", kind="directory")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_is_refused_before_the_model_loads(scene: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    locked = scene / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root ignores permission bits (as in CI containers): then the fault is injected at os.access
        with no_write_permission() if os.geteuid() == 0 else contextlib.nullcontext():
            assert main(["sample", "w.safetensors", "--out", "locked/grid.png", "--device", "cpu"]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write in 'locked': Permission denied; fix its permissions" in one_error_line(capsys)
    assert list(locked.iterdir()) == []


def test_a_real_read_only_file_system_is_refused_before_the_model_loads(
        scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mount = scene / "read-only"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.strip() or 'not root'}); "
                    "test_eval_refuses_an_unwritable_out_before_evaluating injects EROFS instead")
    try:
        assert main(["sample", "w.safetensors", "--out", "read-only/grid.png", "--device", "cpu"]) == 2
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert "cannot write in 'read-only': Read-only file system; that file system is mounted read-only" in \
        one_error_line(capsys)


def test_eval_refuses_an_unwritable_out_before_evaluating(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with read_only_file_system():
        assert main(["eval", "w.safetensors", *FAST_EVAL, "--out", "eval.json"]) == 2
    line = one_error_line(capsys)
    assert "--out 'eval.json': cannot write in" in line and "Read-only file system" in line
    (scene / "notes.txt").write_text("keep")
    started = time.monotonic()
    assert main(["eval", "w.safetensors", *FAST_EVAL, "--out", "notes.txt/eval.json"]) == 2
    assert "which is a file" in one_error_line(capsys) and time.monotonic() - started < 2
    assert not (scene / "cache").exists()  # no reference statistics: the evaluation never started


# -- every write site on a full disk -------------------------------------------------------------


def _old(name: str) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"the previous, complete file")
        return root / name
    return setup


def _no_previous(name: str) -> Callable[[Path], Path]:
    return lambda root: root / name


SITES = {
    "sample grid": (["sample", "w.safetensors", "--out", "grid.png", "--device", "cpu"], "grid.png", _old("grid.png")),
    "sample png files": (["sample", "w.safetensors", "--format", "png", "--out", "pngs", "--num", "300",
                          "--device", "cpu"], "sample-00260", _old("pngs/sample-00260.png")),
    "interpolate": (["interpolate", "w.safetensors", "--out", "walk.png", "--device", "cpu"], "walk.png",
                    _old("walk.png")),
    "eval json": (["eval", "w.safetensors", *FAST_EVAL, "--out", "eval.json"], "eval.json", _old("eval.json")),
    "reference cache": (["eval", "w.safetensors", *FAST_EVAL], "mnist-embedded-",  # the cache file's name
                        _no_previous("eval.json")),  # the evaluation stops there, with no result
    "bench report": (["bench", "mlp", *FAST_BENCH, "--out", "bench"], "bench.md", _old("bench/bench.md")),
    "per-epoch sample grid": (["train", "mlp", *FAST_TRAIN, "--out", "run"], "epoch-0001.png",
                              _no_previous("run/samples/epoch-0001.png")),
    "loss curve": (["train", "mlp", *FAST_TRAIN, "--out", "run"], "loss_curve.png",
                   _no_previous("run/loss_curve.png")),
}


@pytest.mark.parametrize("site", SITES)
def test_a_full_disk_at_each_write_site_is_one_line_and_nothing_is_damaged(
        site: str, scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, fault, previous = SITES[site]
    path = previous(scene)
    before = path.read_bytes() if path.exists() else None
    with disk_full(fault) as failed:
        code = main(argv)
    assert failed, f"the command never wrote {fault!r}"
    line = one_error_line(capsys)
    assert code == 2 and "No space left on device; free some space" in line, line
    assert "nothing was overwritten" in line and "internal error" not in line
    assert (path.read_bytes() if path.exists() else None) == before
    assert not temporary_files(scene)


# -- sampling in chunks --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["mlp", "cgan-mlp"])
def test_chunked_sampling_gives_exactly_the_images_of_one_call(variant: str, tmp_path: Path) -> None:
    generator = load_generator(write_generator(tmp_path / "w.safetensors", variant), device="cpu")
    whole = generator.sample(300, seed=5)
    latents, labels = seeded_inputs(generator, 300, 5)
    chunks = list(decode_in_chunks(generator, latents, labels, tmp_path / "w.safetensors", chunk_size=128))
    assert [len(chunk) for chunk in chunks] == [128, 128, 44]
    assert torch.equal(torch.cat(chunks), whole)


def test_the_sample_command_writes_the_grid_of_one_call_bit_for_bit(scene: Path) -> None:
    assert main(["sample", "w.safetensors", "--num", "600", "--seed", "2", "--nrow", "20", "--out", "chunked.png",
                 "--device", "cpu"]) == 0
    save_sample_grid(load_generator("w.safetensors", device="cpu").sample(600, seed=2), scene / "whole.png", nrow=20)
    assert (scene / "chunked.png").read_bytes() == (scene / "whole.png").read_bytes()


@pytest.mark.parametrize("channels", [1, 3])
def test_grids_have_the_pixels_torchvision_writes(channels: int, tmp_path: Path) -> None:
    from torchvision.utils import save_image

    images = torch.rand(11, channels, 6, 5, generator=torch.Generator().manual_seed(0)) * 2.2 - 1.1
    save_sample_grid(images, tmp_path / "ours.png", nrow=4)
    save_image(images, tmp_path / "torchvision.png", nrow=4, normalize=True, value_range=(-1, 1), padding=2)
    ours = np.asarray(Image.open(tmp_path / "ours.png"))
    theirs = np.asarray(Image.open(tmp_path / "torchvision.png"))
    assert np.array_equal(ours, theirs[..., 0] if channels == 1 else theirs)


def test_a_request_that_cannot_fit_in_memory_is_refused_quickly_with_the_estimate(
        scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_generator(scene / "big.safetensors", image_shape=(3, 256, 256))
    started = time.monotonic()
    assert main(["sample", "big.safetensors", "--num", "100000", "--out", "grid.png", "--device", "cpu"]) == 2
    line = one_error_line(capsys)
    assert time.monotonic() - started < 10 and not (scene / "grid.png").exists()
    assert "100,000 images of 3x256x256 need about 56.08 GiB of memory, more than the" in line, line
    assert "--format png DIR" in line


def test_the_memory_bound_follows_the_available_memory(scene: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import ganzoo.generators.sampling

    meminfo = scene / "meminfo"
    meminfo.write_text("MemTotal:       2000 kB\nMemAvailable:    1000 kB\n")
    monkeypatch.setattr(ganzoo.generators.sampling, "MEMINFO", meminfo)
    assert main(["sample", "w.safetensors", "--num", "20000", "--out", "grid.png", "--device", "cpu"]) == 2
    assert "more than the 0.5 MiB allowed (half of the available memory" in one_error_line(capsys)
    assert main(["sample", "w.safetensors", "--num", "16", "--out", "grid.png", "--device", "cpu"]) == 0
    assert main(["sample", "w.safetensors", "--num", "300", "--format", "png", "--out", "pngs",
                 "--device", "cpu"]) == 0  # files hold one chunk at a time, whatever --num is


def _nan_for_large_latents(generator: torch.nn.Module) -> None:
    """Weights that load (finite, and the loader's probe latents give finite images) but overflow to
    inf - inf = NaN for latents whose first coordinate exceeds 2 in size (the loader's 16 probe
    latents stay below 1.65; 2 of the 64 drawn from seed 1 go above 2.5)."""
    linears = [module for module in generator.modules() if isinstance(module, torch.nn.Linear)]
    first, last = linears[0], linears[-1]
    first.weight.zero_(), first.bias.zero_()
    first.weight[0, 0], first.weight[1, 0] = 1.7e38, -1.7e38
    last.weight[:, :2] = 1.0


def test_weights_that_generate_nan_are_refused_by_sample_and_interpolate(
        scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_generator(scene / "nan.safetensors", edit=_nan_for_large_latents)
    assert main(["sample", "nan.safetensors", "--seed", "1", "--out", "grid.png", "--device", "cpu"]) == 2
    line = one_error_line(capsys)
    assert "'nan.safetensors': its weights produce NaN or Inf images" in line and "retrain" in line, line
    assert main(["interpolate", "nan.safetensors", "--seed", "1", "--out", "walk.png", "--device", "cpu"]) == 2
    assert "its weights produce NaN or Inf images" in one_error_line(capsys)
    assert not (scene / "grid.png").exists() and not (scene / "walk.png").exists()


def test_debug_shows_the_traceback_of_an_os_error(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with disk_full("grid.png"):
        assert main(["sample", "w.safetensors", "--out", "grid.png", "--device", "cpu", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: cannot write: grid.png: No space left on device" in err
