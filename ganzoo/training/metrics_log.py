"""``metrics.jsonl``, the run's log: one JSON object per line, written by the metrics-log
callback (``step`` and ``epoch`` rows) and best-checkpoint evaluation (``eval`` rows)."""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    """Append-only JSONL: ``{"kind": "step"|"epoch"|"eval", "step": ..., "d_loss": ...}`` per line."""

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
