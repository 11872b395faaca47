"""Inference from a weights file: ``load_generator`` latency and ``sample`` throughput.

The generator files are written with ganzoo's own ``save_generator`` from freshly built
models: speed does not depend on what the weights learnt.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.weights import load_generator
from measure import Settings, model_name, write_generator

SMOKE = Settings.from_environment().smoke
NUM_SAMPLES = 100 if SMOKE else 10_000
CASES = (("mlp", 32, 1), ("dcgan", 32, 1)) if SMOKE else (("mlp", 32, 3), ("dcgan", 32, 2), ("dcgan-64", 64, 1))
"""(variant, image size, rounds of load + sample)"""


@pytest.mark.parametrize(("variant", "image_size", "rounds"), CASES, ids=[model_name(v, s) for v, s, _ in CASES])
def test_load_latency(benchmark, record, settings: Settings, tmp_path: Path, variant: str, image_size: int,
                      rounds: int) -> None:
    path = write_generator(variant, image_size, tmp_path / "generator.safetensors")
    times: list[float] = []

    def load() -> None:
        start = time.perf_counter()
        load_generator(path, device=settings.device)
        settings.sync()
        times.append(time.perf_counter() - start)

    benchmark.pedantic(load, rounds=1 if settings.smoke else 10, iterations=1, warmup_rounds=0 if settings.smoke else 1)
    record(benchmark, kind="load", workload=model_name(variant, image_size), load_s=min(times),
           file_bytes=path.stat().st_size)


@pytest.mark.parametrize(("variant", "image_size", "rounds"), CASES, ids=[model_name(v, s) for v, s, _ in CASES])
def test_sampling_throughput(benchmark, record, settings: Settings, tmp_path: Path,
                             variant: str, image_size: int, rounds: int) -> None:
    path = write_generator(variant, image_size, tmp_path / "generator.safetensors")
    with FlopCounterMode(display=False) as counter:
        load_generator(path, device=settings.device).sample(8, seed=0)
    flops_per_image = counter.get_total_flops() / 8
    times: list[float] = []

    def load_and_sample() -> None:
        start = time.perf_counter()
        load_generator(path, device=settings.device).sample(NUM_SAMPLES, seed=0)
        settings.sync()
        times.append(time.perf_counter() - start)

    benchmark.pedantic(load_and_sample, rounds=rounds, iterations=1)
    record(benchmark, kind="sample", workload=model_name(variant, image_size), num_samples=NUM_SAMPLES,
           sample_s=min(times), images_per_s=NUM_SAMPLES / min(times), flops_per_image=flops_per_image)
