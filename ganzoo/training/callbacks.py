"""What watches a run: the ``Callback`` protocol and the list that calls every callback in turn.

The loop (``ganzoo.training.loop``) calls these events and nothing else; the progress display,
the metrics log, sample grids, the loss curve, best-checkpoint evaluation, ``ganzoo bench``'s
evaluation curve and the benchmark probes are all callbacks. A plugin contributes one through
``ganzoo_register_callbacks`` and a run selects it with ``run.callbacks``.

Every method is optional (the base class does nothing). Callbacks observe: they may read
``run`` (its ``progress``, ``parts``, ``run_dir``, ``clock``), write their own files, call
``run.note`` and ``run.save_checkpoint(best=True)``, and pause ``run.clock`` around work that
is not training; they must not change the models or optimisers. Under DDP they run on rank 0 only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor

from ganzoo.errors import GanzooError, PluginError, first_line

if TYPE_CHECKING:
    from ganzoo.training.loop import TrainingRun


class Callback:
    """Hooks into a training run, called in this order over its life:

    ``on_start`` once; ``on_resume`` when progress was reset from a checkpoint (``reason`` is
    ``"resume"`` or ``"rollback"``); per step ``on_step_end``; every ``run.log_every_steps`` and at
    each epoch's end ``on_log``; ``on_epoch_end``; ``on_checkpoint`` after each checkpoint is on
    disk; ``on_note`` for a message meant for the user; ``on_end`` once, also when the run fails.
    """

    def on_start(self, run: TrainingRun) -> None:
        """The parts are built, the run directory is claimed, training is about to begin."""

    def on_resume(self, run: TrainingRun, reason: str) -> None:
        """``run.progress`` now holds a checkpoint's progress (``resume`` or ``rollback``)."""

    def on_step_end(self, run: TrainingRun, stats: Mapping[str, Tensor]) -> None:
        """One step finished; ``stats`` are the strategy's detached tensors, still on the device.

        Reading them (``float(t)``) forces a device sync: leave that to ``on_log``.
        """

    def on_log(self, run: TrainingRun, stats: Mapping[str, float]) -> None:
        """Means of the step statistics since the last log, as numbers; ``run.images_per_second``
        is the throughput over the same window."""

    def on_epoch_end(self, run: TrainingRun, epoch: int) -> None:
        """Epoch ``epoch`` (1-based) is complete; ``run.progress.epoch == epoch``."""

    def on_checkpoint(self, run: TrainingRun, path: Path, best: bool) -> None:
        """A checkpoint (the best-so-far one when ``best``) was written to ``path``."""

    def on_note(self, run: TrainingRun, message: str) -> None:
        """Something the user should read (a rollback, a best checkpoint, the DDP set-up)."""

    def on_end(self, run: TrainingRun, error: BaseException | None) -> None:
        """The run is over: finished (``error`` is None), interrupted, diverged or failed."""


class CallbackList(Callback):
    """Calls each callback in order; the loop talks to this one object.

    A callback from outside ganzoo that raises something other than a ``GanzooError`` is named
    in one line (``PluginError``) instead of reading as a bug in ganzoo; ganzoo's own callbacks'
    exceptions pass through as they are.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_start(self, run: TrainingRun) -> None:
        self._each("on_start", run)

    def on_resume(self, run: TrainingRun, reason: str) -> None:
        self._each("on_resume", run, reason)

    def on_step_end(self, run: TrainingRun, stats: Mapping[str, Tensor]) -> None:
        self._each("on_step_end", run, stats)

    def on_log(self, run: TrainingRun, stats: Mapping[str, float]) -> None:
        self._each("on_log", run, stats)

    def on_epoch_end(self, run: TrainingRun, epoch: int) -> None:
        self._each("on_epoch_end", run, epoch)

    def on_checkpoint(self, run: TrainingRun, path: Path, best: bool) -> None:
        self._each("on_checkpoint", run, path, best)

    def on_note(self, run: TrainingRun, message: str) -> None:
        self._each("on_note", run, message)

    def on_end(self, run: TrainingRun, error: BaseException | None) -> None:
        self._each("on_end", run, error)

    def _each(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            try:
                getattr(callback, event)(*args)
            except GanzooError:
                raise
            except Exception as exc:
                module = type(callback).__module__
                if module == "ganzoo" or module.startswith("ganzoo."):
                    raise  # ganzoo's own callback: a real bug, reported as one
                raise PluginError(f"callback {type(callback).__name__} ({module}) failed in {event}: "
                                  f"{type(exc).__name__}: {first_line(exc)}; fix it, or drop it from "
                                  "run.callbacks") from exc
