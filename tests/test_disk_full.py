"""A real full disk: a run whose directory is on a small tmpfs ends with one line and exit 2,
leaves no damaged or half-written file, and resumes once space is free.

(Each write site also gets an injected ENOSPC in ``tests/test_files.py``; this is the same
failure from the kernel, at whatever write happens to hit it.) Mounting needs root; without it
the test is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganzoo.io.safe_state import read_safetensors

TRAIN = ["train", "mlp", "--limit", "128", "--image-size", "16", "--batch-size", "32", "--epochs", "2",
         "--device", "cpu", "--quiet", "--seed", "3", "--set", "run.checkpoint_every_steps=2",
         "--set", "model.generator_widths=[32]", "--set", "model.discriminator_widths=[32]",
         "--set", "model.latent_dim=8", "--set", "run.num_fixed_samples=16"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'}); "
                    "the injected-ENOSPC tests in test_files.py still cover every write site")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """Fill the disk, then free ``leave_bytes`` of it."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_bytes))
    return filler


def assert_nothing_damaged(out: Path) -> None:
    if not out.exists():
        return
    leftovers = [p.name for p in out.rglob(".*.tmp-*")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    if (out / "config.json").exists():
        json.loads((out / "config.json").read_text())
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        if (out / name).exists():
            read_safetensors(out / name, name)
    for png in out.rglob("*.png"):
        from PIL import Image

        with Image.open(png) as image:
            image.load()


@pytest.mark.slow
@pytest.mark.parametrize("free_kib", [0, 4, 40, 120])
def test_a_full_disk_ends_in_one_line_and_the_run_resumes_once_space_is_free(small_disk: Path, free_kib: int):
    out = small_disk / "run"
    filler = fill(small_disk, free_kib * 1024)
    full = subprocess.run([sys.executable, "-m", "ganzoo", *TRAIN, "--out", str(out)], env=ENV,
                          capture_output=True, text=True, timeout=300)
    lines = full.stderr.strip().splitlines()
    if full.returncode == 0:  # everything fitted: nothing to check at this level
        pytest.skip(f"the run fitted in {free_kib} KiB")
    assert full.returncode == 2 and len(lines) == 1, full.stderr
    assert "No space left on device" in lines[0] and "internal error" not in lines[0], lines[0]
    assert_nothing_damaged(out)

    filler.unlink()
    started = (out / "config.json").exists()  # else the run never began: start it, as a user would
    resume = ["--resume"] if started else []
    resumed = subprocess.run([sys.executable, "-m", "ganzoo", *TRAIN, "--out", str(out), *resume], env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert_nothing_damaged(out)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "step"]
    assert steps == sorted(set(steps)) and steps[-1] == 8, steps  # no duplicated or lost rows
