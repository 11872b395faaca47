"""Whose directory ``--out`` is, and what a run may do there: ganzoo writes only into a directory
that is missing, empty, or one of its own runs.

A directory is ganzoo's when it holds ``.ganzoo-run``, the marker ganzoo writes first when it
claims one (``{"format": "ganzoo.run-directory.v1", "ganzoo_version": ...}``). A run written by
a ganzoo from before the marker is recognised by its files: a ``config.json`` with every section
of a ganzoo config (``variant`` among them) and, beside it, a checkpoint or a ``metrics.jsonl`` in
ganzoo's formats; the marker is written when such a run is resumed or replaced. Anything else
that is not empty (another tool's ``config.json`` and ``checkpoints/``, a folder of notes) is
refused in one line that lists what is there, ``--overwrite`` or not. A marker that cannot be
read, or whose format is from a newer ganzoo, is refused too: it would otherwise be taken for
a stranger's file or for a format this ganzoo knows.

In a directory that is ganzoo's, a new run needs ``--overwrite`` when a run with a checkpoint is
there (``check_claim``); ``--resume`` continues it, restarts an unfinished start (no checkpoint
yet) from step 0, or, with nothing there, starts a new run (``start_in``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.config import TrainConfig
from ganzoo.errors import GanzooError, RunDirectoryError
from ganzoo.io.files import atomic_write_bytes
from ganzoo.io.inputs import KiB, open_input, read_input_text
from ganzoo.io.safe_state import read_safetensors_metadata
from ganzoo.io.structured import load_json
from ganzoo.training.checkpoints import CHECKPOINT_FORMAT, read_checkpoint_config
from ganzoo.training.replacement import settle
from ganzoo.training.resume import SECTIONS_ADDED_LATER, check_checkpoint_is_the_runs
from ganzoo.training.rundir import RunDirectory
from ganzoo.version import __version__

MARKER_FORMAT = "ganzoo.run-directory.v1"
_MARKER_FAMILY = "ganzoo.run-directory."
OLDER_RUN_SECTIONS = frozenset(TrainConfig.model_fields) - frozenset(SECTIONS_ADDED_LATER)
"""What the ``config.json`` of a run from before the marker holds, at least."""
LOG_KINDS = ("step", "epoch", "eval")
_SHOWN_ENTRIES = 4
_IGNORED_ENTRIES = (".lock",)  # the lock this process takes before it looks


@dataclass(frozen=True)
class RunStart:
    """How a run starts in its directory, decided under the lock before anything is built."""

    saved: dict[str, Any] | None  # the config of the run resumed or restarted; None for a new run
    resumes: bool  # continue from checkpoints/last.safetensors
    notes: list[str] = field(default_factory=list)


def start_in(run_dir: RunDirectory, variant: str, *, resume: bool, overwrite: bool, writer: bool) -> RunStart:
    """Settle what a killed ``--overwrite`` left, then refuse what this run may not do here.
    ``writer`` is the process that writes files (rank 0 under DDP); the others only read."""
    notes = [note] if writer and (note := settle(run_dir)) else []
    saved = config_to_resume(run_dir, variant) if resume else None
    if saved is not None:
        if run_dir.holds_run():
            check_checkpoint_is_the_runs(saved, read_checkpoint_config(run_dir.checkpoint), run_dir.checkpoint)
            return RunStart(saved, True, notes)
        notes.append(f"{run_dir.root} has no checkpoint yet (the run stopped before its first one): "
                     "starting it again from step 0 with its saved settings")
    elif resume:
        notes.append(f"nothing to resume in {run_dir.root} yet (no checkpoint): starting a new {variant} run there")
    elif writer:
        check_claim(run_dir, overwrite=overwrite)
        if run_dir.holds_unfinished_start():
            notes.append(f"replacing the unfinished start in {run_dir.root} (it stopped before its first checkpoint)")
    return RunStart(saved, False, notes)


def check_claim(run_dir: RunDirectory, *, overwrite: bool) -> None:
    """Refuse, before any work, a new run in a directory it may not write (changes nothing)."""
    root = run_dir.root
    if root.exists() and not root.is_dir():
        raise RunDirectoryError(f"output path {str(root)!r} is a file; choose another --out")
    refuse_foreign(run_dir, overwrite=overwrite)
    if run_dir.holds_run() and not overwrite:
        raise RunDirectoryError(f"{str(root)!r} already holds a run; pass --resume to continue it, "
                                "--overwrite to replace it, or choose another --out")


def config_to_resume(run_dir: RunDirectory, variant: str | None = None) -> dict[str, Any] | None:
    """The saved config a ``--resume`` continues, or None when the directory holds no run and
    ``variant`` says what to start there; refuses a directory that is not ganzoo's, and a
    ``variant`` other than the one the run holds (before its settings would look unknown)."""
    refuse_foreign(run_dir, resume=True)
    root = run_dir.root
    saved = run_dir.saved_config()
    if saved is None:
        if variant is None:
            raise RunDirectoryError(f"nothing to resume in {str(root)!r}: it holds no run (no config.json, no "
                                    "checkpoints/last.safetensors); name the variant to start one there: "
                                    f"`ganzoo train VARIANT --out {root} --resume`")
        return None
    if variant and saved.get("variant") != variant:
        raise RunDirectoryError(
            f"{str(root)!r} holds a {saved.get('variant')!r} run, not {variant!r}; resume it with "
            f"`ganzoo train {saved.get('variant')} --out {root} --resume`, or train {variant!r} "
            "with another --out")
    return saved


def refuse_foreign(run_dir: RunDirectory, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse a directory that holds files and is not ganzoo's, listing the first few of them."""
    listing = foreign_entries(run_dir)
    if listing is None:
        return
    root = str(run_dir.root)
    fix = f"choose another --out, or empty {root!r}"
    if resume:
        raise RunDirectoryError(f"nothing to resume in {root!r}: it holds no run, only files ganzoo did not write "
                                f"({listing}); {fix}")
    only = " (--overwrite replaces only a ganzoo run)" if overwrite else ""
    raise RunDirectoryError(f"{root!r} holds files ganzoo did not write ({listing}) and no ganzoo run{only}; "
                            f"ganzoo trains only into an empty directory or one of its own runs: {fix}")


