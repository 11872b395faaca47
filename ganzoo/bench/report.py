"""How a benchmark report is shown and stored: one table (rich on screen, Markdown on disk),
the full JSON, and a PNG of each metric against training images.

The screen and the Markdown file are built from the same rows, so they never disagree.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from rich import box
from rich.table import Table

from ganzoo.bench.config import BenchReport, VariantResult
from ganzoo.io.files import atomic_write_figure, atomic_write_text
from ganzoo.metrics.catalogue import METRICS, lower_is_better

TABLE_METRICS = [metric for metric in METRICS.values() if metric.short is not None]
"""The metrics the table shows (the JSON has every one), in catalogue order."""
TRAINING_CURVE_KEYS = ("train.d_loss", "train.g_loss")
FINAL_AND_BEST = ("Metrics at the end of training, mean±std over seeds, and (their best along training); "
                  "sample img/s: the trained generator's sampling speed with each of its samplers")


def metric_label(key: str) -> str:
    """``mnist-classifier.fid`` -> ``FD``; Inception's numbers are marked, its FD is the standard FID."""
    backbone, _, name = key.rpartition(".")
    metric = METRICS.get(name)
    short = metric.short or metric.label if metric else None
    if backbone == "inception":
        return "FID" if name == "fid" else f"{short or name} (Inception)"
    return short or key


def metric_names(report: BenchReport) -> list[str]:
    """The ``backbone.metric`` keys the table and plot show, in catalogue order."""
    found = {key.partition(".")[2] for variant in report.variants for key in variant.summary
             if key.startswith("final.")}
    return [key for metric in TABLE_METRICS for key in sorted(found) if key.rpartition(".")[2] == metric.name]


def sampler_labels(report: BenchReport) -> list[str]:
    """The samplers timed in any variant (``Generator.samplers``), fewest steps first."""
    labels = {key.removeprefix("sampling."): None for variant in report.variants for key in variant.summary
              if key.startswith("sampling.")}
    return sorted(labels, key=lambda label: int("".join(filter(str.isdigit, label)) or 0))


def _pm(summary: dict[str, dict[str, float]], key: str, scale: float = 1.0, digits: int = 1) -> str:
    if key not in summary:
        return "-"
    stats = summary[key]
    mean, std = stats["mean"] / scale, stats["std"] / scale
    return f"{mean:,.{digits}f}±{std:,.{digits}f}" if stats["n"] > 1 else f"{mean:,.{digits}f}"


def _digits(value: float) -> int:
    """Decimals for about three significant digits: 0.263, 2.48, 16.7, 112."""
    return 3 if abs(value) < 1 else 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0


