"""The one training loop: engine -> strategy.step(batches) -> losses -> optimisers -> engine.

The engine owns devices, precision, seeding, data order, logging, sample grids and
checkpoints; the strategy owns what happens inside one step. Read ``train`` top to bottom.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.checkpoints import Progress, load_checkpoint, restore_rng_states, save_checkpoint
from ganzoo.components import (ResolvedConfig, build_dataset, build_loss, build_models, build_optimizer,
                               build_strategy, resolve)
from ganzoo.config import TrainConfig, describe_differences
from ganzoo.errors import ConfigError, DivergenceError, TrainingInterrupted
from ganzoo.interfaces import Game
from ganzoo.metrics.during_training import evaluate_for_best_checkpoint, evaluation_due
from ganzoo.data import epoch_order
from ganzoo.distributed import Cluster
from ganzoo.divergence import (LR_FACTOR_ON_ROLLBACK, divergence_error, gradients_finite, learning_rates,
                               set_learning_rates)
from ganzoo.precision import Precision, resolve_device, resolve_precision
from ganzoo.registry import Registry, get_registry
from ganzoo.reporting import (MetricsLog, ProgressDisplay, StatTracker, Throughput, plot_loss_curve,
                              save_sample_grid)
from ganzoo.rundir import RunDirectory
from ganzoo.weights import save_generator


@dataclass
class RunResult:
    out_dir: Path
    generator_path: Path
    checkpoint_path: Path
    progress: Progress
    device: str
    precision: str
    last_stats: dict[str, float] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(config: TrainConfig, *, registry: Registry | None = None, display: ProgressDisplay | None = None,
          resume: bool = False, overwrite: bool = False, cluster: Cluster | None = None) -> RunResult:
    """Train ``config``; with ``resume`` continue the run in ``config.run.out_dir`` exactly.

    With a distributed ``cluster`` (``ganzoo.distributed.session``) this process is one DDP rank:
    ``run.batch_size`` is per rank, and only rank 0 writes files and the display.
    """
    cluster = cluster or Cluster()
    registry = registry or get_registry()
    display = (display or ProgressDisplay()) if cluster.is_main else ProgressDisplay(quiet=True)
    run = config.run
    run_dir = RunDirectory(run.out_dir)
    resolved = resolve(config, registry)
    if resume:
        _check_resumable(run_dir, resolved)
    elif cluster.is_main:
        run_dir.check_claim(overwrite=overwrite)

    device = cluster.local_device(resolve_device(run.device))
    precision = Precision(device, resolve_precision(run.precision, device))
    seed_everything(run.seed)

    dataset = build_dataset(config, registry).to(device)
    variant = registry.get("variant", config.variant)
    generator, discriminator = build_models(variant.spec, resolved.model_options, dataset)
    memory_format = torch.channels_last if run.channels_last else torch.contiguous_format
    generator.to(device, memory_format=memory_format)
    discriminator.to(device, memory_format=memory_format)
    d_lr = config.optimizer.d_lr or config.optimizer.lr
    g_optimizer = build_optimizer(config.optimizer, generator, config.optimizer.lr, device)
    d_optimizer = build_optimizer(config.optimizer, discriminator, d_lr, device)
    precision.attach(g=g_optimizer, d=d_optimizer)
    strategy = build_strategy(resolved, registry)

    fixed_rng = torch.Generator().manual_seed(run.seed)
    fixed_noise = generator.sample_latents(run.num_fixed_samples, generator=fixed_rng, device="cpu")
    fixed_labels = (torch.arange(run.num_fixed_samples) % dataset.num_classes
                    if generator.num_classes is not None else None)

    def restore(state: dict[str, Any]) -> None:
        """Put models, optimisers, scalers and every RNG back as a checkpoint holds them."""
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        g_optimizer.load_state_dict(state["g_optimizer"])
        d_optimizer.load_state_dict(state["d_optimizer"])
        precision.load_state_dict(state["scalers"])
        restore_rng_states(state["rng"])

    progress = Progress()
    if resume:
        state, progress, _ = load_checkpoint(run_dir.checkpoint)
        restore(state)
        if cluster.is_main:
            run_dir.truncate_metrics(progress.global_step)
        display.resumed(run_dir.root, epoch=progress.epoch + 1, step=progress.global_step)

    game = Game(
        generator=cluster.wrap(_maybe_compile(generator, run.compile), device, sync_batchnorm=run.sync_batchnorm),
        discriminator=cluster.wrap(_maybe_compile(discriminator, run.compile), device,
                                   sync_batchnorm=run.sync_batchnorm),
        loss=build_loss(resolved, registry),
        g_optimizer=g_optimizer, d_optimizer=d_optimizer,
        autocast=precision.autocast, optimize=precision.optimize,
    )

    batch_size, k = run.batch_size, strategy.batches_per_step
    global_batch = batch_size * cluster.world_size  # what one step of all ranks together trains on
    steps_per_epoch = len(dataset) // (global_batch * k)
    if steps_per_epoch == 0:
        raise ConfigError(f"batch size {global_batch} x {k} batches per step needs at least {global_batch * k} images, "
                          f"dataset {dataset.name!r} has {len(dataset)}; lower --batch-size")
    total_steps = run.epochs * steps_per_epoch
    if run.max_steps is not None:
        total_steps = min(total_steps, run.max_steps)
    # what the display can promise: a time budget makes the end unknowable in steps, and an
    # epoch count that a step budget undercuts would only mislead
    shown_epochs = run.epochs if run.max_seconds is None and total_steps == run.epochs * steps_per_epoch else None
    shown_total = total_steps if run.max_seconds is None else None
    if cluster.is_main:
        if not resume:
            run_dir.claim(overwrite=overwrite)  # only now: a run that fails to start clobbers nothing
        run_dir.discard_partial_writes()
        run_dir.write_config(resolved.to_dict())
    if cluster.distributed:
        display.note(cluster.describe(batch_size, config.optimizer.lr, d_lr))

    def checkpoint(best: bool = False) -> None:
        check_finite()  # never save a diverged state: a rollback must land on a good one
        progress.elapsed_seconds = time.perf_counter() - started
        if not cluster.is_main:
            return
        state = {"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                 "g_optimizer": g_optimizer.state_dict(), "d_optimizer": d_optimizer.state_dict(),
                 "scalers": precision.state_dict()}
        save_checkpoint(run_dir.best_checkpoint if best else run_dir.checkpoint, state=state, progress=progress,
                        config=resolved.to_dict())
        save_generator(generator, run_dir.best_generator if best else run_dir.generator, variant=config.variant,
                       model_config=resolved.to_dict()["model"], plugin=variant.plugin,
                       class_names=dataset.class_names if generator.num_classes else None)

    metrics = MetricsLog(run_dir.metrics)
    tracker = StatTracker(device)
    throughput = Throughput()
    throughput.reset(progress.images_seen)
    last_stats: dict[str, float] = {}
    started = time.perf_counter() - progress.elapsed_seconds

    def check_finite() -> None:
        step = tracker.diverged_at()
        if step is not None:
            raise divergence_error(step, precision.mode, float(g_optimizer.param_groups[0]["lr"]), progress.rollbacks)

    def log_step() -> None:
        nonlocal last_stats
        check_finite()
        stats = tracker.flush()
        if not stats:
            return
        last_stats = stats
        rate = throughput.measure(progress.images_seen)
        if cluster.is_main:
            metrics.write("step", epoch=progress.epoch + 1, step=progress.global_step, images=progress.images_seen,
                          elapsed_s=round(time.perf_counter() - started, 3), images_per_s=round(rate, 1), **stats)
        display.update(epoch=progress.epoch + 1, epochs=shown_epochs, step=progress.global_step, stats=stats,
                       images_per_second=rate)

    def within_budget() -> bool:
        """Step and time budgets; training time is cumulative over resumes (``elapsed_seconds``)."""
        return progress.global_step < total_steps and (
            run.max_seconds is None or not cluster.any(time.perf_counter() - started >= run.max_seconds))

    def roll_back(diverged: DivergenceError) -> None:
        """``on_divergence = "rollback"``: reload the last good checkpoint, halve the learning rates."""
        nonlocal progress, tracker
        if run.on_divergence != "rollback" or progress.rollbacks >= run.max_rollbacks:
            raise diverged
        step = tracker.diverged_at()
        rates = learning_rates((g_optimizer, d_optimizer))
        state, restored, _ = load_checkpoint(run_dir.checkpoint)
        restore(state)
        restored.rollbacks = progress.rollbacks + 1
        lr = set_learning_rates((g_optimizer, d_optimizer), rates, LR_FACTOR_ON_ROLLBACK)
        progress, tracker = restored, StatTracker(device)
        if cluster.is_main:
            run_dir.truncate_metrics(progress.global_step)
        throughput.reset(progress.images_seen)
        display.note(f"diverged at step {step}: rolled back to step {progress.global_step} and halved the "
                     f"learning rates (G lr now {lr:g}; rollback {progress.rollbacks} of {run.max_rollbacks})")

    def run_epochs(stop: _StopRequest) -> None:
        """Train from ``progress`` to the end of the budget; raises ``DivergenceError``."""
        while progress.epoch < run.epochs and within_budget():
            order = epoch_order(len(dataset), seed=run.seed, epoch=progress.epoch)
            order = cluster.shard(order, batch_size).to(device)
            while progress.step_in_epoch < steps_per_epoch and within_budget():
                first = progress.step_in_epoch * batch_size * k
                batches = [dataset.batch(order[first + i * batch_size:first + (i + 1) * batch_size])
                           for i in range(k)]
                if run.channels_last:
                    for batch in batches:
                        batch.images = batch.images.contiguous(memory_format=torch.channels_last)
                stats = strategy.step(game, batches)
                progress.step_in_epoch += 1
                progress.global_step += 1
                progress.images_seen += global_batch * k
                tracker.add(stats, progress.global_step, gradients_finite((generator, discriminator), precision.mode))
                display.update(epoch=progress.epoch + 1, epochs=shown_epochs, step=progress.global_step)
                if device.type == "cpu" or progress.global_step % run.log_every_steps == 0:
                    check_finite()
                if progress.global_step % run.log_every_steps == 0:
                    log_step()
                if run.checkpoint_every_steps and progress.global_step % run.checkpoint_every_steps == 0:
                    checkpoint()
                if cluster.any(stop.requested is not None):  # every rank stops at the same step
                    checkpoint()
                    raise TrainingInterrupted(
                        f"stopped by {stop.requested} at step {progress.global_step}; checkpoint saved, continue "
                        f"with `ganzoo train {config.variant} --out {run_dir.root} --resume`")
            log_step()
            if progress.step_in_epoch < steps_per_epoch:
                break  # the step or time budget ended inside this epoch
            epoch_number = progress.epoch + 1
            progress.epoch += 1
            progress.step_in_epoch = 0
            progress.elapsed_seconds = time.perf_counter() - started
            if cluster.is_main and run.sample_every_epochs and epoch_number % run.sample_every_epochs == 0:
                save_sample_grid(generator.sample(len(fixed_noise), latents=fixed_noise, labels=fixed_labels),
                                 run_dir.sample_grid(epoch_number))
            if cluster.is_main:
                metrics.write("epoch", epoch=epoch_number, step=progress.global_step, images=progress.images_seen,
                              elapsed_s=round(progress.elapsed_seconds, 3), **last_stats)
            if run.checkpoint_every_epochs and epoch_number % run.checkpoint_every_epochs == 0:
                checkpoint()
            if cluster.is_main and evaluation_due(run, epoch_number) and evaluate_for_best_checkpoint(
                    generator, dataset, run, metrics, epoch=epoch_number, step=progress.global_step, note=display.note):
                checkpoint(best=True)

    with _stop_requests() as stop, display.session(shown_total, progress.global_step):
        if run.on_divergence == "rollback" and not resume:
            checkpoint()  # something to roll back to before the first periodic checkpoint
        while True:
            try:
                run_epochs(stop)
                break
            except DivergenceError as diverged:
                roll_back(diverged)

    checkpoint()
    if cluster.is_main and run.sample_every_epochs and not run_dir.sample_grid(max(progress.epoch, 1)).exists():
        save_sample_grid(generator.sample(len(fixed_noise), latents=fixed_noise, labels=fixed_labels),
                         run_dir.sample_grid(max(progress.epoch, 1)))
    if cluster.is_main:
        plot_loss_curve(metrics.read("step"), run_dir.loss_curve)
    return RunResult(run_dir.root, run_dir.generator, run_dir.checkpoint, progress, str(device), precision.mode,
                     last_stats)


def _check_resumable(run_dir: RunDirectory, resolved: ResolvedConfig) -> None:
    saved = run_dir.read_config()
    changed = describe_differences(saved, resolved.to_dict()) if saved else []
    if changed:
        raise ConfigError(f"cannot resume {str(run_dir.root)!r} with different settings ({', '.join(changed[:4])}); "
                          "resume with the original config, or start a new run with another --out")


def _maybe_compile(module: torch.nn.Module, mode: str) -> Any:
    return module if mode == "off" else torch.compile(module, mode=mode)


class _StopRequest:
    requested: str | None = None


@contextmanager
def _stop_requests() -> Iterator[_StopRequest]:
    """Turn SIGINT/SIGTERM into a flag the loop checks after each step, so the step that is
    running finishes and a checkpoint is written before the process exits."""
    request = _StopRequest()
    handlers = {}

    def handle(signum: int, _frame: Any) -> None:
        request.requested = signal.Signals(signum).name

    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, handle)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield request
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
