"""Training-step throughput: the ganzoo engine against the plain tutorial loop, same run.

One test per (model, batch size) trains the same model through several loops at once, taking
turns step by step (``measure.take_turns``): ``plain`` (``measure.plain_loop``), ``engine``
(same settings as plain), ``engine-reuse`` (the G update reuses the D update's fake
batch), for DCGAN-64 the engine with ganzoo's speed options added one at a
time (``engine+channels_last``, ``engine+channels_last+foreach``, ...), ``engine-auto`` (the default,
``run.speed = auto``), and ``plain-again``,
the noise floor (see ``loops_for``). It records, in the
pytest-benchmark ``extra_info``, each loop's median seconds per step and images/s, its median
speed relative to plain over the rotations, and the step's FLOPs (the report divides FLOP/s by
the matmul ceiling). Nothing here asserts a time: speed is reported, not tested.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
import torch
from measure import (
    Loop,
    Settings,
    StepWorkload,
    engine_loop,
    plain_loop_of,
    speed_options,
    step_flops,
    take_turns,
    workload_config,
)

SETTINGS = Settings.from_environment()
SMOKE = SETTINGS.smoke
BATCH_SIZES = (8,) if SMOKE else (64, 128)
MODELS = (("mlp", 32, 1, 2),) if SMOKE else (("mlp", 32, 5, 200), ("dcgan", 32, 2, 20), ("dcgan-64", 64, 2, 8))
"""(variant, image size, warm-up steps, timed steps). Warm-up covers torch.compile too: it builds
its graphs in the first step and may specialise them in the second."""
FAST_VARIANTS = ("mlp",) if SMOKE else ("dcgan-64",)
SPEED_OPTIONS = speed_options(SETTINGS.device, compile=not SMOKE)
REUSE_FAKE_BATCH = {"strategy": {"options": {"fake_batch": "reuse"}}}
"""``engine-reuse``: the G update reuses the D update's fake batch (the DCGAN tutorials' way)
instead of drawing a fresh one (Goodfellow et al.'s Algorithm 1, the default)."""


SPEED_AUTO = {"run": {"speed": "auto", "precision": "auto"}}
"""``engine-auto``: what a user gets by default, ``run.speed = auto`` (``ganzoo.runtime.speed``); every
other engine loop runs with ``speed = off`` and adds options explicitly."""


def loops_for(variant: str) -> dict[str, list[dict[str, Any]]]:
    """Loop name -> engine config layers (none for the plain loops); the speed options accumulate.

    ``engine-reuse`` is the engine with ``strategy.options.fake_batch = "reuse"``.
    ``plain-again`` is the plain loop a second time, last in the rotation: its ratio to
    ``plain`` is what two identical loops differ by on this machine, the noise floor.
    """
    loops: dict[str, list[dict[str, Any]]] = {"plain": [], "engine": [], "engine-reuse": [REUSE_FAKE_BATCH],
                                              "engine-auto": [SPEED_AUTO]}
    if variant in FAST_VARIANTS:
        for count in range(1, len(SPEED_OPTIONS) + 1):
            added = SPEED_OPTIONS[:count]
            loops["engine+" + "+".join(name for name, _ in added)] = [layer for _, layer in added]
    loops["plain-again"] = []
    return loops


WORKLOADS = [StepWorkload(variant, size, batch, warmup, steps)
             for variant, size, warmup, steps in MODELS for batch in BATCH_SIZES]


@pytest.mark.parametrize("work", WORKLOADS, ids=[work.name for work in WORKLOADS])
def test_step_throughput(benchmark, record, settings: Settings, tmp_path: Path, work: StepWorkload) -> None:
    configs = {name: workload_config(work, settings, tmp_path / name, *layers)
               for name, layers in loops_for(work.variant).items()}
    loops: dict[str, Loop] = {name: engine_loop(resolved) if name.startswith("engine") else plain_loop_of(resolved, settings)
                              for name, resolved in configs.items()}
    seconds: dict[str, list[float]] = {}
    benchmark.pedantic(lambda: seconds.update(take_turns(loops, settings, work.warmup, work.warmup + work.steps)),
                       rounds=1, iterations=1)

    # the speed options change the kernels, not the arithmetic: count each loop kind once, without them
    flops = {kind: step_flops(configs["plain"], settings, engine=kind == "engine") for kind in ("plain", "engine")}
    measured = {}
    for name, times in seconds.items():
        paired = [plain / mine for plain, mine in zip(seconds["plain"], times)]  # the same rotation
        measured[name] = {"step_s": statistics.median(times), "images_per_s": work.batch_size / statistics.median(times),
                          "vs_plain": statistics.median(paired), "step_flops": flops[name.split("+")[0].split("-")[0]],
                          "layers": loops_for(work.variant)[name]}
    record(benchmark, kind="step", workload=work.name, batch_size=work.batch_size, warmup=work.warmup,
           steps=work.steps, threads=torch.get_num_threads(), loops=measured, seconds=seconds)
