"""When the loop writes ``checkpoints/last.safetensors``: every rule in one place.

The loop asks ``CheckpointSchedule.due`` at each moment a run meets, and writes a checkpoint
exactly when it says so:

- ``"start"``: before the first step of a new run with ``run.on_divergence = "rollback"``, so
  that a divergence before the first periodic checkpoint has something to roll back to;
- ``"resume"``: never, the run continues from the checkpoint it has;
- ``"step"``: after a step, every ``run.checkpoint_every_steps`` steps, except at an epoch's last
  step: there it waits for ``"epoch"``, after the epoch's log rows, because a checkpoint comes
  after every metrics row of its step, so that a resumed run rewrites exactly the rows past it;
- ``"epoch"``: after an epoch, every ``run.checkpoint_every_epochs`` epochs, and when the epoch's
  last step is a ``checkpoint_every_steps`` one;
- ``"stop"``: on a stop request (SIGINT, SIGTERM), always: the run exits resumable;
- ``"end"``: when the budget ends, always: the final state and ``generator.safetensors``.

This decides only when; ``TrainingRun.save_checkpoint`` refuses, whenever it is asked, a state
whose generator no longer makes finite images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganzoo.config import RunConfig
from ganzoo.core.callback import Progress

Moment = Literal["start", "resume", "step", "epoch", "stop", "end"]


@dataclass(frozen=True)
class CheckpointSchedule:
    """The checkpoint rules of one run (its ``run`` settings and epoch length); see the module."""

    settings: RunConfig
    steps_per_epoch: int

    def due(self, moment: Moment, progress: Progress) -> bool:
        """Whether a checkpoint is written at ``moment``, with the run at ``progress``."""
        every_steps, every_epochs = self.settings.checkpoint_every_steps, self.settings.checkpoint_every_epochs
        step_due = bool(every_steps) and progress.global_step % every_steps == 0
        if moment == "start":
            return self.settings.on_divergence == "rollback"
        if moment == "resume":
            return False
        if moment == "step":
            return step_due and progress.step_in_epoch < self.steps_per_epoch
        if moment == "epoch":
            return (bool(every_epochs) and progress.epoch % every_epochs == 0) or step_due
        return True  # "stop" and "end"
