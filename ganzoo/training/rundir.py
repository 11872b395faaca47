"""The files of one run, in one place, so nothing else hard-codes a path.

::

    OUT/config.json                  the resolved config (what exactly was trained)
    OUT/metrics.jsonl                one JSON line per logged step and per epoch
    OUT/samples/epoch-0001.png       the fixed noise batch, every epoch
    OUT/checkpoints/last.safetensors full training state for --resume
    OUT/generator.safetensors        the generator alone, for sampling (ganzoo sample/eval)
    OUT/checkpoints/best.safetensors and OUT/generator-best.safetensors: the same at the best
                                     evaluation so far, when run.eval_every_epochs is set
    OUT/loss_curve.png               D and G losses against steps
    OUT/README.md                    the model card: what was trained, how, how well, how to load it
    OUT/tensorboard/                 TensorBoard event files, with ``--logger tensorboard``
    OUT/.ganzoo-run                  the marker that says the directory is ganzoo's (``runclaim``)
    OUT/.lock                        held by the one process training here (``runlock``)
    OUT/.ganzoo-replaced/            the previous run, while an ``--overwrite`` waits for the new
                                     run's first checkpoint (``replacement``)

``written_files`` is everything above that a run writes (not the marker, the lock or the
set-aside run): what ``--overwrite`` replaces, and nothing else in the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, RunDirectoryError
from ganzoo.io.inputs import read_input_bytes, read_input_text
from ganzoo.io.structured import load_json

SAMPLE_GRIDS = "epoch-*.png"
TENSORBOARD_EVENTS = "events.out.tfevents.*"


@dataclass(frozen=True)
class RunDirectory:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.safetensors"

    @property
    def generator(self) -> Path:
        return self.root / "generator.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        """Training state at the best evaluation so far (``run.eval_every_epochs``)."""
        return self.root / "checkpoints" / "best.safetensors"

    @property
    def best_generator(self) -> Path:
        return self.root / "generator-best.safetensors"

    @property
    def loss_curve(self) -> Path:
        return self.root / "loss_curve.png"

    @property
    def model_card(self) -> Path:
        """``README.md``: GitHub and editors show it when the run directory is opened."""
        return self.root / "README.md"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @classmethod
    def around(cls, path: Path) -> RunDirectory | None:
        """The run directory a generator or checkpoint file lies in, when it lies in one."""
        folder = Path(path).parent
        for root in (folder, folder.parent) if folder.name == "checkpoints" else (folder,):
            if (root / "config.json").is_file():
                return cls(root)
        return None

    def sample_grid(self, epoch: int) -> Path:
        return self.samples / f"epoch-{epoch:04d}.png"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def marker(self) -> Path:
        """``.ganzoo-run``: written when ganzoo claims the directory, before any other file."""
        return self.root / ".ganzoo-run"

    @property
    def set_aside(self) -> Path:
        """Where ``--overwrite`` keeps the previous run until the new one has a checkpoint; laid
        out as a run directory itself (``RunDirectory(run_dir.set_aside)``)."""
        return self.root / ".ganzoo-replaced"

    @property
    def discarded(self) -> Path:
        """A set-aside run on its way out: renamed here in one step, then deleted."""
        return self.root / ".ganzoo-discarded"

    def written_files(self) -> list[Path]:
        """The files of this directory that a run writes, those that exist: the config, log,
        weights, checkpoints, loss curve, model card, sample grids and TensorBoard events.

        A symbolic link counts as the entry it is (moving or deleting it never touches its
        target); a folder that is a link to elsewhere is left alone, like anything ganzoo did not write.
        """
        fixed = [self.config, self.metrics, self.generator, self.best_generator, self.loss_curve, self.model_card,
                 self.checkpoint, self.best_checkpoint]
        found = [path for path in fixed if _own_file(path, self.root)]
        for folder, pattern in ((self.samples, SAMPLE_GRIDS), (self.tensorboard, TENSORBOARD_EVENTS)):
            if _own_folder(folder):
                found += sorted(path for path in folder.glob(pattern) if _own_file(path, self.root))
        return found

    def remove_empty_folders(self) -> None:
        """``samples/``, ``checkpoints/`` and ``tensorboard/`` once nothing is left in them."""
        for folder in (self.samples, self.checkpoint.parent, self.tensorboard):
            if _own_folder(folder):
                try:
                    folder.rmdir()
                except OSError:
                    pass  # something else is in it: it stays

    def holds_run(self) -> bool:
        """A run that can be resumed: it wrote at least one checkpoint."""
        return self.checkpoint.exists()

    def holds_unfinished_start(self) -> bool:
        """A run stopped before its first checkpoint: only its config and early logs exist.

        Nothing in it can be resumed, and its settings and seed give the same trajectory again,
        so a new run (or ``--resume``) simply starts it over.
        """
        return not self.holds_run() and self.config.exists()

    def discard_partial_writes(self) -> None:
        """Remove temporary files a killed process left mid-write (the real files are intact)."""
        for folder in (self.root, self.checkpoint.parent, self.samples):
            for temporary in folder.glob(".*.tmp-*"):
                temporary.unlink(missing_ok=True)

    def saved_config(self) -> dict[str, Any] | None:
        """The run's resolved config: ``config.json``, or the copy inside the last checkpoint when
        that file is missing or damaged; ``None`` when the directory holds neither."""
        try:
            saved = load_json(read_input_text(self.config, "run config", error=RunDirectoryError), "run config",
                              error=RunDirectoryError)
            if isinstance(saved, dict) and saved.get("variant"):
                return saved
        except (RunDirectoryError, json.JSONDecodeError):
            pass  # damaged, or not a regular file: the checkpoint holds the same config
        if self.holds_run():
            from ganzoo.training.checkpoints import read_checkpoint_config

            return read_checkpoint_config(self.checkpoint)
        return None

    def write_config(self, config: dict[str, Any]) -> None:
        from ganzoo.io.safe_state import atomic_write_bytes

        atomic_write_bytes(json.dumps(config, indent=2, sort_keys=True).encode(), self.config)

    def truncate_metrics(self, after_step: int) -> None:
        """Drop log lines past ``after_step``, which a resumed run will write again (and a line cut
        short by a crash or a full disk)."""
        if not self.metrics.exists():
            return
        kept = []
        data = read_input_bytes(self.metrics, "metrics log", max_bytes=None, error=RunDirectoryError)
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                if load_json(line, "metrics log row", allow_nan=True).get("step", 0) <= after_step:
                    kept.append(line)
            except (GanzooError, AttributeError, TypeError):
                continue
        from ganzoo.io.safe_state import atomic_write_bytes

        atomic_write_bytes("".join(f"{line}\n" for line in kept).encode(), self.metrics)


def _own_folder(folder: Path) -> bool:
    return folder.is_dir() and not folder.is_symlink()


def _own_file(path: Path, root: Path) -> bool:
    """An entry that is not a directory, in ``root`` or in a real (not linked) folder of it."""
    if not os.path.lexists(path) or path.is_dir():
        return False
    return path.parent == root or not path.parent.is_symlink()


def inputs_of(weights: Path) -> list[Path]:
    """What a command reading ``weights`` must never write over: the file, and every file of the
    run directory it lies in (its checkpoints, config, log and model card)."""
    run = RunDirectory.around(weights)
    return [Path(weights), *(run.written_files() if run is not None else [])]
