"""The live progress display, a callback: epoch, step, losses, D(x), D(G(z)), images/s, time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch import Tensor

from ganzoo.core.callback import Callback
from ganzoo.training.outputs import format_stats

if TYPE_CHECKING:
    from ganzoo.training.view import TrainingRunView


class ProgressDisplay(Callback):
    """A rich progress bar. It promises only what ends the run: no epoch count under a step or
    time budget, and elapsed time instead of an ETA under a time budget."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, markup=False, emoji=False, highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def on_start(self, run: TrainingRunView) -> None:
        total = run.planned_steps
        clock = TimeRemainingColumn() if total is not None else TimeElapsedColumn()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TextColumn("{task.fields[speed]}"), clock,
            console=self.console, transient=False,
        )
        self._task = self._progress.add_task(self._epoch(run), total=total, completed=run.progress.global_step,
                                             stats="", speed="")
        self._progress.start()

    def on_resume(self, run: TrainingRunView, reason: str) -> None:
        if reason == "resume":  # say where, so a user sees it did
            self.console.print(f"resuming {run.run_dir.root} at epoch {run.progress.epoch + 1}, "
                               f"step {run.progress.global_step}", soft_wrap=True)
        self._update(run)

    def on_step_end(self, run: TrainingRunView, stats: Mapping[str, Tensor]) -> None:
        self._update(run)

    def on_log(self, run: TrainingRunView, stats: Mapping[str, float]) -> None:
        self._update(run, stats=format_stats(stats), speed=f"{run.images_per_second:,.0f} img/s")

    def on_note(self, run: TrainingRunView, message: str) -> None:
        self.console.print(message, soft_wrap=True)

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _update(self, run: TrainingRunView, **fields: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=self._epoch(run), completed=run.progress.global_step,
                                  **fields)

    @staticmethod
    def _epoch(run: TrainingRunView) -> str:
        epochs = run.planned_epochs
        return f"epoch {run.progress.epoch + 1}/{epochs}" if epochs is not None else f"epoch {run.progress.epoch + 1}"
