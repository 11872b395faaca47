"""The cost of sampling: a GAN's one forward pass against a diffusion model's DDIM-50 and DDPM-1000.

The baseline is measured in the same run: the DCGAN generator, then the ddpm generator's DDIM
(eta 0, 50 denoiser passes) and the full DDPM chain (1000), all at 32x32, one batch of the same
size, from freshly built weights (speed does not depend on what they learnt). Reported as
images per second and as how many times slower than the GAN each diffusion sampler is.
"""

from __future__ import annotations

import time
from pathlib import Path

from measure import Settings, write_generator

from ganzoo.core.interfaces import Generator
from ganzoo.generators.weights import load_generator

IMAGE_SIZE = 32
DIFFUSION_SAMPLERS = ("DDIM 50 steps", "DDPM 1000 steps")
TINY_UNET = {"widths": [8, 16], "norm_groups": 4, "attention": False}
"""Smoke mode: a UNet small enough for CI to run DDPM's 1000 steps in seconds."""


def images_per_second(generator: Generator, count: int, settings: Settings) -> float:
    settings.sync()
    start = time.perf_counter()
    generator.sample(count, seed=0, batch_size=count)
    settings.sync()
    return count / (time.perf_counter() - start)


def test_sampling_cost_gan_against_ddim_and_ddpm(benchmark, record, settings: Settings, tmp_path: Path) -> None:
    count = 2 if settings.smoke else 16
    gan = load_generator(write_generator("dcgan", IMAGE_SIZE, tmp_path / "dcgan.safetensors"), device=settings.device)
    ddpm = load_generator(write_generator("ddpm", IMAGE_SIZE, tmp_path / "ddpm.safetensors",
                                          TINY_UNET if settings.smoke else None), device=settings.device)
    samplers = {"dcgan": gan, **{label: ddpm.samplers()[label] for label in DIFFUSION_SAMPLERS}}
    for generator in (gan, ddpm):
        generator.sample(count, seed=0, batch_size=count)  # warm-up: kernels, allocator
    rates: dict[str, float] = {}

    def measure() -> None:
        for label, generator in samplers.items():
            rates[label] = images_per_second(generator, count, settings)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    record(benchmark, kind="sampler-cost", workload=f"dcgan-vs-ddpm-{IMAGE_SIZE}", batch=count,
           unet="tiny" if settings.smoke else "default", images_per_s=rates,
           slower_than_gan={label: rates["dcgan"] / rates[label] for label in DIFFUSION_SAMPLERS})
