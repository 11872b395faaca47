"""What watches a run: the ``Callback`` protocol, and the read-only view of the run it is handed.

The loop calls these events and nothing else; the progress display, the metrics log, sample
grids, the loss curve, best-checkpoint evaluation, ``ganzoo bench``'s evaluation curve and the
benchmark probes are all callbacks. A plugin contributes one through
``ganzoo_register_callbacks`` and a run selects it with ``run.callbacks``.

Every method is optional (the base class does nothing). Callbacks observe: they read the
``RunView`` (its ``progress``, ``settings``, ``parts``, ``run_dir``, ``clock``), write their own
files, call ``run.note`` and ``run.save_checkpoint(best=True)``, and pause ``run.clock`` around
work that is not training; they must not change the models or optimisers. Under DDP they run on
rank 0 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from ganzoo.core.interfaces import Game, Generator, SoloGame, TrainingImages, TrainingStrategy


@dataclass
class Progress:
    """Where the run is: the next epoch to run and the next step inside it."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    images_seen: int = 0
    elapsed_seconds: float = 0.0
    rollbacks: int = 0


class Clock(Protocol):
    """The run's training-time clock (``run.max_seconds`` counts it)."""

    def elapsed(self) -> float:
        """Seconds of training so far, over every resume."""

    def paused(self) -> AbstractContextManager[Any]:
        """Stop counting inside the ``with`` block: work that is not training (an evaluation)."""


class RunFiles(Protocol):
    """The run directory; ``root`` is ``run.out_dir``."""

    root: Path


class RunModels(Protocol):
    """What the run trains on and with."""

    generator: Generator
    strategy: TrainingStrategy
    dataset: TrainingImages


class RunView(Protocol):
    """What a callback is handed: the run, to read. ``progress`` is a copy; the models are the live
    ones (sample them in ``torch.no_grad()``, never change them)."""

    @property
    def progress(self) -> Progress: ...

    @property
    def settings(self) -> Any:
        """The run's ``run`` section (``ganzoo.config.RunConfig``): epochs, budgets, cadences."""

    @property
    def parts(self) -> RunModels: ...

    @property
    def game(self) -> Game | SoloGame: ...

    @property
    def sampling_generator(self) -> Generator:
        """The generator that is sampled and saved: the EMA copy with ``ema.enabled``."""

    @property
    def run_dir(self) -> RunFiles: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def images_per_second(self) -> float:
        """Throughput over the last log window."""

    @property
    def last_stats(self) -> Mapping[str, float]:
        """The last logged means."""

    def note(self, message: str) -> None:
        """Show ``message`` to the user (every callback's ``on_note`` gets it)."""

    def save_checkpoint(self, best: bool = False) -> None:
        """Write a checkpoint now (``best``: the best-so-far one, beside the last)."""


class Callback:
    """Hooks into a training run, called in this order over its life:

    ``on_start`` once; ``on_resume`` when progress was reset from a checkpoint (``reason`` is
    ``"resume"`` or ``"rollback"``); per step ``on_step_end``; every ``run.log_every_steps`` and at
    each epoch's end ``on_log``; ``on_epoch_end``; ``on_checkpoint`` after each checkpoint is on
    disk; ``on_note`` for a message meant for the user; ``on_end`` once, also when the run fails.
    """

    def on_start(self, run: RunView) -> None:
        """The parts are built, the run directory is claimed, training is about to begin."""

    def on_resume(self, run: RunView, reason: str) -> None:
        """``run.progress`` now holds a checkpoint's progress (``resume`` or ``rollback``)."""

    def on_step_end(self, run: RunView, stats: Mapping[str, Tensor]) -> None:
        """One step finished; ``stats`` are the strategy's detached tensors, still on the device.

        Reading them (``float(t)``) forces a device sync: leave that to ``on_log``.
        """

    def on_log(self, run: RunView, stats: Mapping[str, float]) -> None:
        """Means of the step statistics since the last log, as numbers; ``run.images_per_second``
        is the throughput over the same window."""

    def on_epoch_end(self, run: RunView, epoch: int) -> None:
        """Epoch ``epoch`` (1-based) is complete; ``run.progress.epoch == epoch``."""

    def on_checkpoint(self, run: RunView, path: Path, best: bool) -> None:
        """A checkpoint (the best-so-far one when ``best``) was written to ``path``."""

    def on_note(self, run: RunView, message: str) -> None:
        """Something the user should read (a rollback, a best checkpoint, the DDP set-up)."""

    def on_end(self, run: RunView, error: BaseException | None) -> None:
        """The run is over: finished (``error`` is None), interrupted, diverged or failed."""
