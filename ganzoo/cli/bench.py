"""``ganzoo bench VARIANT [VARIANT ...]``: compare variants under one budget and one protocol."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ganzoo.bench.config import BenchConfig, SeedResult
from ganzoo.bench.report import legend, metric_label, report_paths, rich_table, write_report
from ganzoo.bench.runner import run_bench
from ganzoo.cli.output import say
from ganzoo.config import parse_set_items, validate_model
from ganzoo.io.files import check_output_path
from ganzoo.metrics.backbones import cache_dir
from ganzoo.training.display import ProgressDisplay

FIELDS = ("dataset", "data_root", "image_size", "limit", "budget_images", "budget_seconds", "seeds", "batch_size",
          "device", "precision", "eval_points", "eval_samples", "sampling_images")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "bench", parents=[common], help="compare variants under one budget",
        description="Train each variant under the same budget, data, seeds and device, evaluate each "
                    "with the same protocol, and report speed, memory and metrics (mean ± std over seeds).")
    parser.add_argument("variants", nargs="+", metavar="VARIANT", help="variant names (see `ganzoo list`)")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-images", type=int, help="training images per run (seen by D)")
    budget.add_argument("--budget-seconds", type=float, help="training seconds per run")
    parser.add_argument("--dataset", help="dataset name (default: mnist-embedded)")
    parser.add_argument("--data-root", type=Path, help="dataset directory (MNIST root or image folder)")
    parser.add_argument("--image-size", type=int, help="square image size (default: each variant's own)")
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--seeds", type=int, help="runs per variant, seeds 0..N-1 (default 3)")
    parser.add_argument("--batch-size", type=int, help="batch size for every variant (default 64)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--eval-points", type=int, help="evaluations along training, for the curve (default 4)")
    parser.add_argument("--eval-samples", type=int, help="generated images per evaluation (default 2000)")
    parser.add_argument("--sampling-images", type=int,
                        help="images per sampling-speed measurement, one batch per sampler (default 16)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="report directory (default runs/bench)")
    parser.add_argument("--set", dest="set_items", action="append", default=[], metavar="KEY=VALUE",
                        help="config value for every variant, e.g. --set run.channels_last=true (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress display; print only the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    values = {name: value for name in FIELDS if (value := getattr(args, name)) is not None}
    config = validate_model(BenchConfig, {"variants": args.variants, "out_dir": args.out,
                                          "overrides": parse_set_items(args.set_items), **values}, "bench")
    check_output_path(config.out_dir, "--out", kind="directory")  # before hours of training, not after
    for path in report_paths(config.out_dir).values():
        check_output_path(path, "--out")
    check_output_path(cache_dir() / "reference", "GANZOO_CACHE", kind="directory")  # reference statistics
    callbacks = [] if args.quiet else [ProgressDisplay(console=console)]

    def finished(variant: str, result: SeedResult) -> None:
        if not args.quiet:
            scores = ", ".join(f"{metric_label(key)} {value:.3g}" for key, value in result.final.items()
                               if key.endswith((".fid", ".classes_covered", ".cond_accuracy")))
            say(console, f"  {variant} seed {result.seed}: {result.images:,} images in {result.train_seconds:.1f}s "
                         f"({result.images_per_second:,.0f} img/s)" + (f"; {scores}" if scores else ""))

    report = run_bench(config, callbacks=callbacks, note=None if args.quiet else lambda line: say(console, line), on_run=finished)
    paths = write_report(report, config.out_dir)
    console.print(rich_table(report))
    console.print(legend(report))
    say(console, f"report: {paths['json']}  {paths['markdown']}  {paths['plot']}")
    return 0
