"""The whole epoch: ``ganzoo train dcgan-64`` against the classic PyTorch DCGAN tutorial pipeline.

Three arms train DCGAN-64 for one epoch on the same digits (``epoch_data.py`` writes the
first ``DIGITS`` of the embedded MNIST in torchvision's layout), at the same batch size, on the
same machine, each as a fresh process:

- ``tutorial``: ``tutorial_dcgan.py``, the tutorial as users know it: torchvision's MNIST with
  per-image Resize/ToTensor/Normalize through a DataLoader with two workers, a sample grid
  every 100 iterations and at the end, a checkpoint after the epoch;
- ``ganzoo``: ``ganzoo train dcgan-64 --dataset mnist --data-root ROOT`` with its defaults, as a
  user gets them (``run.speed`` auto, the per-epoch sample grid, the final checkpoint and
  generator file);
- ``ganzoo --speed off``: the same with the plain fp32 path.

What is timed is the whole process, start-up and imports included, with ``perf_counter``
around ``subprocess.run``. The arms take turns: each round runs every arm once, the first arm
rotating from round to round, so a slow spell of a shared machine falls on all of them. The
record holds each arm's median wall time, each ganzoo arm's median over the rounds of
tutorial time / its time (the speed-up), and how far the rounds spread. Nothing is asserted
about time; ``report.py`` says whether the target was met.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from epoch_data import DEFAULT_DIGITS, write_mnist_digits
from measure import Settings

SETTINGS = Settings.from_environment()
SMOKE = SETTINGS.smoke
DIGITS = 128 if SMOKE else DEFAULT_DIGITS
BATCH_SIZE = 64
ROUNDS = int(os.environ.get("GANZOO_BENCH_EPOCH_ROUNDS", "1" if SMOKE else "3"))
TUTORIAL_SCRIPT = Path(__file__).with_name("tutorial_dcgan.py")
BASELINE = "tutorial"
GANZOO_ARMS = {"ganzoo": [], "ganzoo --speed off": ["--speed", "off"]}
"""ganzoo arm -> the flags it adds to ``ganzoo train dcgan-64``."""
ARMS = (BASELINE, *GANZOO_ARMS)
WRITTEN = {BASELINE: ("checkpoint_epoch_0.pth",), **{arm: ("generator.safetensors", "checkpoints/last.safetensors",
                                                          "samples/epoch-0001.png") for arm in GANZOO_ARMS}}
"""What each arm must have written for its run to count: the checkpoint, and ganzoo's sample grid."""


def arm_command(arm: str, root: Path, out: Path) -> list[str]:
    """The command line of one arm's run: one epoch, ``BATCH_SIZE``, the benchmark's device."""
    common = ["--epochs", "1", "--batch-size", str(BATCH_SIZE), "--device", SETTINGS.device]
    if arm == BASELINE:
        return [sys.executable, str(TUTORIAL_SCRIPT), "--root", str(root), "--out", str(out), *common]
    return [sys.executable, "-m", "ganzoo", "train", "dcgan-64", *common, "--dataset", "mnist",
            "--data-root", str(root), "--out", str(out), "--overwrite", *GANZOO_ARMS[arm]]


def run_environment() -> dict[str, str]:
    """This process's environment; ``GANZOO_BENCH_THREADS`` becomes every arm's torch CPU threads."""
    return {**os.environ, **({"OMP_NUM_THREADS": str(SETTINGS.threads)} if SETTINGS.threads else {})}


def timed_run(arm: str, root: Path, out: Path) -> float:
    """Wall seconds of one arm's whole process; a run that fails, or writes less than it should, raises."""
    start = time.perf_counter()
    done = subprocess.run(arm_command(arm, root, out), env=run_environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{arm} exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    missing = [name for name in WRITTEN[arm] if not (out / name).exists()]
    if missing:
        raise RuntimeError(f"{arm} ran but did not write {', '.join(missing)} in {out}")
    return seconds


def epochs_taking_turns(root: Path, work_dir: Path, rounds: int) -> dict[str, list[float]]:
    """Every arm once per round, the starting arm rotating; each arm's seconds, round by round."""
    seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for round_index in range(rounds):
        shift = round_index % len(ARMS)
        for arm in ARMS[shift:] + ARMS[:shift]:
            out = work_dir / f"round-{round_index}" / arm.replace(" ", "_")
            seconds[arm].append(timed_run(arm, root, out))
            print(f"round {round_index + 1}/{rounds} {arm}: {seconds[arm][-1]:.1f} s", flush=True)
            shutil.rmtree(out)  # outside the timed window; a full run writes tens of MiB
    return seconds


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mnist_digits(tmp_path_factory.mktemp("epoch-mnist"), DIGITS)


def test_epoch_vs_tutorial(benchmark, record, tmp_path: Path, mnist_root: Path) -> None:
    seconds: dict[str, list[float]] = {}
    benchmark.pedantic(lambda: seconds.update(epochs_taking_turns(mnist_root, tmp_path, ROUNDS)),
                       rounds=1, iterations=1)
    arms = {}
    for arm, times in seconds.items():
        speed_ups = [tutorial / mine for tutorial, mine in zip(seconds[BASELINE], times)]  # the same round
        arms[arm] = {"epoch_s": statistics.median(times), "rounds_spread": max(times) / min(times)}
        if arm != BASELINE:
            arms[arm].update(vs_tutorial=statistics.median(speed_ups), vs_tutorial_min=min(speed_ups),
                             vs_tutorial_max=max(speed_ups), flags=GANZOO_ARMS[arm])
    record(benchmark, kind="epoch", workload=f"dcgan-64-b{BATCH_SIZE}", variant="dcgan-64", batch_size=BATCH_SIZE,
           digits=DIGITS, rounds=ROUNDS, cpus=os.cpu_count(), arms=arms, seconds=seconds)
