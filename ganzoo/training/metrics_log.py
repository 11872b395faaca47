"""``metrics.jsonl``, the run's log: one JSON object per line, written by the metrics-log
callback (``step`` and ``epoch`` rows) and best-checkpoint evaluation (``eval`` rows).

Each row is appended with one write of the whole line (``ganzoo.io.files.append_line``), so a
failed append (a full disk, a kill) can at worst leave the last line cut short: ``read`` skips
it, and ``RunDirectory.truncate_metrics`` drops it when the run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.io.files import append_line
from ganzoo.io.inputs import read_input_bytes
from ganzoo.io.structured import load_json


class MetricsLog:
    """Append-only JSONL: ``{"kind": "step"|"epoch"|"eval", "step": ..., "d_loss": ...}`` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, kind: str, **fields: float | int | str) -> None:
        append_line(json.dumps({"kind": kind, **fields}), self.path)

    def read(self, kind: str = "step") -> list[dict[str, float]]:
        if not self.path.exists():
            return []
        rows = []
        data = read_input_bytes(self.path, "metrics log", max_bytes=None)
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                row = load_json(line, "metrics log row", allow_nan=True)
            except GanzooError:
                continue  # a line cut short by a crash or a full disk: resume rewrites it
            if isinstance(row, dict) and row.get("kind") == kind:
                rows.append(row)
        return rows
