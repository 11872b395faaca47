"""``ganzoo bench``: train several variants under one budget and judge them with one protocol.

Fairness is the point. Every variant gets the same data, the same budget (training images
seen by the discriminator, or training seconds), the same seeds, batch size, device and
precision; each is trained by the real engine (``ganzoo.engine.train``) with its own
recommended model, loss and optimiser. Training runs in ``eval_points`` segments (the engine's
exact resume), and after each segment the generator file is evaluated with one protocol, which
gives the metric-against-training-images curve and the best point without touching the engine.
Training speed and peak memory are measured on the training segments only.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator

from ganzoo import __version__
from ganzoo.bench_eval import Evaluator, lower_is_better, make_evaluator
from ganzoo.components import build_config, build_strategy
from ganzoo.config import DeviceName, PrecisionName, StrictModel, merge_layers
from ganzoo.engine import RunResult, train
from ganzoo.precision import hardware_name, resolve_device
from ganzoo.registry import Registry, get_registry
from ganzoo.reporting import ProgressDisplay


class BenchConfig(StrictModel):
    """What a benchmark compares and under which budget; the CLI flags map onto these fields."""

    variants: list[str] = Field(min_length=1)
    dataset: str = "mnist-embedded"
    data_root: Path | None = None
    image_size: int | None = Field(None, ge=8, le=1024, description="default: each variant's own")
    limit: int | None = Field(None, gt=0, description="train on the first N images only")
    budget_images: int | None = Field(None, gt=0, description="training images per run")
    budget_seconds: float | None = Field(None, gt=0, description="training seconds per run")
    seeds: int = Field(3, ge=1, le=100, description="runs per variant, seeds 0..N-1")
    batch_size: int = Field(64, gt=0, le=65_536)
    device: DeviceName = "auto"
    precision: PrecisionName = "auto"
    eval_points: int = Field(4, ge=1, le=100, description="evaluations along training (the curve)")
    eval_samples: int = Field(2_000, ge=10, le=200_000, description="generated images per evaluation")
    out_dir: Path = Path("runs/bench")
    overrides: dict[str, Any] = Field(default_factory=dict, description="config layer for every variant")

    @model_validator(mode="after")
    def _one_budget(self) -> BenchConfig:
        if (self.budget_images is None) == (self.budget_seconds is None):
            raise ValueError("give exactly one budget: --budget-images N or --budget-seconds S")
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("each variant may be named once")
        return self


@dataclass
class SeedResult:
    """One training run of one variant: its speed, memory and the evaluation curve."""

    seed: int
    images: int
    steps: int
    train_seconds: float
    images_per_second: float
    peak_memory_bytes: int
    resolution: list[int]
    curve: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)


@dataclass
class VariantResult:
    variant: str
    plugin: str
    plugin_version: str
    seeds: list[SeedResult]
    summary: dict[str, dict[str, float]]
    """``{"images_per_second": {"mean", "std", "min", "max"}, "final.fd": {...}, "best.kid": ...}``"""


@dataclass
class BenchReport:
    protocol: dict[str, Any]
    variants: list[VariantResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BenchDisplay(ProgressDisplay):
    """The progress display of a benchmark. Each run trains in segments, with an evaluation between
    them, and every segment after the first resumes the run. That is how the bench works, not news
    to its user, so it is not announced."""

    def resumed(self, run_dir: Path, *, epoch: int, step: int) -> None:
        pass


def run_bench(config: BenchConfig, *, registry: Registry | None = None,
              display: ProgressDisplay | None = None,
              on_run: Callable[[str, SeedResult], None] | None = None) -> BenchReport:
    """Train and evaluate every (variant, seed); the report carries its full protocol."""
    registry = registry or get_registry()
    display = display or BenchDisplay(quiet=True)
    for name in config.variants:
        registry.variant(name)  # unknown names fail before any training
    device = resolve_device(config.device)
    evaluator = make_evaluator(config, device)
    results = []
    for name in config.variants:
        seeds = []
        for seed in range(config.seeds):
            display.note(f"bench: {name} seed {seed}")
            result = _train_and_evaluate(name, seed, config, registry, display, evaluator)
            seeds.append(result)
            if on_run is not None:
                on_run(name, result)
        entry = registry.get("variant", name)
        results.append(VariantResult(name, entry.plugin.distribution, entry.plugin.version, seeds,
                                     summarise(seeds)))
    return BenchReport(describe_protocol(config, device, evaluator, registry), results)


def _train_and_evaluate(variant: str, seed: int, config: BenchConfig, registry: Registry,
                        display: ProgressDisplay, evaluator: Evaluator) -> SeedResult:
    resolved = build_config([_variant_layer(config, variant, seed)], registry)
    run = resolved.config.run
    images_per_step = run.batch_size * build_strategy(resolved, registry).batches_per_step
    device = resolve_device(run.device)
    curve: list[dict[str, float]] = []
    peak = 0
    result: RunResult | None = None
    for point in range(1, config.eval_points + 1):
        budget: dict[str, Any] = {}
        if config.budget_images is not None:
            total_steps = max(1, math.ceil(config.budget_images / images_per_step))
            budget["max_steps"] = max(1, round(total_steps * point / config.eval_points))
        else:
            budget["max_seconds"] = config.budget_seconds * point / config.eval_points
        segment = resolved.config.model_copy(update={"run": run.model_copy(update=budget)})
        reset_peak_memory(device)
        result = train(segment, registry=registry, display=display, resume=point > 1, overwrite=point == 1)
        peak = max(peak, read_peak_memory(device))
        row = {"images": float(result.progress.images_seen), "train_seconds": result.progress.elapsed_seconds,
               **{f"train.{key}": value for key, value in result.last_stats.items()}}
        row.update(evaluator.evaluate(result.generator_path, seed=seed))
        curve.append(row)
    assert result is not None
    progress = result.progress
    return SeedResult(
        seed=seed, images=progress.images_seen, steps=progress.global_step,
        train_seconds=round(progress.elapsed_seconds, 3),
        images_per_second=round(progress.images_seen / max(progress.elapsed_seconds, 1e-9), 1),
        peak_memory_bytes=peak, resolution=[resolved.config.data.image_size] * 2, curve=curve,
        final={key: curve[-1][key] for key in evaluator.metric_names if key in curve[-1]},
        best=_best(curve, evaluator.metric_names),
    )


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
        for prefix, values in (("final", seed.final), ("best", seed.best)):
            for key, value in values.items():
                columns.setdefault(f"{prefix}.{key}", []).append(value)
    return {key: spread(values) for key, values in columns.items()}


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": float(len(values))}


# -- peak memory -------------------------------------------------------------------------------


def reset_peak_memory(device: torch.device) -> None:
    """CUDA: reset the allocator's peak. CPU: reset the process's peak RSS (Linux ``clear_refs``)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux: the peak then covers the whole process so far


def read_peak_memory(device: torch.device) -> int:
    """Bytes: CUDA max allocated, or the process's peak resident set size on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    scale = 1 if platform.system() == "Darwin" else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


# -- protocol ------------------------------------------------------------------------------------


def device_name(device: torch.device) -> str:
    """The hardware, and on a CPU how many threads torch computes with (the speed depends on it)."""
    name = hardware_name(device)
    return f"{name} ({torch.get_num_threads()} threads)" if device.type == "cpu" else name


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
        "device": str(device), "device_name": device_name(device), "eval_points": config.eval_points,
        "evaluation": evaluator.protocol, "overrides": config.overrides, "versions": versions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
