"""The read-only view of a run that every callback is handed (``ganzoo.core.callback.RunView``).

The loop keeps its ``TrainingRun`` to itself; callbacks, ganzoo's own and a plugin's, see this
view instead: ``progress`` as a copy, the settings, the plan, the models and the run directory
to read, and the actions a callback may take (``note``, ``save_checkpoint``, and ``log`` for
ganzoo's own bench). It reads the
live run, so it is always current, and it imports nothing of the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import torch

from ganzoo.config import RunConfig
from ganzoo.core.callback import Progress
from ganzoo.core.interfaces import Game, Generator, SoloGame
from ganzoo.runtime.precision import Precision
from ganzoo.training.build import RunParts
from ganzoo.training.plan import RunPlan
from ganzoo.training.rundir import RunDirectory
from ganzoo.training.statistics import Stopwatch


class LiveRun(Protocol):
    """What the view reads of the loop's run (``ganzoo.training.loop.TrainingRun``)."""

    plan: RunPlan
    parts: RunParts
    run_dir: RunDirectory
    settings: RunConfig
    config_record: dict[str, Any]
    progress: Progress
    clock: Stopwatch
    precision: Precision
    device: torch.device
    game: Game | SoloGame
    images_per_second: float
    last_stats: dict[str, float]
    total_steps: int

    @property
    def sampling_generator(self) -> Generator: ...

    @property
    def planned_epochs(self) -> int | None: ...

    @property
    def planned_steps(self) -> int | None: ...

    def note(self, message: str) -> None: ...

    def log(self) -> None: ...

    def save_checkpoint(self, best: bool = False) -> None: ...


class TrainingRunView:
    """A run as its callbacks see it; see the module docstring."""

    def __init__(self, run: LiveRun) -> None:
        self._run = run

    @property
    def progress(self) -> Progress:
        return replace(self._run.progress)

    @property
    def settings(self) -> RunConfig:
        return self._run.settings

    @property
    def plan(self) -> RunPlan:
        return self._run.plan

    @property
    def config_record(self) -> Mapping[str, Any]:
        """The fully spelled-out config the run records in ``config.json``."""
        return self._run.config_record

    @property
    def parts(self) -> RunParts:
        return self._run.parts

    @property
    def game(self) -> Game | SoloGame:
        return self._run.game

    @property
    def sampling_generator(self) -> Generator:
        return self._run.sampling_generator

    @property
    def run_dir(self) -> RunDirectory:
        return self._run.run_dir

    @property
    def clock(self) -> Stopwatch:
        return self._run.clock

    @property
    def precision(self) -> str:
        """The run's precision mode (``fp32``, ``bf16``, ``fp16``)."""
        return self._run.precision.mode

    @property
    def device(self) -> torch.device:
        return self._run.device

    @property
    def images_per_second(self) -> float:
        return self._run.images_per_second

    @property
    def last_stats(self) -> Mapping[str, float]:
        return dict(self._run.last_stats)

    @property
    def total_steps(self) -> int:
        return self._run.total_steps

    @property
    def planned_epochs(self) -> int | None:
        return self._run.planned_epochs

    @property
    def planned_steps(self) -> int | None:
        return self._run.planned_steps

    def note(self, message: str) -> None:
        self._run.note(message)

    def save_checkpoint(self, best: bool = False) -> None:
        self._run.save_checkpoint(best=best)

    def log(self) -> None:
        """Log the statistics since the last log row now (``ganzoo bench`` does at each of its
        evaluation points, so that the row holds the training statistics up to it)."""
        self._run.log()
