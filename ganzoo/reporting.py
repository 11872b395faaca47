"""What a run shows and writes about itself: the progress display, the metrics log, sample grids
and the loss curve. The engine calls these; nothing here changes training."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from torch import Tensor

STAT_LABELS = {"d_loss": "D", "g_loss": "G", "d_real": "D(x)", "d_fake": "D(G(z))", "wasserstein": "W"}


def format_stats(stats: Mapping[str, float]) -> str:
    return "  ".join(f"{STAT_LABELS.get(k, k)} {v:.3f}" for k, v in stats.items())


class StatTracker:
    """Sums step statistics on the device; the host reads them only when it logs.

    Reading a CUDA tensor forces a synchronisation, so a step never does it; ``flush`` does,
    every ``log_every_steps``. ``first_nonfinite_step`` records, on the device, the first step
    whose losses were NaN or Inf, so divergence is pinned to its step without a sync per step.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.sums: dict[str, Tensor] = {}
        self.count = 0
        self.first_nonfinite_step = torch.full((), -1, dtype=torch.long, device=device)

    def add(self, stats: Mapping[str, Tensor], step: int, grads_finite: Tensor | None = None) -> None:
        """Accumulate one step; ``grads_finite`` (a device bool) joins the divergence record."""
        for name, value in stats.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        finite = torch.isfinite(torch.stack([stats["d_loss"].float(), stats["g_loss"].float()])).all()
        if grads_finite is not None:
            finite = finite & grads_finite
        unseen = self.first_nonfinite_step < 0
        self.first_nonfinite_step = torch.where(unseen & ~finite, step, self.first_nonfinite_step)
        self.count += 1

    def diverged_at(self) -> int | None:
        step = int(self.first_nonfinite_step)
        return None if step < 0 else step

    def flush(self) -> dict[str, float]:
        if not self.count:
            return {}
        means = torch.stack(list(self.sums.values())).div(self.count).tolist()
        result = dict(zip(self.sums, means))
        self.sums, self.count = {}, 0
        return result


class MetricsLog:
    """Append-only JSONL: ``{"kind": "step"|"epoch", "step": ..., "d_loss": ...}`` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, kind: str, **fields: float | int | str) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **fields}) + "\n")

    def read(self, kind: str = "step") -> list[dict[str, float]]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("kind") == kind:
                rows.append(row)
        return rows


def save_sample_grid(images: Tensor, path: Path, nrow: int = 8) -> None:
    """Images in [-1, 1] as one PNG grid (torchvision's ``make_grid`` layout; one image is saved
    as itself, with no padding)."""
    from torchvision.utils import save_image  # imported on use: torchvision takes seconds to import

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.detach().float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)


def plot_loss_curve(rows: list[dict[str, float]], path: Path, keys: tuple[str, ...] = ("d_loss", "g_loss")) -> None:
    """D and G loss against the training step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for key in keys:
        points = [(row["step"], row[key]) for row in rows if key in row]
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values, label=STAT_LABELS.get(key, key) + " loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


class ProgressDisplay:
    """The live rich display: epoch, step, losses, D(x), D(G(z)), images/s and ETA."""

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task = None

    @contextmanager
    def session(self, total_steps: int | None, completed: int) -> Iterator[ProgressDisplay]:
        """Show progress for one call of ``train``. ``total_steps`` is None when a time budget
        ends the run: the bar then shows the elapsed time instead of a step-based ETA."""
        if self.quiet:
            yield self
            return
        clock = TimeRemainingColumn() if total_steps is not None else TimeElapsedColumn()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TextColumn("{task.fields[speed]}"), clock,
            console=self.console, transient=False,
        )
        self._task = self._progress.add_task("training", total=total_steps, completed=completed,
                                             stats="", speed="")
        with self._progress:
            yield self
        self._progress = None

    def update(self, *, epoch: int, epochs: int | None, step: int, stats: Mapping[str, float] | None = None,
               images_per_second: float | None = None) -> None:
        """``epochs`` is None when the epoch count is not what ends the run (a step or time budget)."""
        if self._progress is None:
            return
        fields = {"description": f"epoch {epoch}/{epochs}" if epochs is not None else f"epoch {epoch}",
                  "completed": step}
        if stats is not None:
            fields["stats"] = format_stats(stats)
        if images_per_second is not None:
            fields["speed"] = f"{images_per_second:,.0f} img/s"
        self._progress.update(self._task, **fields)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)

    def resumed(self, run_dir: Path, *, epoch: int, step: int) -> None:
        """The engine picked a run up from its last checkpoint; say where, so a user sees it did."""
        self.note(f"resuming {run_dir} at epoch {epoch}, step {step}")


class Throughput:
    """Images per second between two log points."""

    def __init__(self) -> None:
        self._time, self._images = time.perf_counter(), 0

    def measure(self, images_seen: int) -> float:
        now = time.perf_counter()
        rate = (images_seen - self._images) / max(now - self._time, 1e-9)
        self._time, self._images = now, images_seen
        return rate

    def reset(self, images_seen: int) -> None:
        self._time, self._images = time.perf_counter(), images_seen
