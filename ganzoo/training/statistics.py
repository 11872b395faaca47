"""Step statistics summed on the device, images per second, and the run's training clock."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor


class StatTracker:
    """Sums step statistics on the device; the host reads them only when it logs, as the mean
    over the steps that reported each one.

    Reading a CUDA tensor forces a synchronisation, so a step never does it; ``flush`` does,
    every ``log_every_steps``. ``first_nonfinite_step`` records, on the device, the first step
    whose losses (or gradients) were NaN or Inf, so divergence is pinned to its step without a
    sync per step.
    """

    def __init__(self, device: torch.device, watched: tuple[str, ...] = ("d_loss", "g_loss")) -> None:
        self.device = device
        self.watched = watched  # the losses whose NaN/Inf is a divergence: the game's required statistics
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}
        self.count = 0
        self.first_nonfinite_step = torch.full((), -1, dtype=torch.long, device=device)

    def add(self, stats: Mapping[str, Tensor], step: int, grads_finite: Tensor | None = None) -> None:
        """Accumulate one step; ``grads_finite`` (a device bool) joins the divergence record."""
        for name, value in stats.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
            self.counts[name] = self.counts.get(name, 0) + 1  # a lazy penalty is not logged every step
        finite = torch.isfinite(torch.stack([stats[name].float() for name in self.watched])).all()
        if grads_finite is not None:
            finite = finite & grads_finite
        unseen = self.first_nonfinite_step < 0
        self.first_nonfinite_step = torch.where(unseen & ~finite, step, self.first_nonfinite_step)
        self.count += 1

    def state_dict(self) -> dict[str, object]:
        """The sums of the log window still open, for a checkpoint: a resumed run then logs the
        same means as one never interrupted. Only a finite state is ever checkpointed."""
        return {"sums": dict(self.sums), "counts": dict(self.counts), "count": self.count}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        sums = state["sums"]
        assert isinstance(sums, Mapping)
        self.sums = {name: value.to(self.device) for name, value in sums.items()}
        self.counts = dict(state["counts"])  # type: ignore[call-overload]
        self.count = int(state["count"])  # type: ignore[call-overload]

    def diverged_at(self) -> int | None:
        step = int(self.first_nonfinite_step)
        return None if step < 0 else step

    def flush(self) -> dict[str, float]:
        if not self.count:
            return {}
        counts = torch.tensor([self.counts[name] for name in self.sums], dtype=torch.float32, device=self.device)
        means = (torch.stack(list(self.sums.values())) / counts).tolist()
        result = dict(zip(self.sums, means))
        self.sums, self.counts, self.count = {}, {}, 0
        return result


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


class Stopwatch:
    """Training time: wall time since the start (plus ``offset``, the time of earlier sessions),
    less what callbacks spent inside ``paused()`` (evaluations are not training)."""

    def __init__(self, offset: float = 0.0) -> None:
        self._start = time.perf_counter() - offset
        self._paused_at: float | None = None

    def elapsed(self) -> float:
        now = self._paused_at if self._paused_at is not None else time.perf_counter()
        return now - self._start

    @contextmanager
    def paused(self) -> Iterator[None]:
        if self._paused_at is not None:  # already paused by an outer caller
            yield
            return
        self._paused_at = time.perf_counter()
        try:
            yield
        finally:
            self._start += time.perf_counter() - self._paused_at
            self._paused_at = None
