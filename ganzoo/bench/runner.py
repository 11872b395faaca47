"""``ganzoo bench``: train several variants under one budget and judge them with one protocol.

Fairness is the point. Every variant gets the same data, the same budget (training images
seen by the discriminator, or training seconds), the same seeds, batch size, device and
precision; each is trained by the real run loop (``ganzoo.training.loop.train``) with its own
recommended model, loss and optimiser. Each run is one continuous run; an ``EvaluationCurve``
callback evaluates the generator at ``eval_points`` along it with one protocol (the run's clock
paused), which gives the metric-against-training-images curve and the best point. Training
speed and peak memory are measured on the training only.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import metadata
from typing import Any

import torch

from ganzoo.bench.config import BenchConfig, BenchReport, SeedResult, VariantResult
from ganzoo.bench.evaluator import EvaluationCurve, Evaluator
from ganzoo.config import merge_layers
from ganzoo.core.callback import Callback
from ganzoo.core.interfaces import Generator
from ganzoo.core.registry import Registry, get_registry
from ganzoo.generators.weights import load_generator
from ganzoo.metrics.catalogue import lower_is_better
from ganzoo.runtime.devices import describe_device, resolve_device, synchronize
from ganzoo.training.build import build_strategy
from ganzoo.training.loop import train
from ganzoo.training.plan import make_plan
from ganzoo.version import __version__


def run_bench(config: BenchConfig, *, registry: Registry | None = None, callbacks: Sequence[Callback] = (),
              note: Callable[[str], None] | None = None,
              on_run: Callable[[str, SeedResult], None] | None = None) -> BenchReport:
    """Train and evaluate every (variant, seed); the report carries its full protocol.

    ``callbacks`` (a progress display, say) watch every run; ``note`` hears which run starts and
    ``on_run`` gets each run's result as it finishes.
    """
    registry = registry or get_registry()
    for name in config.variants:
        registry.variant(name)  # unknown names fail before any training
    device = resolve_device(config.device)
    evaluator = Evaluator(config, device)
    results = []
    for name in config.variants:
        seeds = []
        for seed in range(config.seeds):
            if note is not None:
                note(f"bench: {name} seed {seed}")
            result = _train_and_evaluate(name, seed, config, registry, evaluator, callbacks)
            seeds.append(result)
            if on_run is not None:
                on_run(name, result)
        entry = registry.get("variant", name)
        results.append(VariantResult(name, entry.plugin.distribution, entry.plugin.version, seeds,
                                     summarise(seeds)))
    return BenchReport(describe_protocol(config, device, evaluator, registry), results)


def _train_and_evaluate(variant: str, seed: int, config: BenchConfig, registry: Registry, evaluator: Evaluator,
                        callbacks: Sequence[Callback]) -> SeedResult:
    plan = make_plan([_variant_layer(config, variant, seed)], registry)
    run = plan.config.run
    if config.budget_images is not None:
        images_per_step = run.batch_size * build_strategy(plan).batches_per_step
        budget: dict[str, Any] = {"max_steps": max(1, math.ceil(config.budget_images / images_per_step))}
    else:
        budget = {"max_seconds": config.budget_seconds}
    plan = replace(plan, config=plan.config.model_copy(update={"run": run.model_copy(update=budget)}))
    curve = EvaluationCurve(evaluator, seed=seed, points=config.eval_points)
    result = train(plan, callbacks=[*callbacks, curve], overwrite=True)
    progress = result.progress
    names = evaluator.metric_names
    generator = load_generator(result.generator_path, device=evaluator.device, registry=registry)
    return SeedResult(
        seed=seed, images=progress.images_seen, steps=progress.global_step,
        train_seconds=round(progress.elapsed_seconds, 3),
        images_per_second=round(progress.images_seen / max(progress.elapsed_seconds, 1e-9), 1),
        peak_memory_bytes=curve.peak_memory, resolution=[plan.config.data.image_size] * 2, curve=curve.curve,
        final={key: curve.curve[-1][key] for key in names if key in curve.curve[-1]},
        best=_best(curve.curve, names), sampling=measure_sampling(generator, config.sampling_images),
    )


def measure_sampling(generator: Generator, images: int) -> dict[str, float]:
    """Images per second of each way the generator samples (``Generator.samplers``): one forward
    pass for a GAN, tens to a thousand denoiser passes for a diffusion model. Each sampler makes
    ``images`` seeded images in one batch, timed to the end of the device's work, after one
    warm-up image from the cheapest sampler."""
    samplers = generator.samplers()
    next(iter(samplers.values())).sample(1, seed=0)
    rates = {}
    for label, sampler in samplers.items():
        synchronize(generator.device)
        start = time.perf_counter()
        sampler.sample(images, seed=0, batch_size=images)
        synchronize(generator.device)
        rates[label] = round(images / max(time.perf_counter() - start, 1e-9), 2)
    return rates


def _variant_layer(config: BenchConfig, variant: str, seed: int) -> dict[str, Any]:
    data: dict[str, Any] = {"name": config.dataset, "root": config.data_root, "limit": config.limit}
    if config.image_size is not None:
        data["image_size"] = config.image_size
    run = {"out_dir": str(config.out_dir / variant / f"seed-{seed}"), "seed": seed, "epochs": 100_000,
           "batch_size": config.batch_size, "device": config.device, "precision": config.precision,
           "sample_every_epochs": 0, "checkpoint_every_epochs": 0}
    layer = {"variant": variant, "data": {k: v for k, v in data.items() if v is not None}, "run": run}
    return merge_layers(layer, config.overrides)


def _best(curve: list[dict[str, float]], names: list[str]) -> dict[str, float]:
    best = {}
    for name in names:
        values = [row[name] for row in curve if name in row and math.isfinite(row[name])]
        if values:
            best[name] = min(values) if lower_is_better(name) else max(values)
    return best


def summarise(seeds: list[SeedResult]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation, min and max over seeds of every reported number."""
    columns: dict[str, list[float]] = {
        "images_per_second": [s.images_per_second for s in seeds],
        "train_seconds": [s.train_seconds for s in seeds],
        "peak_memory_bytes": [float(s.peak_memory_bytes) for s in seeds],
    }
    for seed in seeds:
        for prefix, values in (("final", seed.final), ("best", seed.best), ("sampling", seed.sampling)):
            for key, value in values.items():
                columns.setdefault(f"{prefix}.{key}", []).append(value)
    return {key: spread(values) for key, values in columns.items()}


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": float(len(values))}


# -- protocol ------------------------------------------------------------------------------------


def describe_protocol(config: BenchConfig, device: torch.device, evaluator: Evaluator,
                      registry: Registry) -> dict[str, Any]:
    """Everything two reports must share before their numbers can be compared."""
    versions = {"ganzoo": __version__, "python": platform.python_version(), "torch": torch.__version__}
    for package in ("torchvision", "torchmetrics"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    for name in config.variants:
        plugin = registry.get("variant", name).plugin
        versions[plugin.distribution] = plugin.version
    return {
        "variants": config.variants, "dataset": config.dataset, "limit": config.limit,
        "budget": ({"images": config.budget_images} if config.budget_images is not None
                   else {"seconds": config.budget_seconds}),
        "seeds": list(range(config.seeds)), "batch_size": config.batch_size, "precision": config.precision,
        "device": str(device), "device_name": describe_device(device), "eval_points": config.eval_points,
        "evaluation": evaluator.protocol, "overrides": config.overrides, "versions": versions,
        "sampling": {"images": config.sampling_images, "batch": config.sampling_images},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
