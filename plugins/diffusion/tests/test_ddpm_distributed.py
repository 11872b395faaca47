"""ddpm under DDP on CPU, as tests/test_distributed.py checks the GANs: two gloo ranks stay
identical and reproduce one process with the global batch; ``--nproc 2`` trains, resumes and
only rank 0 writes.

What DDP wraps here is the generator's ``training_network`` (the UNet denoiser), the only
player of a variant without a discriminator; the denoising strategy draws its timesteps and
noise through ``SoloGame.draw``, so every rank's RNG stays in lock-step as the GAN's latents do.
The tolerance is the GAN test's: atol 1e-5 + rtol 1e-4, against SGD steps that move the weights
by more than 1e-3. SGD, not ddpm's Adam, because the UNet's mid-block attention (there even with
``attention = false``) has a weight whose gradient is zero in exact arithmetic: the key bias adds
the same logit to every key of a query, which the softmax ignores. Its computed gradient is float
noise, different in every summation order, and Adam scales noise up to a full lr-sized step;
after 4 Adam steps a 2-rank run and one process differ there by 1.6e-5 for that reason alone.
With SGD they agree within 3e-8 everywhere.

Each test starts two processes with torchrun that import torch and diffusers (about 30 s on two
cores), so both are ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.core.registry import get_registry
from ganzoo.generators.weights import load_generator
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.loop import train
from ganzoo.training.metrics_log import MetricsLog
from ganzoo.training.plan import make_plan

WORKER = Path(__file__).resolve().parents[3] / "tests" / "distributed_worker.py"
STEPS, PER_RANK = 3, 8
TINY_MODEL = {"widths": [8, 16], "norm_groups": 4, "attention": False, "steps": 3}
"""The smallest UNet the plugin builds (two levels: 8 px images are enough) and 3 DDIM steps."""
TINY_DDPM: dict[str, Any] = {
    "variant": "ddpm", "model": TINY_MODEL,
    "data": {"name": "mnist-embedded", "image_size": 8, "limit": 64},
    "optimizer": {"name": "sgd", "lr": 0.05},  # a step proportional to the gradient, as in the GAN test
    "run": {"device": "cpu", "seed": 3},
}


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_two_ranks_hold_identical_denoisers_and_match_one_process(tmp_path: Path) -> None:
    config = tmp_path / "ddpm.json"
    config.write_text(json.dumps(TINY_DDPM))
    torchrun(str(WORKER), str(tmp_path), str(PER_RANK), str(STEPS), str(config), cwd=tmp_path)
    rank0, rank1 = torch.load(tmp_path / "rank-0.pt"), torch.load(tmp_path / "rank-1.pt")
    (tmp_path / "single").mkdir()
    worker().main(tmp_path / "single", 2 * PER_RANK, STEPS, TINY_DDPM)
    reference = torch.load(tmp_path / "single" / "rank-0.pt")
    assert len(rank0) == len(rank1) == len(reference) == STEPS
    assert all(name.startswith("0.denoiser.") for name in reference[0])  # one player: no discriminator
    worker().assert_ranks_agree_with_one_process(rank0, rank1, reference)


@pytest.mark.slow
def test_nproc_trains_resumes_and_only_rank_0_writes(tmp_path: Path, run_cli) -> None:
    common = ["train", "ddpm", "--device", "cpu", "--limit", "64", "--image-size", "8",
              "--batch-size", str(PER_RANK), "--out", "ddp", "--set", "run.log_every_steps=1",
              "--set", "run.num_fixed_samples=4", "--set", "optimizer.name=sgd", "--set", "optimizer.lr=0.05",
              *[f"--set=model.{key}={json.dumps(value)}" for key, value in TINY_MODEL.items()]]
    first = run_cli(*common, "--max-steps", "2", "--nproc", "2", env={"OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"global batch {2 * PER_RANK} = {PER_RANK} per rank x 2" in first.stdout + first.stderr
    second = run_cli(*common, "--max-steps", "4", "--nproc=2", "--resume", "--quiet", env={"OMP_NUM_THREADS": "1"})
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("trained ddpm for 4 steps (64 images") == 1  # rank 0 reports, once

    out = tmp_path / "ddp"
    rows = MetricsLog(out / "metrics.jsonl").read("step")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(row["g_loss"]) for row in rows)
    state, progress, _ = load_checkpoint(out / "checkpoints" / "last.safetensors")
    assert progress.global_step == 4 and {"generator", "g_optimizer", "ema_generator"} <= set(state)
    assert not {"discriminator", "d_optimizer"} & set(state)
    samples = load_generator(out / "generator.safetensors", device="cpu").sample(4, seed=0)
    assert samples.shape == (4, 1, 8, 8) and torch.isfinite(samples).all()

    reference = make_plan([{"variant": "ddpm", "model": TINY_MODEL, "data": {"limit": 64, "image_size": 8},
                            "optimizer": TINY_DDPM["optimizer"],
                            "run": {"device": "cpu", "batch_size": 2 * PER_RANK, "max_steps": 4,
                                    "num_fixed_samples": 4, "out_dir": str(tmp_path / "single"),
                                    "log_every_steps": 1}}], get_registry())
    single = train(reference)  # with ddpm's EMA: the saved generator is the EMA's
    ddp_weights, single_weights = load_file(out / "generator.safetensors"), load_file(single.generator_path)
    assert ddp_weights.keys() == single_weights.keys()
    for name, value in single_weights.items():
        torch.testing.assert_close(ddp_weights[name], value, atol=1e-5, rtol=1e-4)
