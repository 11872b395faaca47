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
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import RunDirectoryError
from ganzoo.io.inputs import read_input_bytes, read_input_text


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

    def written_files(self) -> list[Path]:
        """Every single file a run writes here (its folders' contents aside)."""
        return [self.config, self.metrics, self.checkpoint, self.best_checkpoint, self.generator,
                self.best_generator, self.loss_curve, self.model_card]

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

    def holds_run(self) -> bool:
        """A run that can be resumed: it wrote at least one checkpoint."""
        return self.checkpoint.exists()

    def holds_unfinished_start(self) -> bool:
        """A run stopped before its first checkpoint: only its config and early logs exist.

        Nothing in it can be resumed, and its settings and seed give the same trajectory again,
        so a new run (or ``--resume``) simply starts it over.
        """
        return not self.holds_run() and self.config.exists()

    def check_claim(self, *, overwrite: bool) -> None:
        """Refuse now, before any work, what ``claim`` would refuse later; changes nothing."""
        if self.root.exists() and not self.root.is_dir():
            raise RunDirectoryError(f"output path {str(self.root)!r} is a file; choose another --out")
        if self.holds_run() and not overwrite:
            raise RunDirectoryError(f"{str(self.root)!r} already holds a run; pass --resume to continue it, "
                                    "--overwrite to replace it, or choose another --out")

    def claim(self, *, overwrite: bool) -> None:
        """Make the directory ready for a new run, never clobbering one by accident."""
        self.check_claim(overwrite=overwrite)
        if self.holds_run() or self.holds_unfinished_start():
            for path in (self.config, self.metrics, self.generator, self.best_generator, self.loss_curve,
                         self.model_card):
                path.unlink(missing_ok=True)
            for folder in (self.samples, self.tensorboard):
                shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(self.checkpoint.parent, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    def discard_partial_writes(self) -> None:
        """Remove temporary files a killed process left mid-write (the real files are intact)."""
        for folder in (self.root, self.checkpoint.parent, self.samples):
            for temporary in folder.glob(".*.tmp-*"):
                temporary.unlink(missing_ok=True)

    def saved_config(self) -> dict[str, Any] | None:
        """The run's resolved config: ``config.json``, or the copy inside the last checkpoint when
        that file is missing or damaged; ``None`` when the directory holds neither."""
        try:
            saved = json.loads(read_input_text(self.config, "run config", error=RunDirectoryError))
            if isinstance(saved, dict) and saved.get("variant"):
                return saved
        except (RunDirectoryError, json.JSONDecodeError):
            pass  # damaged, or not a regular file: the checkpoint holds the same config
        if self.holds_run():
            from ganzoo.training.checkpoints import read_checkpoint_config

            return read_checkpoint_config(self.checkpoint)
        return None

    def config_to_resume(self, variant: str | None = None) -> dict[str, Any]:
        """The saved config a ``--resume`` starts from; refuses a directory with no run in it and a
        ``variant`` other than the one it holds (before its settings would look unknown)."""
        saved = self.saved_config()
        if saved is None:
            raise RunDirectoryError(f"nothing to resume in {str(self.root)!r}: it holds no run (no config.json, no "
                                    "checkpoints/last.safetensors); drop --resume to start a new run there")
        if variant and saved.get("variant") != variant:
            raise RunDirectoryError(
                f"{str(self.root)!r} holds a {saved.get('variant')!r} run, not {variant!r}; resume it with "
                f"`ganzoo train {saved.get('variant')} --out {self.root} --resume`, or train {variant!r} "
                "with another --out")
        return saved

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
                if json.loads(line).get("step", 0) <= after_step:
                    kept.append(line)
            except (json.JSONDecodeError, AttributeError):
                continue
        from ganzoo.io.safe_state import atomic_write_bytes

        atomic_write_bytes("".join(f"{line}\n" for line in kept).encode(), self.metrics)


def inputs_of(weights: Path) -> list[Path]:
    """What a command reading ``weights`` must never write over: the file, and every file of the
    run directory it lies in (its checkpoints, config, log and model card)."""
    run = RunDirectory.around(weights)
    return [Path(weights), *(run.written_files() if run is not None else [])]
