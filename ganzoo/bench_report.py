"""How a benchmark report is shown and stored: one table (rich on screen, Markdown on disk),
the full JSON, and a PNG of each metric against training images.

The screen and the Markdown file are built from the same rows, so they never disagree.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from rich.table import Table

from ganzoo.bench import BenchReport, VariantResult
from ganzoo.bench_eval import lower_is_better

METRIC_LABELS = {"fd": "FD", "kid": "KID", "coverage": "coverage", "is": "IS", "fid": "FID"}
TRAINING_CURVE_KEYS = ("train.d_loss", "train.g_loss")


def metric_names(report: BenchReport) -> list[str]:
    names: list[str] = []
    for variant in report.variants:
        for key in variant.summary:
            prefix, _, name = key.partition(".")
            if prefix == "final" and name not in names:
                names.append(name)
    return names


def _pm(summary: dict[str, dict[str, float]], key: str, scale: float = 1.0, digits: int = 1) -> str:
    if key not in summary:
        return "-"
    stats = summary[key]
    mean, std = stats["mean"] / scale, stats["std"] / scale
    return f"{mean:,.{digits}f} ± {std:,.{digits}f}" if stats["n"] > 1 else f"{mean:,.{digits}f}"


def _digits(value: float) -> int:
    return 4 if abs(value) < 0.1 else 3 if abs(value) < 10 else 2


def table_rows(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per variant: speed, memory, then final and best of each metric."""
    names = metric_names(report)
    headers = ["variant", "train img/s", "train s", "peak MiB"]
    for name in names:
        label = METRIC_LABELS.get(name, name)
        headers += [f"{label} final", f"{label} best"]
    rows = []
    for variant in report.variants:
        summary = variant.summary
        row = [variant.variant, _pm(summary, "images_per_second", digits=0), _pm(summary, "train_seconds"),
               _pm(summary, "peak_memory_bytes", scale=2**20, digits=0)]
        for name in names:
            for prefix in ("final", "best"):
                key = f"{prefix}.{name}"
                digits = _digits(summary[key]["mean"]) if key in summary else 1
                row.append(_pm(summary, key, digits=digits))
        rows.append(row)
    return headers, rows


def protocol_line(report: BenchReport) -> str:
    p = report.protocol
    budget = (f"{p['budget']['images']:,} images" if "images" in p["budget"] else f"{p['budget']['seconds']:g} s")
    evaluation = p["evaluation"]
    judged = (f"{evaluation.get('backbone', '?')} on {evaluation.get('num_samples', '?')} samples vs "
              f"{evaluation.get('reference', '?')}" if evaluation.get("available") else evaluation.get("reason", ""))
    return (f"{p['dataset']}, budget {budget} per run, seeds {p['seeds']}, batch {p['batch_size']}, "
            f"{p['device_name']} ({p['device']}, precision {p['precision']}); metrics: {judged}; "
            f"mean ± std over seeds")


def rich_table(report: BenchReport) -> Table:
    headers, rows = table_rows(report)
    table = Table(title="ganzoo bench", caption=protocol_line(report), title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right", style="bold" if index == 0 else None)
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(report: BenchReport) -> str:
    headers, rows = table_rows(report)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(["# ganzoo bench", "", *lines, "", f"Protocol: {protocol_line(report)}.", ""])


def _mean_curve(variant: VariantResult, key: str) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per curve point: mean images, and mean/min/max of ``key`` over seeds."""
    points = min(len(seed.curve) for seed in variant.seeds)
    xs, means, lows, highs = [], [], [], []
    for index in range(points):
        rows = [seed.curve[index] for seed in variant.seeds if key in seed.curve[index]]
        if not rows:
            continue
        values = [row[key] for row in rows]
        xs.append(statistics.fmean(row["images"] for row in rows))
        means.append(statistics.fmean(values))
        lows.append(min(values))
        highs.append(max(values))
    return xs, means, lows, highs


def plot_curves(report: BenchReport, path: Path) -> None:
    """One panel per metric (the training losses when no metric ran), one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = metric_names(report) or list(TRAINING_CURVE_KEYS)
    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6), dpi=100, squeeze=False)
    for axis, key in zip(axes[0], keys):
        for variant in report.variants:
            xs, means, lows, highs = _mean_curve(variant, key)
            if xs:
                axis.plot(xs, means, marker="o", label=variant.variant)
                axis.fill_between(xs, lows, highs, alpha=0.2)
        label = METRIC_LABELS.get(key, key)
        hint = "" if key.startswith("train.") else (" (lower is better)" if lower_is_better(key)
                                                     else " (higher is better)")
        axis.set_title(label + hint)
        axis.set_xlabel("training images")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def write_report(report: BenchReport, out_dir: Path) -> dict[str, Path]:
    """``bench.json`` (everything), ``bench.md`` (the table and protocol) and ``bench.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "markdown": out_dir / "bench.md", "plot": out_dir / "bench.png"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown_table(report), encoding="utf-8")
    plot_curves(report, paths["plot"])
    return paths
