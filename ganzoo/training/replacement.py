"""``--overwrite``, atomic at the level of a run: the old run stays whole until the new one has
written its first checkpoint.

A new run in a directory that already holds ganzoo's files first moves them (``written_files``,
nothing else) into ``OUT/.ganzoo-replaced/``, laid out as a run directory, and marks the move
complete (``.complete``). Then:

- the new run writes ``checkpoints/last.safetensors``: the set-aside run is renamed to
  ``OUT/.ganzoo-discarded`` in one step, then deleted (``commit``);
- the new run fails or is interrupted before that (a bad plugin, a divergence, Ctrl-C, a full
  disk): its files go and the set-aside run comes back (``restore``). A set-aside run with no
  checkpoint (an unfinished start) has nothing to lose: it is dropped instead, and the failed
  new run's log and samples stay for a look at what went wrong.

Every step is a rename or a delete that can be repeated, so a ``SIGKILL`` anywhere leaves a
state that ``settle`` (the next ``ganzoo train`` on the directory, under its lock) finishes:

- ``.ganzoo-discarded`` exists: delete it;
- the move was not complete: move everything back (the new run had not started);
- complete, and the directory has a checkpoint: the new run's; commit;
- complete, and no checkpoint: restore (or drop a set-aside run with no checkpoint).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.core.callback import Callback
from ganzoo.io.files import atomic_write_bytes
from ganzoo.training.rundir import RunDirectory

if TYPE_CHECKING:
    from ganzoo.training.view import TrainingRunView

COMPLETE = ".complete"
"""In the set-aside folder once every file of the previous run is in it."""


class Replacement(Callback):
    """The previous run in ``run_dir`` while a new run starts there; first of the run's callbacks,
    so the new run's first ``checkpoints/last.safetensors`` commits it before anything else runs."""

    def __init__(self, run_dir: RunDirectory) -> None:
        self.run_dir = run_dir
        self.pending = False

    @contextmanager
    def in_effect(self) -> Iterator[None]:
        """Set the previous run aside; on any failure before ``commit`` (the move itself included),
        put it back. Should that fail too, the next start on the directory settles it."""
        try:
            self.pending = set_aside(self.run_dir)
            yield
        except BaseException:
            if os.path.lexists(self.run_dir.set_aside):
                with contextlib.suppress(OSError):
                    settle(self.run_dir)
            self.pending = False
            raise

    def on_checkpoint(self, run: TrainingRunView, path: Path, best: bool) -> None:
        if self.pending and not best:
            commit(self.run_dir)
            self.pending = False


def set_aside(run_dir: RunDirectory) -> bool:
    """Move every file a run wrote into ``run_dir.set_aside``; False when there was none."""
    files = run_dir.written_files()
    if not files:
        return False
    aside = run_dir.set_aside
    aside.mkdir()
    for path in files:
        _move(path, aside / path.relative_to(run_dir.root))
    run_dir.remove_empty_folders()
    atomic_write_bytes(b"", aside / COMPLETE)
    return True


def commit(run_dir: RunDirectory) -> None:
    """The new run has its first checkpoint: the set-aside run goes."""
    _delete(run_dir.discarded)  # left by a kill during an earlier commit
    os.replace(run_dir.set_aside, run_dir.discarded)
    _delete(run_dir.discarded)


def undo(run_dir: RunDirectory) -> str:
    """The new run stopped before its first checkpoint: the previous run back as it was, or,
    when it had no checkpoint either, the new run's files kept. Returns what it did, for a note."""
    previous = RunDirectory(run_dir.set_aside)
    if not previous.holds_run():
        commit(run_dir)
        return f"dropped the unfinished start an interrupted run had replaced in {run_dir.root} (it had no checkpoint)"
    for path in run_dir.written_files():  # the new run's: the move was complete
        path.unlink()
    run_dir.discard_partial_writes()
    run_dir.remove_empty_folders()
    (run_dir.set_aside / COMPLETE).unlink(missing_ok=True)  # from here on, a kill leaves an incomplete move: moved back
    _move_back(run_dir)
    return (f"restored the run in {run_dir.root}: the run that was replacing it (--overwrite) stopped before its "
            "first checkpoint")


def settle(run_dir: RunDirectory) -> str | None:
    """Finish what a killed ``--overwrite`` left half done (the caller holds the directory's lock);
    returns a line saying what it did, or None when there was nothing to do."""
    _delete(run_dir.discarded)
    aside = run_dir.set_aside
    if not aside.is_dir() or aside.is_symlink():
        return None
    if not (aside / COMPLETE).exists():  # killed while moving the previous run aside
        _move_back(run_dir)
        return f"restored the run in {run_dir.root} that an interrupted --overwrite was moving aside"
    if run_dir.holds_run():
        commit(run_dir)
        return (f"finished the interrupted --overwrite of {run_dir.root}: the new run had written its first "
                "checkpoint, so the previous run is removed")
    return undo(run_dir)


def pending(run_dir: RunDirectory) -> bool:
    """Whether a killed ``--overwrite`` left something for ``settle`` to do."""
    return os.path.lexists(run_dir.set_aside) or os.path.lexists(run_dir.discarded)


def _move_back(run_dir: RunDirectory) -> None:
    aside = run_dir.set_aside
    for path in sorted(aside.rglob("*")):
        if path.name != COMPLETE and (path.is_symlink() or not path.is_dir()):
            _move(path, run_dir.root / path.relative_to(aside))
    _delete(aside)


def _move(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)


def _delete(folder: Path) -> None:
    if folder.is_symlink():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
