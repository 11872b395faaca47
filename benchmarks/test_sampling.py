"""Inference from a weights file: ``load_generator`` latency and ``sample`` throughput.

The generator files are written with ganzoo's own ``save_generator`` from freshly built
models: speed does not depend on what the weights learnt. Sampling is timed in fp32 (the
default) and, for one model, in opt-in bf16 (``sample(precision="bf16")``); its utilisation is
still counted against the fp32 matmul ceiling.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from measure import Settings, model_name, write_generator
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.core.sampling import sampling_precisions
from ganzoo.generators.weights import load_generator
from ganzoo.runtime.devices import resolve_device
from ganzoo.runtime.precision import cpu_has_native_bf16

SMOKE = Settings.from_environment().smoke
NUM_SAMPLES = 100 if SMOKE else 10_000
CASES = (("mlp", 32, 1), ("dcgan", 32, 1)) if SMOKE else (("mlp", 32, 3), ("dcgan", 32, 2), ("dcgan-64", 64, 1))
"""(variant, image size, rounds of load + sample)"""
SAMPLE_CASES = [(*case, "fp32") for case in CASES] + [("mlp", 32, 1, "bf16") if SMOKE else ("dcgan-64", 64, 1, "bf16")]
"""(variant, image size, rounds, sampling precision)"""


def sample_name(variant: str, image_size: int, precision: str) -> str:
    return model_name(variant, image_size) + ("" if precision == "fp32" else f"-{precision}")


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


@pytest.mark.parametrize(("variant", "image_size", "rounds", "precision"), SAMPLE_CASES,
                         ids=[sample_name(v, s, p) for v, s, _, p in SAMPLE_CASES])
def test_sampling_throughput(benchmark, record, settings: Settings, tmp_path: Path,
                             variant: str, image_size: int, rounds: int, precision: str) -> None:
    device = resolve_device(settings.device)
    if precision not in sampling_precisions(device):
        pytest.skip(f"{settings.device} cannot sample in {precision}")
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16: bf16 takes PyTorch's reference path, many times slower than "
                    "fp32 (ganzoo.runtime.precision.precision_note), so there is no fast path to measure")
    path = write_generator(variant, image_size, tmp_path / "generator.safetensors")
    generator = load_generator(path, device=settings.device)  # outside the count: its probes are not samples
    with FlopCounterMode(display=False) as counter:
        generator.sample(8, seed=0)
    flops_per_image = counter.get_total_flops() / 8
    times: list[float] = []

    def load_and_sample() -> None:
        start = time.perf_counter()
        load_generator(path, device=settings.device).sample(NUM_SAMPLES, seed=0, precision=precision)
        settings.sync()
        times.append(time.perf_counter() - start)

    benchmark.pedantic(load_and_sample, rounds=rounds, iterations=1)
    record(benchmark, kind="sample", workload=sample_name(variant, image_size, precision), num_samples=NUM_SAMPLES,
           precision=precision,
           sample_s=min(times), images_per_s=NUM_SAMPLES / min(times), flops_per_image=flops_per_image)
