"""``--logger tensorboard``: a run's scalars, sample grids and config as TensorBoard event files.

Events go to ``runs/NAME/tensorboard/`` (``RunDirectory.tensorboard``), so ``tensorboard --logdir
runs/`` shows every run side by side. Scalars are the same means ``metrics.jsonl`` records, at
the same global steps; images are the sample grids ``SampleGrids`` has just written (read back
from their PNG, so the fixed latents are sampled once, not twice); the resolved config is both
a text block and hyperparameters for TensorBoard's HParams tab. A resumed or rolled-back run
appends to the same log with ``purge_step``, so TensorBoard drops the rows past the checkpoint.

TensorBoard is an optional extra (``pip install 'ganzoo[tensorboard]'``): without it, asking for
this logger fails in one line while the run is built, before any training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganzoo.core.callback import Callback
from ganzoo.errors import ConfigError

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

    from ganzoo.training.view import TrainingRunView

MISSING_EXTRA = "--logger tensorboard needs the tensorboard extra: pip install 'ganzoo[tensorboard]'"
SAMPLES_TAG = "samples"
CONFIG_TAG = "config"
HPARAM_METRICS = ("d_loss", "g_loss")
"""Scalar tags the HParams tab shows beside each run's hyperparameters."""


def require_tensorboard() -> None:
    """Refuse, in one line naming the extra, a run that asks for TensorBoard without it installed."""
    try:
        import tensorboard  # noqa: F401  (SummaryWriter needs the package, not only torch)
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, int | float | str | bool]:
    """``{"run": {"epochs": 5}}`` -> ``{"run.epochs": 5}``: hyperparameters are flat and scalar.

    Lists (``optimizer.betas``, ``run.callbacks``) become their JSON text; ``None`` is left out,
    as TensorBoard has no value for it.
    """
    flat: dict[str, int | float | str | bool] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = json.dumps(value, sort_keys=True)
    return flat


class TensorBoardLogger(Callback):
    """Writes one TensorBoard run per ganzoo run; the writer lives from ``on_start`` to ``on_end``."""

    def __init__(self, options: Any = None) -> None:
        require_tensorboard()
        self.writer: SummaryWriter | None = None
        self.logged_grids: set[Path] = set()

    def on_start(self, run: TrainingRunView) -> None:
        resumed = run.progress.global_step > 0
        self.open(run)
        if not resumed:
            self.write_config(run)

    def on_resume(self, run: TrainingRunView, reason: str) -> None:
        if reason == "rollback":  # the open writer would keep the steps being trained again
            self.close()
            self.open(run)

    def on_log(self, run: TrainingRunView, stats: Mapping[str, float]) -> None:
        step = run.progress.global_step
        for name, value in stats.items():
            self.writer.add_scalar(name, value, step)
        self.writer.add_scalar("images_per_s", run.images_per_second, step)

    def on_epoch_end(self, run: TrainingRunView, epoch: int) -> None:
        self.add_sample_grid(run, epoch)

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        if error is None:
            self.add_sample_grid(run, max(run.progress.epoch, 1))  # the final grid, when one was added at the end
        self.close()

    def open(self, run: TrainingRunView) -> None:
        from torch.utils.tensorboard import SummaryWriter

        step = run.progress.global_step
        self.writer = SummaryWriter(log_dir=str(run.run_dir.tensorboard), purge_step=step + 1 if step else None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def write_config(self, run: TrainingRunView) -> None:
        """The resolved config as a JSON text block and as HParams-tab hyperparameters."""
        from torch.utils.tensorboard.summary import hparams

        config = run.config_record
        self.writer.add_text(CONFIG_TAG, "```json\n" + json.dumps(config, indent=2, sort_keys=True) + "\n```", 0)
        experiment, start, end = hparams(flatten_config(config), {name: 0.0 for name in HPARAM_METRICS})
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, start, end):
            file_writer.add_summary(summary, 0)

    def add_sample_grid(self, run: TrainingRunView, epoch: int) -> None:
        """The grid ``SampleGrids`` wrote for ``epoch`` (standard callbacks run before this one)."""
        path = run.run_dir.sample_grid(epoch)
        if path in self.logged_grids or not path.is_file():
            return
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L" if image.mode in ("L", "I;16") else "RGB"))
        self.writer.add_image(SAMPLES_TAG, pixels, run.progress.global_step,
                              dataformats="HW" if pixels.ndim == 2 else "HWC")
        self.logged_grids.add(path)
