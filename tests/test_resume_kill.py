"""Crash safety, end to end: a real ``python -m ganzoo train`` process is killed (SIGKILL, and
politely with SIGTERM/SIGINT) at random moments and resumed each time; the final weights must
be bit-for-bit those of a run that was never interrupted, and the last checkpoint must be
readable after every kill."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganzoo.core.callback import Callback
from ganzoo.errors import TrainingInterrupted
from ganzoo.io.safe_state import read_safetensors, read_safetensors_metadata
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.loop import train
from ganzoo.training.plan import make_plan

# 256 digits at 16x16, batch 32 -> 8 steps per epoch; a small MLP so a checkpoint per step is cheap.
TRAIN = ["train", "mlp", "--limit", "256", "--image-size", "16", "--batch-size", "32", "--epochs", "8",
         "--device", "cpu", "--seed", "7", "--quiet", "--set", "run.checkpoint_every_steps=1",
         "--set", "run.sample_every_epochs=0", "--set", "model.generator_widths=[64,128]",
         "--set", "model.discriminator_widths=[128]", "--set", "model.latent_dim=16", "--set", "run.log_every_steps=3"]
TOTAL_STEPS = 64
# Same thread count in every process: CPU kernels are deterministic for a fixed thread count.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "200"}


TOOLBOX = ["--strategy", "r1", "--set", "strategy.options.every=2", "--set", "ema.enabled=true",
           "--set", "ema.rampup=true", "--set", "augment.policy=translation,cutout,color"]
"""EMA, DiffAugment (its own RNG) and lazy R1: the state a resume must also bring back exactly."""
ADAPTIVE = [*TOOLBOX, "--set", "augment.target=0.6", "--set", "augment.adjust_every=3",
            "--set", "augment.adjust_images=3200"]
"""The toolbox with ADA: the probability and the signs counted since its last adjustment, too."""
OPTIONS = {"plain": [], "ema-augment-r1": TOOLBOX, "ema-ada-r1": ADAPTIVE}


def start(out: Path, *extra: str, toolbox: str = "plain") -> subprocess.Popen[str]:
    options = OPTIONS[toolbox]
    return subprocess.Popen([sys.executable, "-m", "ganzoo", *TRAIN, *options, "--out", str(out), *extra], env=ENV,
                            cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def checkpoint_step(out: Path) -> int:
    """The global step of the last complete checkpoint (-1 when there is none yet)."""
    path = out / "checkpoints" / "last.safetensors"
    if not path.exists():
        return -1
    skeleton = json.loads(read_safetensors_metadata(path, "checkpoint")["state"])
    return int(skeleton["progress"]["global_step"])


def wait_for_step(process: subprocess.Popen[str], out: Path, step: int, timeout: float = 240) -> bool:
    """Poll until a checkpoint at ``step`` or later exists; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while checkpoint_step(out) < step:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"no checkpoint at step {step} after {timeout}s"
        time.sleep(0.02)
    return True


def logged_rows(out: Path) -> list[dict[str, object]]:
    """The log without its wall-clock columns: the losses must be those of the uninterrupted run."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("elapsed_s", "images_per_s")} for row in rows]


@pytest.mark.parametrize("toolbox", sorted(OPTIONS))
def test_killed_and_resumed_run_ends_bit_for_bit_equal_to_an_uninterrupted_one(tmp_path: Path, toolbox: str) -> None:
    seed = int(os.environ.get("GANZOO_KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference = start(reference_dir, toolbox=toolbox)  # runs alongside the interrupted one

    # Interruptions: SIGKILL at random moments (mid-step or mid-write), and the polite signals.
    interruptions = [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
    history, last_step = [], 0
    for number, how in enumerate(interruptions):
        process = start(killed_dir, *(["--resume"] if number else []), toolbox=toolbox)
        target = last_step + rng.randint(1, 6)
        if not wait_for_step(process, killed_dir, target):
            break  # finished before we got to it: the later comparison still holds
        time.sleep(rng.uniform(0.0, 0.15))
        if process.poll() is not None:
            break
        process.send_signal(how)
        _, stderr = process.communicate(timeout=240)
        step = checkpoint_step(killed_dir)
        load_checkpoint(killed_dir / "checkpoints" / "last.safetensors")  # complete and readable, always
        history.append((how.name, step))
        context = f"kill seed {seed}, interruptions so far {history}"
        if how == signal.SIGKILL:
            assert process.returncode == -signal.SIGKILL, context
        else:
            lines = stderr.strip().splitlines()
            assert process.returncode == 130 and len(lines) == 1, (context, stderr)
            assert f"stopped by {how.name} at step {step}; checkpoint saved" in lines[0], (context, stderr)
            assert f"--out {killed_dir} --resume" in lines[0] and "Traceback" not in stderr
        assert step >= last_step, context
        last_step = step
    assert len(history) >= 3, f"too few interruptions landed mid-run: {history} (kill seed {seed})"

    final = start(killed_dir, "--resume", toolbox=toolbox)
    assert final.wait(timeout=300) == 0, final.communicate()[1]
    assert reference.wait(timeout=300) == 0, reference.communicate()[1]
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        expected, _ = read_safetensors(reference_dir / name, name)
        got, _ = read_safetensors(killed_dir / name, name)
        assert expected.keys() == got.keys()
        different = [key for key in expected if not torch.equal(expected[key], got[key])]
        assert not different, f"{name}: {different[:5]} differ after {history} (kill seed {seed})"
    assert checkpoint_step(killed_dir) == checkpoint_step(reference_dir) == TOTAL_STEPS
    assert logged_rows(killed_dir) == logged_rows(reference_dir), f"metrics.jsonl differs after {history}"
    leftovers = [p.name for p in (killed_dir / "checkpoints").iterdir() if p.name != "last.safetensors"]
    assert not leftovers, f"temporary files left behind: {leftovers}"


class StopAtStep(Callback):
    """Sends this process SIGINT as step ``step`` ends, the way Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, run: object, stats: object) -> None:
        if run.progress.global_step == self.step:  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGINT)


def test_a_run_stopped_on_an_epochs_last_log_step_writes_that_epochs_row_in_full(tmp_path: Path) -> None:
    """Stopped at step 8 of 8-step epochs with a log every 4 steps, the resumed run ends epoch 1
    before any new step: its epoch row must carry the step-8 means, as an uninterrupted run's does."""
    def plan(out: Path):
        return make_plan([{"variant": "mlp", "data": {"limit": 256, "image_size": 16},
                           "model": {"generator_widths": [32], "discriminator_widths": [32], "latent_dim": 8},
                           "run": {"out_dir": str(out), "epochs": 2, "batch_size": 32, "device": "cpu",
                                   "log_every_steps": 4, "sample_every_epochs": 0}}])

    train(plan(tmp_path / "reference"))
    with pytest.raises(TrainingInterrupted):
        train(plan(tmp_path / "stopped"), callbacks=[StopAtStep(8)])
    train(plan(tmp_path / "stopped"), resume=True)
    assert logged_rows(tmp_path / "stopped") == logged_rows(tmp_path / "reference")
    epoch_rows = [row for row in logged_rows(tmp_path / "stopped") if row["kind"] == "epoch"]
    assert len(epoch_rows) == 2 and all("d_loss" in row for row in epoch_rows)
