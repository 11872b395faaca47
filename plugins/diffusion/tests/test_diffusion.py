"""The ddpm variant: its noise schedule and training target by hand, deterministic sampling, real
training steps on the engine, weights in a fresh process, exact resume, and the discriminator-
needing settings refused in one line."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ganzoo_diffusion.models import DDPMGenerator
from ganzoo_diffusion.options import DDPMOptions
from ganzoo_diffusion.schedule import noise_schedule, noised

from ganzoo.errors import ConfigError
from ganzoo.generators.weights import load_generator, read_generator_metadata
from ganzoo.io.safe_state import read_safetensors
from ganzoo.testing import logged_steps, train_quietly
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.loop import train

TINY = {"widths": [8, 16], "norm_groups": 4, "attention": False, "steps": 3}
"""A UNet of a few thousand weights and 3 DDIM steps: every test below runs in seconds."""


def tiny_generator(**options: object) -> DDPMGenerator:
    torch.manual_seed(0)
    return DDPMGenerator(DDPMOptions(**{**TINY, **options}), (1, 16, 16)).eval()


def test_the_linear_schedule_matches_ho_et_al_by_hand() -> None:
    """beta_t = 1e-4 + (0.02 - 1e-4) t / (T - 1); alphabar_t = prod_{s <= t} (1 - beta_s)."""
    schedule = noise_schedule(DDPMOptions())
    betas = [1e-4 + (0.02 - 1e-4) * t / 999 for t in range(1000)]
    for t in (0, 1, 10, 500, 999):
        by_hand = math.prod(1 - beta for beta in betas[:t + 1])
        assert float(schedule.alphas_cumprod[t]) == pytest.approx(by_hand, rel=1e-5), t
    assert float(schedule.alphas_cumprod[0]) == pytest.approx(0.9999, rel=1e-7)
    assert float(schedule.alphas_cumprod[999]) == pytest.approx(4.036e-5, rel=1e-3)  # x_T is almost pure noise


@pytest.mark.parametrize("t", [0, 250, 999])
def test_the_training_input_and_target_by_hand(t: int) -> None:
    """x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps, and the target is eps itself."""
    schedule = noise_schedule(DDPMOptions())
    images, noise = torch.full((2, 1, 4, 4), 0.5), torch.tensor([1.0, -2.0]).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    noisy, target = noised(schedule, images, noise, torch.tensor([t, t]))
    alphabar = math.prod(1 - (1e-4 + (0.02 - 1e-4) * s / 999) for s in range(t + 1))
    for row, eps in enumerate((1.0, -2.0)):
        expected = math.sqrt(alphabar) * 0.5 + math.sqrt(1 - alphabar) * eps
        torch.testing.assert_close(noisy[row], torch.full((1, 4, 4), expected), rtol=1e-5, atol=1e-6)
    assert torch.equal(target, noise)


def test_ddim_is_deterministic_for_a_seed_and_the_latent_is_image_shaped() -> None:
    generator = tiny_generator()
    assert generator.latent_shape == (1, 16, 16) and generator.latent_dim == 256
    first, again, other = generator.sample(4, seed=3), generator.sample(4, seed=3), generator.sample(4, seed=4)
    assert first.shape == (4, 1, 16, 16) and first.abs().max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)
    latents = generator.sample_latents(4, generator=torch.Generator().manual_seed(3), device="cpu")
    assert torch.equal(generator.sample(4, latents=latents), first)  # the image is a function of x_T


def test_the_ddpm_chain_is_a_function_of_each_image_s_own_latent() -> None:
    generator = tiny_generator(sampler="ddpm", train_timesteps=20)
    latents = generator.sample_latents(3, generator=torch.Generator().manual_seed(0), device="cpu")
    together = generator.sample(3, latents=latents)
    torch.testing.assert_close(generator.sample(1, latents=latents[1:2]), together[1:2])  # not the batch's
    assert generator.process.steps == 20 and torch.isfinite(together).all()


def test_samplers_share_the_weights_and_are_named_by_their_steps() -> None:
    generator = tiny_generator()
    samplers = generator.samplers()
    assert list(samplers) == ["DDIM 3 steps", "DDIM 10 steps", "DDIM 50 steps", "DDPM 1000 steps"]
    assert samplers["DDIM 3 steps"] is generator
    shared = next(iter(samplers["DDPM 1000 steps"].parameters()))
    assert shared is next(iter(generator.parameters()))


def test_one_real_cpu_training_step_has_no_discriminator_anywhere(tiny_config) -> None:
    plan = tiny_config("ddpm", model=TINY, run={"max_steps": 1})
    assert plan.loss is None and plan.strategy.name == "denoising" and plan.config.ema.enabled
    result = train_quietly(plan)
    assert result.progress.global_step == 1
    assert set(result.last_stats) == {"g_loss"} and math.isfinite(result.last_stats["g_loss"])
    state, _, _ = load_checkpoint(result.checkpoint_path)
    assert {"generator", "g_optimizer", "ema_generator"} <= set(state)
    assert not {"discriminator", "d_optimizer"} & set(state)


def test_a_few_steps_lower_the_denoising_loss(tiny_config) -> None:
    plan = tiny_config("ddpm", model=TINY, optimizer={"lr": 3e-3}, run={"epochs": 3, "log_every_steps": 4})
    rows = logged_steps(train_quietly(plan))
    assert rows[-1]["g_loss"] < rows[0]["g_loss"]  # noise prediction improves from the first steps


def test_a_conditional_step_and_sampling_by_class(tiny_config) -> None:
    result = train_quietly(tiny_config("ddpm-conditional", model=TINY, run={"max_steps": 2}))
    generator = load_generator(result.generator_path, device="cpu")
    assert generator.num_classes == 10
    assert not torch.equal(generator.sample(2, seed=0, labels=3), generator.sample(2, seed=0, labels=7))


def test_weights_load_in_a_fresh_process_and_give_the_same_images(tiny_config, tmp_path: Path) -> None:
    result = train_quietly(tiny_config("ddpm", model=TINY, run={"max_steps": 2}))
    metadata = read_generator_metadata(result.generator_path)
    assert metadata.variant == "ddpm" and metadata.plugin == "ganzoo-diffusion"
    assert metadata.latent_shape == (1, 16, 16) and metadata.latent_dim == 256
    images = tmp_path / "images.pt"
    script = ("import torch, sys; from ganzoo import load_generator; "
              "torch.save(load_generator(sys.argv[1], device='cpu').sample(4, seed=5), sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(result.generator_path), str(images)], check=True, timeout=300)
    here = load_generator(result.generator_path, device="cpu").sample(4, seed=5)
    assert torch.equal(torch.load(images), here)


def test_resume_is_bit_exact(tiny_config, tmp_path: Path) -> None:
    def plan(out: str, steps: int):
        return tiny_config("ddpm", model=TINY, run={"out_dir": str(tmp_path / out), "epochs": 2, "max_steps": steps,
                                                    "checkpoint_every_steps": 1})

    reference = train_quietly(plan("reference", 12))  # 8 steps per epoch: the resume crosses one
    assert train_quietly(plan("resumed", 5)).progress.global_step == 5
    resumed = train(plan("resumed", 12), resume=True)
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        expected, _ = read_safetensors(reference.out_dir / name, name)
        got, _ = read_safetensors(resumed.out_dir / name, name)
        assert expected.keys() == got.keys()
        assert not [key for key in expected if not torch.equal(expected[key], got[key])], name


@pytest.mark.parametrize(("changes", "refused"), [
    ({"loss": {"name": "hinge"}}, "loss 'hinge' scores a discriminator's logits"),
    ({"strategy": {"name": "r1"}}, "strategy 'r1' plays G against a discriminator"),
    ({"augment": {"policy": ["cutout"]}}, "augment.policy augments the images a discriminator sees"),
    ({"optimizer": {"d_lr": 1e-3}}, "optimizer.d_lr is a discriminator's learning rate"),
])
def test_settings_that_need_a_discriminator_are_refused(tiny_config, changes, refused) -> None:
    with pytest.raises(ConfigError, match=refused):
        tiny_config("ddpm", model=TINY, **changes)


def test_a_gan_with_the_denoising_strategy_is_refused(tiny_config) -> None:
    with pytest.raises(ConfigError, match="strategy 'denoising' trains variants without a discriminator"):
        tiny_config("mlp", strategy={"name": "denoising"})


def test_the_cli_refuses_in_one_line(run_cli) -> None:
    run = run_cli("train", "ddpm", "--loss", "hinge", "--device", "cpu", "--quiet")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "has no discriminator" in run.stderr


TINY_FLAGS = ["--limit", "64", "--image-size", "16", "--batch-size", "16", "--epochs", "1", "--device", "cpu",
              "--quiet", *[f"--set=model.{key}={value}" for key, value in
                           (("widths", "[8,16]"), ("norm_groups", 4), ("attention", "false"), ("steps", 3))],
              "--set", "run.num_fixed_samples=4"]


@pytest.mark.slow
def test_sample_eval_and_interpolate_work_on_a_ddpm_run(run_cli, tmp_path: Path) -> None:
    trained = run_cli("train", "ddpm", *TINY_FLAGS, "--out", "run")
    assert trained.returncode == 0, trained.stderr
    weights = str(tmp_path / "run" / "generator.safetensors")
    sampled = run_cli("sample", weights, "--num", "4", "--seed", "1", "--out", "grid.png", "--device", "cpu")
    assert sampled.returncode == 0 and (tmp_path / "grid.png").stat().st_size > 0, sampled.stderr
    walked = run_cli("interpolate", weights, "--pairs", "1", "--steps", "3", "--out", "walk.png", "--device", "cpu")
    assert walked.returncode == 0 and (tmp_path / "walk.png").stat().st_size > 0, walked.stderr
    evaluated = run_cli("eval", weights, "--num", "64", "--num-real", "64", "--backbone", "mnist-classifier",
                        "--metrics", "fid", "--device", "cpu", "--out", "eval.json")
    assert evaluated.returncode == 0 and "FD" in evaluated.stdout, evaluated.stderr


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_bit_for_bit(tmp_path: Path) -> None:
    """As tests/test_resume_kill.py does for the GANs: SIGKILL after a checkpoint, then --resume."""
    train_args = [sys.executable, "-m", "ganzoo", "train", "ddpm", *TINY_FLAGS, "--epochs", "3", "--seed", "3",
                  "--set", "run.checkpoint_every_steps=1", "--set", "run.sample_every_epochs=0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def start(out: str, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*train_args, "--out", str(tmp_path / out), *extra], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    assert start("reference").wait(timeout=300) == 0
    killed = start("killed")
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.safetensors"
    deadline = time.monotonic() + 240
    while not (checkpoint.exists() and load_checkpoint(checkpoint)[1].global_step >= 3):
        assert killed.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert start("killed", "--resume").wait(timeout=300) == 0
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        expected, _ = read_safetensors(tmp_path / "reference" / name, name)
        got, _ = read_safetensors(tmp_path / "killed" / name, name)
        assert expected.keys() == got.keys()
        assert not [key for key in expected if not torch.equal(expected[key], got[key])], name