def foreign_entries(run_dir: RunDirectory) -> str | None:
    """The first entries of a non-empty directory that is not ganzoo's; None for one that is
    missing, empty or ganzoo's. A marker that cannot be trusted is refused here."""
    if not run_dir.root.is_dir():
        return None
    if os.path.lexists(run_dir.marker):
        check_marker(run_dir)
        return None
    with os.scandir(run_dir.root) as scan:
        entries = sorted((entry for entry in scan if entry.name not in _IGNORED_ENTRIES), key=lambda entry: entry.name)
    if not entries or older_ganzoo_run(run_dir):
        return None
    shown = [entry.name + ("/" if entry.is_dir() else "") for entry in entries[:_SHOWN_ENTRIES]]
    more = f" and {len(entries) - _SHOWN_ENTRIES} more" if len(entries) > _SHOWN_ENTRIES else ""
    return ", ".join(shown) + more


def check_marker(run_dir: RunDirectory) -> None:
    """``.ganzoo-run`` must be this ganzoo's run-directory format; one line if it is not."""
    path = run_dir.marker
    fix = (f"if {str(run_dir.root)!r} is a ganzoo run, remove that file and rerun (its config.json and checkpoint "
           "still identify it), or choose another --out")
    text = read_input_text(path, "run marker", max_bytes=64 * KiB, error=RunDirectoryError, fix=fix)
    try:
        marker = load_json(text, "run marker", error=RunDirectoryError)
        kind = marker.get("format") if isinstance(marker, dict) else None
    except RunDirectoryError:
        kind = None
    if not isinstance(kind, str) or not kind.startswith(_MARKER_FAMILY):
        raise RunDirectoryError(f"run marker {str(path)!r} is damaged (not a ganzoo run-directory marker); {fix}")
    if kind != MARKER_FORMAT:
        version = marker.get("ganzoo_version", "a newer version")
        raise RunDirectoryError(f"{str(run_dir.root)!r} was written by ganzoo {version} in run-directory format "
                                f"{kind!r}, which this ganzoo ({__version__}, {MARKER_FORMAT!r}) does not know; use "
                                "that ganzoo version, or choose another --out")


def write_marker(run_dir: RunDirectory) -> None:
    """Claim the directory: written before any other file of a run, kept by ``--overwrite``."""
    if not os.path.lexists(run_dir.marker):
        marker = {"format": MARKER_FORMAT, "ganzoo_version": __version__}
        atomic_write_bytes((json.dumps(marker) + "\n").encode(), run_dir.marker)


def older_ganzoo_run(run_dir: RunDirectory) -> bool:
    """A run written before the marker existed: its ``config.json`` is a ganzoo config and a
    checkpoint or a log in ganzoo's formats is beside it."""
    try:
        config = load_json(read_input_text(run_dir.config, "run config", error=RunDirectoryError), "run config",
                           error=RunDirectoryError)
    except (GanzooError, ValueError):
        return False
    if not (isinstance(config, dict) and isinstance(config.get("variant"), str) and OLDER_RUN_SECTIONS <= set(config)):
        return False
    return _ganzoo_checkpoint(run_dir.checkpoint) or _ganzoo_log(run_dir.metrics)


def _ganzoo_checkpoint(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return read_safetensors_metadata(path, "checkpoint").get("format") == CHECKPOINT_FORMAT
    except GanzooError:
        return False


def _ganzoo_log(path: Path) -> bool:
    """The first line of ``metrics.jsonl`` is one of ganzoo's rows (kind, step)."""
    if not path.exists():
        return False
    try:
        with open_input(path, "metrics log", error=RunDirectoryError) as handle:
            row = load_json(handle.readline(64 * KiB), "metrics log row", allow_nan=True)
    except (GanzooError, OSError, ValueError):
        return False
    return isinstance(row, dict) and row.get("kind") in LOG_KINDS and isinstance(row.get("step"), int)
