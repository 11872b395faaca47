"""docs/quality_table.py prints what the runs wrote, with one real-vs-real row per resolution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "quality_table.py"


def write_run(out: Path, name: str, size: int, fid: float, baseline_fid: float) -> None:
    run = out / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"loss": {"name": "hinge"}, "strategy": {"name": "alternating"},
                                                 "ema": {"enabled": False}, "augment": {}}))
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 2, "step": 10, "images": 640, "elapsed_s": 61.0}) + "\n")
    (out / "eval").mkdir(exist_ok=True)
    (out / "eval" / f"{name}.json").write_text(json.dumps({
        "protocol": {"resolution": [1, size, size]},
        "metrics": [{"name": "fid", "backbone": "mnist-classifier", "value": fid, "baseline": baseline_fid}],
    }))


def table(out: Path, *names: str) -> list[str]:
    printed = subprocess.run([sys.executable, str(SCRIPT), str(out), *names], capture_output=True, text=True,
                             check=True).stdout
    return printed.splitlines()


def test_rows_of_two_resolutions_get_their_own_baselines(tmp_path: Path) -> None:
    write_run(tmp_path, "small", 32, 1.5, 0.011)
    write_run(tmp_path, "large", 64, 5.0, 0.022)
    lines = table(tmp_path, "small", "large")
    assert lines[2].startswith("| `small` | hinge | alternating | – | – | 2 | 10 | 640 | 1m01s | 1.500 |")
    assert lines[4].startswith("| real vs real, 32x32 | | | | | | | | | 0.011 |")
    assert lines[5].startswith("| real vs real, 64x64 | | | | | | | | | 0.022 |")
    assert len(lines) == 6


def test_one_resolution_keeps_the_plain_baseline_row(tmp_path: Path) -> None:
    write_run(tmp_path, "small", 32, 1.5, 0.011)
    assert table(tmp_path, "small")[-1].startswith("| real vs real | | | | | | | | | 0.011 |")
