"""What a run directory says about the generator it wrote: training time, steps, last metrics.

Read from ``config.json`` and the tail of ``metrics.jsonl``, with every read bounded (checked
files, ``ganzoo.io.structured``'s JSON) and every failure quiet: a run whose log is missing, cut
short or damaged (or hostile: nested ten thousand deep) still serves its generator, it just shows
fewer facts. The file names come from ``RunDirectory``, the one place they are written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.io.inputs import open_input, read_input_bytes
from ganzoo.io.structured import load_json
from ganzoo.training.rundir import RunDirectory

CONFIG_MAX_BYTES = 1 << 20
METRICS_TAIL_BYTES = 1 << 16
"""Only this much of the end of metrics.jsonl is read: the last rows are all the page shows."""
BOOKKEEPING = frozenset({"kind", "epoch", "step", "images", "elapsed_s", "images_per_s", "backbone",
                         "num_samples", "best"})
"""Fields of a metrics row that are not a metric."""


@dataclass(frozen=True)
class RunSummary:
    """The facts the page shows beside a generator; ``None`` where the run's files do not say."""

    data: str | None = None
    loss: str | None = None
    strategy: str | None = None
    training_seconds: float | None = None
    epoch: int | None = None
    step: int | None = None
    last_metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "loss": self.loss, "strategy": self.strategy,
                "training_seconds": self.training_seconds, "epoch": self.epoch, "step": self.step,
                "last_metrics": self.last_metrics}


def summarize_run(weights: Path) -> RunSummary | None:
    """The summary of the run that wrote ``weights``, or ``None`` when it does not lie in a run directory."""
    run = RunDirectory(weights.parent)
    if not run.config.is_file() and not run.metrics.is_file():
        return None
    config = _read_json_object(run.config)
    rows = _tail_rows(run.metrics)
    progress = next((row for row in reversed(rows) if row.get("kind") in ("step", "epoch")), {})
    evaluation = next((row for row in reversed(rows) if row.get("kind") == "eval"), {})
    return RunSummary(
        data=_name(config.get("data")), loss=_name(config.get("loss")), strategy=_name(config.get("strategy")),
        training_seconds=_number(progress.get("elapsed_s")), epoch=_integer(progress.get("epoch")),
        step=_integer(progress.get("step")), last_metrics={**_metrics(evaluation), **_metrics(progress)})


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = load_json(read_input_bytes(path, "run config", max_bytes=CONFIG_MAX_BYTES), "run config")
    except (OSError, GanzooError):
        return {}
    return data if isinstance(data, dict) else {}


def _tail_rows(path: Path) -> list[dict[str, Any]]:
    """The complete JSON-object lines in the last ``METRICS_TAIL_BYTES`` of ``path``."""
    try:
        with open_input(path, "metrics log") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - METRICS_TAIL_BYTES))
            lines = handle.read(METRICS_TAIL_BYTES).splitlines()
    except (OSError, GanzooError):
        return []
    if size > METRICS_TAIL_BYTES:
        lines = lines[1:]  # the first line read is probably cut
    rows = []
    for line in lines:
        try:
            row = load_json(line, "metrics log row", allow_nan=True)  # a diverged step logs NaN
        except GanzooError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _name(section: Any) -> str | None:
    name = section.get("name") if isinstance(section, dict) else None
    return name if isinstance(name, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _metrics(row: dict[str, Any]) -> dict[str, float]:
    return {str(key): float(value) for key, value in row.items()
            if key not in BOOKKEEPING and _number(value) is not None and math.isfinite(value)}
