"""Print the results table of docs/pages/quality.md from the runs of docs/quality-runs.sh.

    python docs/quality_table.py runs/quality [ROW ...]

Each row reads OUT/ROW/config.json (loss, strategy, EMA, augmentation), the last line of
OUT/ROW/metrics.jsonl (epochs, images, wall time) and OUT/eval/ROW.json (the metrics, with the
real-vs-real baseline), so the page shows exactly what the runs wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [("fid", "{:.3f}"), ("kid", "{:.4f}"), ("classes_covered", "{:.0f}"), ("coverage_kl", "{:.3f}"),
           ("is", "{:.2f}"), ("precision", "{:.2f}"), ("recall", "{:.2f}"), ("cond_accuracy", "{:.1%}")]
HEADER = ("| run | loss | strategy | EMA | DiffAugment | epochs | G steps | images seen | wall time | FD ↓ | KID ↓ "
          "| classes covered ↑ | KL to real ↓ | IS ↑ | precision ↑ | recall ↑ | cond. accuracy ↑ |")


def last_log_row(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [row for row in rows if "images" in row][-1]


def metrics(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    values = json.loads(path.read_text())["metrics"]
    chosen = [v for v in values if v["backbone"] == "mnist-classifier"]
    return ({v["name"]: v["value"] for v in chosen},
            {v["name"]: v["baseline"] for v in chosen if v["baseline"] is not None})


def cells(values: dict[str, float]) -> list[str]:
    return [form.format(values[name]) if name in values else "–" for name, form in COLUMNS]


def row(out: Path, name: str) -> str:
    config = json.loads((out / name / "config.json").read_text())
    log = last_log_row(out / name)
    values, _ = metrics(out / "eval" / f"{name}.json")
    minutes, seconds = divmod(round(log["elapsed_s"]), 60)
    augment = config.get("augment", {})
    policy = ",".join(augment.get("policy", [])) or "–"
    if augment.get("target") is not None:
        policy += ", ADA"  # the probability adapted to augment.target, not 1
    ema = f"{config['ema']['decay']:g}" if config.get("ema", {}).get("enabled") else "–"
    loss = (config.get("loss") or {}).get("name", "–")  # a variant without a discriminator has no GAN loss
    return " | ".join(["", f"`{name}`", loss, config["strategy"]["name"], ema, policy,
                       str(log["epoch"]), f"{log['step']:,}", f"{log['images']:,}", f"{minutes}m{seconds:02d}s",
                       *cells(values), ""]).strip()


def main(out: Path, names: list[str]) -> None:
    names = names or sorted(path.stem for path in (out / "eval").glob("*.json"))
    print(HEADER)
    print("|---|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name in names:
        print(row(out, name))
    baselines: dict[tuple[int, ...], dict[str, float]] = {}
    for name in names:  # one real-vs-real per resolution; conditional rows add accuracy's baseline
        evaluation = out / "eval" / f"{name}.json"
        baselines.setdefault(resolution(evaluation), {}).update(metrics(evaluation)[1])
    for shape, baseline in baselines.items():
        label = "real vs real" if len(baselines) == 1 else f"real vs real, {shape[-2]}x{shape[-1]}"
        print(f"| {label} | | | | | | | | | " + " | ".join(cells(baseline)) + " |")


def resolution(path: Path) -> tuple[int, ...]:
    """The (C, H, W) the evaluation compared at: rows of different sizes have different baselines."""
    return tuple(json.loads(path.read_text())["protocol"]["resolution"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
