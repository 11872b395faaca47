"""The run loop: ``train(plan)`` builds the parts and a ``TrainingRun`` moves them to the end.

The loop owns devices, precision, seeding, data order, the budgets, divergence and checkpoints;
the strategy owns what happens inside one step; callbacks watch (display, logs, grids,
evaluation). ``TrainingRun.fit`` reads top to bottom: epochs of steps, then the last checkpoint.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.core.callback import Callback, Progress
from ganzoo.core.interfaces import Batch, Generator
from ganzoo.data.dataset import epoch_order
from ganzoo.errors import ConfigError, DivergenceError, PluginError, TrainingInterrupted, contain_plugin_errors
from ganzoo.generators.weights import save_generator
from ganzoo.runtime.devices import resolve_device
from ganzoo.runtime.distributed import Cluster
from ganzoo.runtime.precision import Precision
from ganzoo.training.build import RunParts, build, build_augmenter
from ganzoo.training.callbacks import CallbackList
from ganzoo.training.checkpoint_schedule import CheckpointSchedule, Moment
from ganzoo.training.checkpoints import load_checkpoint, restore_rng_states, restore_state, save_checkpoint
from ganzoo.training.divergence import (
    LR_FACTOR_ON_ROLLBACK,
    divergence_error,
    generator_output_finite,
    gradients_finite,
    learning_rates,
    set_learning_rates,
)
from ganzoo.training.ema import GeneratorEMA
from ganzoo.training.outputs import standard_callbacks
from ganzoo.training.plan import RunPlan
from ganzoo.training.replacement import Replacement
from ganzoo.training.resume import check_resumable
from ganzoo.training.runclaim import refuse_foreign, start_in, write_marker
from ganzoo.training.rundir import RunDirectory
from ganzoo.training.runlock import locked_run_directory
from ganzoo.training.statistics import StatTracker, Stopwatch, Throughput
from ganzoo.training.stopping import StopRequest, stop_requests
from ganzoo.training.view import TrainingRunView


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


def train(plan: RunPlan, *, callbacks: Sequence[Callback] = (), resume: bool = False, overwrite: bool = False,
          cluster: Cluster | None = None) -> RunResult:
    """Train ``plan``; with ``resume`` continue the run in ``run.out_dir`` exactly.

    ``callbacks`` join the standard ones (metrics log, sample grids, loss curve, best checkpoint)
    and those the plan selects. With a distributed ``cluster`` (``ganzoo.runtime.distributed.session``)
    this process is one DDP rank: ``run.batch_size`` is per rank, and only rank 0 writes files
    and runs callbacks. The run directory is locked for the whole run (``RunLock``), and only a
    directory that is empty or ganzoo's is written (``runclaim``).
    """
    cluster = cluster or Cluster()
    run_dir = RunDirectory(plan.config.run.out_dir)
    if cluster.is_main:
        refuse_foreign(run_dir, resume=resume, overwrite=overwrite)  # before the lock touches it
    with locked_run_directory(run_dir.root, enabled=cluster.is_main):
        return _train_in(run_dir, plan, callbacks, resume=resume, overwrite=overwrite, cluster=cluster)


def _train_in(run_dir: RunDirectory, plan: RunPlan, callbacks: Sequence[Callback], *, resume: bool, overwrite: bool,
              cluster: Cluster) -> RunResult:
    device = cluster.local_device(resolve_device(plan.config.run.device))
    start = start_in(run_dir, plan.config.variant, resume=resume, overwrite=overwrite, writer=cluster.is_main)
    ready = plan.for_device(device, start.saved)  # every device-dependent choice, made once
    plan, notes = ready.plan, [*start.notes, *ready.notes]  # concrete options from here on, recorded in config.json
    if start.saved is not None:
        check_resumable(start.saved, plan, run_dir.root)
    seed_everything(plan.config.run.seed)
    parts = build(plan, device)
    if parts.dataset.note:
        notes.append(parts.dataset.note)  # its size in memory, or why it is streamed
    replacement = Replacement(run_dir) if cluster.is_main and not start.resumes else None
    first = [replacement] if replacement else []  # the new run's first checkpoint commits it, before anything else
    watchers = [*first, *standard_callbacks(plan.config.run), *parts.callbacks, *callbacks] if cluster.is_main else []
    run = TrainingRun(plan, parts, run_dir=run_dir, precision=Precision(device, ready.precision), cluster=cluster,
                      callbacks=watchers)
    if start.resumes:
        run.restore_checkpoint(run_dir.checkpoint)
    if not cluster.is_main:
        return run.fit(resumed=start.resumes, notes=notes)
    write_marker(run_dir)  # only now: a run that fails to start writes nothing
    with replacement.in_effect() if replacement else nullcontext():  # the old run back unless the new one checkpoints
        run_dir.discard_partial_writes()
        run_dir.write_config(run.config_record)
        return run.fit(resumed=start.resumes, notes=notes)


class TrainingRun:
    """One run's parts and state; ``fit`` trains from ``progress`` to the end of the budget."""

    def __init__(self, plan: RunPlan, parts: RunParts, *, run_dir: RunDirectory, precision: Precision,
                 cluster: Cluster, callbacks: Sequence[Callback] = ()) -> None:
        self.plan, self.parts, self.run_dir, self.cluster = plan, parts, run_dir, cluster
        self.settings = plan.config.run
        self.config_record = plan.to_dict()
        self.device, self.precision = precision.device, precision
        self.callbacks = CallbackList(callbacks)
        self.view = TrainingRunView(self)  # what the callbacks are handed
        self.progress = Progress()
        self.throughput = Throughput()
        self.clock = Stopwatch()
        self.last_stats: dict[str, float] = {}
        self.images_per_second = 0.0
        self.players = parts.players
        precision.attach(**{player.key: player.optimizer for player in self.players})
        self.game = parts.new_game(self._wrap, autocast=precision.autocast, optimize=precision.optimize,
                                   draw=cluster.draw)
        self.tracker = StatTracker(self.device, watched=self.game.required_statistics)
        self.augmenter = build_augmenter(plan, self.game, self.device)
        self.ema = GeneratorEMA(parts.generator, plan.config.ema) if plan.config.ema.enabled else None
        batch_size, k = self.settings.batch_size, parts.strategy.batches_per_step
        self.images_per_step = batch_size * cluster.world_size * k  # all ranks together, every D batch
        self.steps_per_epoch = len(parts.dataset) // self.images_per_step
        if self.steps_per_epoch == 0:
            raise ConfigError(f"batch size {batch_size * cluster.world_size} x {k} batches per step needs at least "
                              f"{self.images_per_step} images, dataset {parts.dataset.name!r} has "
                              f"{len(parts.dataset)}; lower --batch-size")
        if batch_size < 2 and _has_batchnorm(*(player.module for player in self.players)):
            raise ConfigError(f"batch size {batch_size} cannot train variant {plan.variant.name!r}: its BatchNorm "
                              "layers need at least 2 images per batch; use --batch-size 2 or more")
        self.total_steps = self.settings.epochs * self.steps_per_epoch
        if self.settings.max_steps is not None:
            self.total_steps = min(self.total_steps, self.settings.max_steps)
        self.checkpoints = CheckpointSchedule(self.settings, self.steps_per_epoch)
        self.finite_at_step = -1  # the last step whose losses and gradients were checked finite

    # -- the loop ------------------------------------------------------------------------------

    def fit(self, *, resumed: bool = False, notes: Sequence[str] = ()) -> RunResult:
        error: BaseException | None = None
        self.clock = Stopwatch(offset=self.progress.elapsed_seconds)  # training time adds up over resumes
        self.throughput.reset(self.progress.images_seen)
        with stop_requests() as stop:
            try:
                self.callbacks.on_start(self.view)
                for message in notes:
                    self.note(message)
                if resumed:
                    self.callbacks.on_resume(self.view, "resume")
                if self.cluster.distributed:
                    optimizer = self.plan.config.optimizer
                    self.note(self.cluster.describe(self.settings.batch_size, optimizer.lr,
                                                    optimizer.d_lr or optimizer.lr))
                self.checkpoint_if_due("resume" if resumed else "start")
                while True:
                    try:
                        self.train_until_budget(stop)
                        self.checkpoint_if_due("end")  # refused (and rolled back) if G no longer makes finite images
                        break
                    except DivergenceError as diverged:
                        self.roll_back(diverged)
                if stop.requested is not None:  # arrived after the last step: the run is complete and saved
                    raise self.interrupted(stop)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self.callbacks.on_end(self.view, error)
        return RunResult(self.run_dir.root, self.run_dir.generator, self.run_dir.checkpoint, self.progress,
                         str(self.device), self.precision.mode, self.last_stats)

    def train_until_budget(self, stop: StopRequest) -> None:
        """Epochs of steps from ``progress`` on; raises ``DivergenceError`` or ``TrainingInterrupted``."""
        while self.progress.epoch < self.settings.epochs and self.within_budget():
            for batches in self.batches_of_this_epoch():
                self.train_step(batches)
                if self.cluster.any(stop.requested is not None):  # every rank stops at the same step
                    self.checkpoint_if_due("stop")
                    raise self.interrupted(stop)
            self.log()
            if self.progress.step_in_epoch < self.steps_per_epoch:
                return  # the step or time budget ended inside this epoch
            self.end_epoch()

    def batches_of_this_epoch(self) -> Iterator[list[Batch]]:
        """The rest of this epoch's batches, ``batches_per_step`` at a time, while the budget lasts."""
        batch_size, k = self.settings.batch_size, self.parts.strategy.batches_per_step
        order = epoch_order(len(self.parts.dataset), seed=self.settings.seed, epoch=self.progress.epoch)
        order = self.cluster.shard(order, batch_size)
        start = self.progress.step_in_epoch * batch_size * k
        in_order = self.parts.dataset.batches(order, start=start, batch_size=batch_size)  # streamed: prefetched
        while self.progress.step_in_epoch < self.steps_per_epoch and self.within_budget():
            batches = [next(in_order) for _ in range(k)]
            if self.settings.channels_last:
                for batch in batches:
                    batch.images = batch.images.contiguous(memory_format=torch.channels_last)
            yield batches

    def train_step(self, batches: list[Batch]) -> None:
        self.game.step = self.progress.global_step
        self.augmenter.begin_step([batch.images for batch in batches])
        # The plugin's code (or a device error inside it): named, and described only if it fails.
        with contain_plugin_errors(
                lambda: f"{self.plan.describe_step()} failed at step {self.progress.global_step + 1}",
                "rerun with --debug for the traceback"):
            stats = self.parts.strategy.step(self.game, batches)
        if self.ema is not None:
            self.ema.update(self.parts.generator, self.progress.global_step)
        if self.progress.global_step == 0 or not all(name in stats for name in self.game.required_statistics):
            self.check_statistics(stats)
        stats = {**stats, **self.augmenter.end_step(self.progress.global_step + 1, self.images_per_step,
                                                   self.cluster.all_sum)}
        self.progress.step_in_epoch += 1
        self.progress.global_step += 1
        self.progress.images_seen += self.images_per_step
        modules = [player.module for player in self.players]
        self.tracker.add(stats, self.progress.global_step, gradients_finite(modules, self.precision.mode))
        self.callbacks.on_step_end(self.view, stats)
        step = self.progress.global_step
        if step % self.settings.log_every_steps == 0:
            self.log()  # checks the losses and gradients first: a sync on accelerators, so only when logging
        elif self.device.type == "cpu":
            self.check_finite()  # free on the CPU: a divergence stops the run at its own step
        self.checkpoint_if_due("step")

    def end_epoch(self) -> None:
        self.check_generator_output()  # before the epoch's sample grid shows it
        self.progress.epoch += 1
        self.progress.step_in_epoch = 0
        self.progress.elapsed_seconds = self.clock.elapsed()
        self.callbacks.on_epoch_end(self.view, self.progress.epoch)
        self.checkpoint_if_due("epoch")

    # -- budgets, statistics, divergence -------------------------------------------------------

    def within_budget(self) -> bool:
        """Step and time budgets; training time is cumulative over resumes (``elapsed_seconds``)."""
        limit = self.settings.max_seconds
        return self.progress.global_step < self.total_steps and (
            limit is None or not self.cluster.any(self.clock.elapsed() >= limit))

    @property
    def planned_epochs(self) -> int | None:
        """The epoch count when it is what ends the run; None under a step or time budget."""
        by_epochs = self.total_steps == self.settings.epochs * self.steps_per_epoch
        ends_by_epochs = self.settings.max_seconds is None and by_epochs
        return self.settings.epochs if ends_by_epochs else None

    @property
    def planned_steps(self) -> int | None:
        """The last step, unless a time budget makes it unknowable."""
        return self.total_steps if self.settings.max_seconds is None else None

    def log(self) -> None:
        """Hand the means since the last log to the callbacks (reading them syncs the device)."""
        self.check_finite()
        stats = self.tracker.flush()
        if stats:
            self.last_stats = stats
            self.images_per_second = self.throughput.measure(self.progress.images_seen)
            self.callbacks.on_log(self.view, stats)

    def check_statistics(self, stats: Any) -> None:
        """A strategy returns detached tensors with at least its game's ``required_statistics``
        (``d_loss`` and ``g_loss`` in a ``Game``, ``g_loss`` in a ``SoloGame``)."""
        name, required = self.plan.strategy.name, self.game.required_statistics
        if not isinstance(stats, dict) or not all(isinstance(stats.get(key), torch.Tensor) for key in required):
            got = sorted(stats) if isinstance(stats, dict) else type(stats).__name__
            raise PluginError(f"strategy {name!r} ({self.plan.strategy.entry.plugin.distribution}) must return a dict "
                              f"of tensors with at least {', '.join(required)}; got {got}")

    def check_finite(self) -> None:
        """Raise ``DivergenceError`` if a loss or gradient went NaN/Inf; at most once a step, since
        reading the device's record syncs an accelerator (a step's statistics come in before it)."""
        if self.finite_at_step == self.progress.global_step:
            return
        step = self.tracker.diverged_at()
        if step is not None:
            raise divergence_error(step, self.precision.mode, float(self.parts.g_optimizer.param_groups[0]["lr"]),
                                   self.progress.rollbacks)
        self.finite_at_step = self.progress.global_step

    @property
    def sampling_generator(self) -> Generator:
        """The generator that is sampled, evaluated and saved as ``generator.safetensors``: the EMA
        copy with ``ema.enabled``, else the trained generator itself. The checkpoint keeps both."""
        return self.ema.module if self.ema is not None else self.parts.generator

    def check_generator_output(self) -> None:
        """Losses and gradients can stay finite while the generator, in the eval mode that
        sampling uses, makes NaN (weights grown to 1e11, BatchNorm running statistics gone bad);
        such a state must never become a checkpoint, a rollback point or the saved generator."""
        self.check_finite()
        generators = [self.parts.generator] + ([self.ema.module] if self.ema is not None else [])
        if not all(generator_output_finite(generator) for generator in generators):  # the trained G and its EMA
            raise divergence_error(self.progress.global_step, self.precision.mode,
                                   float(self.parts.g_optimizer.param_groups[0]["lr"]), self.progress.rollbacks,
                                   what="the generator's images (in eval mode, as sampled) became NaN/Inf")

    def roll_back(self, diverged: DivergenceError) -> None:
        """``on_divergence = "rollback"``: reload the last good checkpoint, halve the learning rates."""
        if self.settings.on_divergence != "rollback" or self.progress.rollbacks >= self.settings.max_rollbacks:
            raise diverged
        step, rollbacks = diverged.step, self.progress.rollbacks + 1
        optimizers = [player.optimizer for player in self.players]
        rates = learning_rates(optimizers)
        self.restore_checkpoint(self.run_dir.checkpoint)
        self.progress.rollbacks = rollbacks
        lr = set_learning_rates(optimizers, rates, LR_FACTOR_ON_ROLLBACK)
        self.callbacks.on_resume(self.view, "rollback")
        self.note(f"diverged at step {step}: rolled back to step {self.progress.global_step} and halved the "
                  f"learning rates (G lr now {lr:g}; rollback {rollbacks} of {self.settings.max_rollbacks})")

    def interrupted(self, stop: StopRequest) -> TrainingInterrupted:
        return TrainingInterrupted(
            f"stopped by {stop.requested} at step {self.progress.global_step}; checkpoint saved, continue "
            f"with `ganzoo train {self.plan.config.variant} --out {self.run_dir.root} --resume`")

    def note(self, message: str) -> None:
        self.callbacks.on_note(self.view, message)

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint_if_due(self, moment: Moment) -> None:
        """Write ``checkpoints/last.safetensors`` when the schedule (``CheckpointSchedule``) says so."""
        if self.checkpoints.due(moment, self.progress):
            self.save_checkpoint()

    def stateful_parts(self) -> dict[str, Any]:
        """Each piece a checkpoint carries the state of, under its key there."""
        parts: dict[str, Any] = {}
        for player in self.players:  # generator, g_optimizer, and discriminator, d_optimizer for a GAN
            parts[player.name] = player.module
            parts[f"{player.key}_optimizer"] = player.optimizer
        parts["scalers"] = self.precision
        if self.ema is not None:
            parts["ema_generator"] = self.ema.module
        if self.augmenter:
            parts["augment"] = self.augmenter
        return parts

    def state_dict(self) -> dict[str, Any]:
        state = {key: part.state_dict() for key, part in self.stateful_parts().items()}
        state.update(statistics=self.tracker.state_dict(), last_logged=dict(self.last_stats))  # the next epoch row
        return state

    def save_checkpoint(self, best: bool = False) -> None:
        """The full state (and the generator alone) to disk; never from a diverged state."""
        self.check_generator_output()
        self.progress.elapsed_seconds = self.clock.elapsed()
        if not self.cluster.is_main:
            return
        path = self.run_dir.best_checkpoint if best else self.run_dir.checkpoint
        save_checkpoint(path, state=self.state_dict(), progress=self.progress, config=self.config_record,
                        written_by=self.plan.variant_origin)
        generator, dataset = self.sampling_generator, self.parts.dataset
        save_generator(generator, self.run_dir.best_generator if best else self.run_dir.generator,
                       variant=self.plan.variant.name, model_config=self.config_record["model"],
                       plugin=self.plan.variant.entry.plugin,
                       class_names=dataset.class_names if generator.num_classes else None,
                       extra={"weights": "ema" if self.ema is not None else "trained"})
        self.callbacks.on_checkpoint(self.view, path, best)

    def restore_checkpoint(self, path: Path) -> None:
        """Models, optimisers, scalers, every RNG and the progress, as the checkpoint holds them."""
        state, progress, _ = load_checkpoint(path)
        restore_state(self.stateful_parts(), state, path, built=self.plan.variant_origin)  # or one line: does not fit
        restore_rng_states(state["rng"])
        self.progress, self.tracker = progress, StatTracker(self.device, watched=self.game.required_statistics)
        self.finite_at_step = -1  # the restored statistics are checked again
        if "statistics" in state:  # the log's window that was open at the checkpoint, so its mean is exact
            self.tracker.load_state_dict(state["statistics"])
        self.last_stats = dict(state.get("last_logged", {}))  # stopped on an epoch's last log step: its row
        self.throughput.reset(progress.images_seen)

    def _wrap(self, module: torch.nn.Module) -> Any:
        """A trained module as the step calls it: compiled (``run.compile``), inside DDP under a cluster."""
        return self.cluster.wrap(_maybe_compile(module, self.settings.compile), self.device,
                                 sync_batchnorm=self.settings.sync_batchnorm)


def _has_batchnorm(*modules: torch.nn.Module) -> bool:
    return any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for module in modules
               for layer in module.modules())


def _maybe_compile(module: torch.nn.Module, mode: str | None) -> Any:
    return module if mode in ("off", None) else torch.compile(module, mode=mode)