def table_rows(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """Headers (the variants, then the real-vs-real baseline) and one row per measure: speed,
    memory, then each metric's final value (mean±std over seeds) with its best along training
    (mean over seeds) in brackets.

    Variants are columns so that a metric reads across, next to what a perfect generator scores,
    and so that the table stays narrow enough for a terminal.
    """
    baseline = report.protocol.get("evaluation", {}).get("real_vs_real", {})
    headers = ["", *(variant.variant for variant in report.variants), "real vs real"]
    rows = [
        ["train img/s", *(_pm(v.summary, "images_per_second", digits=0) for v in report.variants), ""],
        ["train s", *(_pm(v.summary, "train_seconds") for v in report.variants), ""],
        ["peak MiB", *(_pm(v.summary, "peak_memory_bytes", scale=2**20, digits=0) for v in report.variants), ""],
    ]
    for sampler in sampler_labels(report):  # the cost of sampling beside the quality: 1 step, DDIM 50 steps ...
        key = f"sampling.{sampler}"
        rows.append([f"sample img/s, {sampler}", *(_pm(v.summary, key, digits=_digits(v.summary[key]["mean"]))
                                                   if key in v.summary else "-" for v in report.variants), ""])
    for name in metric_names(report):
        row = [metric_label(name)]
        for variant in report.variants:
            final, best = f"final.{name}", f"best.{name}"
            if final not in variant.summary:
                row.append("-")
                continue
            digits = _digits(variant.summary[final]["mean"])
            row.append(f"{_pm(variant.summary, final, digits=digits)} ({variant.summary[best]['mean']:,.{digits}f})")
        perfect = baseline.get(name)
        row.append("-" if perfect is None else f"{perfect:,.{_digits(perfect)}f}")
        rows.append(row)
    return headers, rows


def protocol_line(report: BenchReport) -> str:
    p = report.protocol
    budget = (f"{p['budget']['images']:,} images" if "images" in p["budget"] else f"{p['budget']['seconds']:g} s")
    evaluation = p["evaluation"]
    judged = (f"{', '.join(evaluation['backbones'])} features, {evaluation['num_generated']:,} generated vs "
              f"{evaluation['num_real']:,} real ({evaluation['real_dataset']}, {evaluation['real_split']} split) "
              f"at {'x'.join(map(str, evaluation['resolution']))}; "
              "real vs real = two disjoint halves of the real images" if evaluation.get("backbones") else "none ran")
    sampling = p.get("sampling")
    timed = f"; sampling timed on {sampling['images']} images in one batch" if sampling else ""
    return (f"{p['dataset']}, budget {budget} per run, seeds {p['seeds']}, batch {p['batch_size']}, "
            f"{p['device_name']} ({p['device']}, precision {p['precision']}); metrics: {judged}{timed}")


def rich_table(report: BenchReport) -> Table:
    """The table alone; print ``legend(report)`` under it (as a line of its own, so that it wraps
    at the terminal's width rather than the table's)."""
    headers, rows = table_rows(report)
    table = Table(title="ganzoo bench", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, header in enumerate(headers):
        # a narrow terminal folds a number onto two lines rather than cutting it short
        table.add_column(header, justify="left" if index == 0 else "right", overflow="fold",
                         header_style="bold", style="dim" if index == len(headers) - 1 else None)
    for row in rows:
        table.add_row(*row)
    return table


def legend(report: BenchReport) -> str:
    """What the numbers are and the protocol they were measured under."""
    return f"{FINAL_AND_BEST}. Protocol: {protocol_line(report)}."


def markdown_table(report: BenchReport) -> str:
    headers, rows = table_rows(report)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(["# ganzoo bench", "", *lines, "", legend(report), ""])


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
    columns = min(3, len(keys))
    rows = -(-len(keys) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), dpi=100, squeeze=False)
    for axis in axes.flat[len(keys):]:
        axis.set_visible(False)
    for axis, key in zip(axes.flat, keys):
        for index, variant in enumerate(report.variants):
            colour = f"C{index}"  # a variant keeps its colour in every panel, even where others have no line
            xs, means, lows, highs = _mean_curve(variant, key)
            if xs:
                axis.plot(xs, means, marker="o", label=variant.variant, color=colour)
                axis.fill_between(xs, lows, highs, alpha=0.2, color=colour)
        label = metric_label(key)
        hint = "" if key.startswith("train.") else (" (lower is better)" if lower_is_better(key)
                                                     else " (higher is better)")
        axis.set_title(label + hint)
        axis.set_xlabel("training images")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    try:
        atomic_write_figure(figure, path)
    finally:
        plt.close(figure)


def report_paths(out_dir: Path) -> dict[str, Path]:
    """Where ``write_report`` puts ``bench.json``, ``bench.md`` and ``bench.png``."""
    return {"json": out_dir / "bench.json", "markdown": out_dir / "bench.md", "plot": out_dir / "bench.png"}


def write_report(report: BenchReport, out_dir: Path) -> dict[str, Path]:
    """``bench.json`` (everything), ``bench.md`` (the table and protocol) and ``bench.png``, each
    written atomically: a failure leaves each file as it was or complete."""
    paths = report_paths(out_dir)
    atomic_write_text(json.dumps(report.to_dict(), indent=2) + "\n", paths["json"])
    atomic_write_text(markdown_table(report), paths["markdown"])
    plot_curves(report, paths["plot"])
    return paths
