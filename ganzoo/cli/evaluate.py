"""``ganzoo eval WEIGHTS``: metrics of a generator file, each beside its real-vs-real baseline.

The real data defaults to what the run trained on (``config.json`` beside the weights), at the
generator's resolution; otherwise the embedded MNIST. Prints a table and writes the full result,
protocol included, as JSON.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ganzoo.cli.arguments import seed
from ganzoo.cli.output import plain_console, say
from ganzoo.cli.sample import add_precision_argument, check_precision
from ganzoo.core.options import DataConfig
from ganzoo.core.registry import get_registry
from ganzoo.data.dataset import MNIST_SIDE
from ganzoo.errors import ConfigError
from ganzoo.generators.weights import load_generator
from ganzoo.io.files import check_not_an_input, check_output_path
from ganzoo.io.inputs import read_input_text
from ganzoo.io.structured import load_json
from ganzoo.metrics.backbones import cache_dir
from ganzoo.metrics.preflight import check_evaluable_shape, check_same_shape
from ganzoo.metrics.result import DEFAULT_NUM_SAMPLES, EvaluationResult
from ganzoo.training.build import load_dataset
from ganzoo.training.model_card import evaluation_markdown, update_metrics_section
from ganzoo.training.rundir import RunDirectory, inputs_of


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("eval", parents=[common], help="evaluate a generator (FID, KID, IS, P/R, coverage)",
                                   description="Evaluate a generator file against real data; every number is "
                                               "shown beside the same metric between two halves of the real data.")
    parser.add_argument("weights", type=Path, help="generator .safetensors file written by a run")
    parser.add_argument("--metrics", default="fid,kid,is,pr,coverage,accuracy",
                        help="comma list of fid, kid, is, pr, coverage, accuracy (default: all)")
    parser.add_argument("--backbone", help="comma list of mnist-classifier, inception "
                                           "(default: both for MNIST, inception otherwise)")
    parser.add_argument("--num", type=int, default=DEFAULT_NUM_SAMPLES,
                        help=f"generated samples (default {DEFAULT_NUM_SAMPLES:,})")
    parser.add_argument("--num-real", type=int, help="real samples (default: the whole real set)")
    parser.add_argument("--seed", type=seed, default=0, help="latent seed of the generated samples")
    parser.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                        help="truncation trick: redraw latent entries outside the central PSI of the prior "
                             "(0 < PSI <= 1; default 1, none); recorded in the result's protocol")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    add_precision_argument(parser, "; recorded in the result's protocol unless fp32")
    parser.add_argument("--dataset", help="real dataset (default: the run's, else mnist-embedded)")
    parser.add_argument("--data-root", type=Path, help="real dataset directory")
    parser.add_argument("--split", choices=["train", "test"], help="real split for datasets that have one")
    parser.add_argument("--inception-weights", type=Path, help="FID InceptionV3 weights file (.pth)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the real-vs-real baseline")
    parser.add_argument("--out", type=Path, help="result JSON (default: eval.json beside the weights)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.num > 1_000_000:
        raise ConfigError(f"--num must be at most 1000000 (got {args.num})")
    from ganzoo.metrics.evaluate import evaluate  # torchmetrics loads only for this command
    from ganzoo.metrics.preflight import check_sample_counts
    from ganzoo.metrics.request import EvaluationRequest, parse_metric_groups

    check_sample_counts(parse_metric_groups(args.metrics), args.num, args.num_real, baseline=not args.no_baseline,
                        names=("--num", "--num-real"))
    out = args.out or args.weights.parent / "eval.json"
    check_output_path(out, "--out")  # before the work: an evaluation takes minutes
    check_not_an_input(out, "--out", [*inputs_of(args.weights), *([args.data_root] if args.data_root else [])])
    check_output_path(cache_dir() / "reference", "GANZOO_CACHE", kind="directory")  # reference statistics
    check_precision(args.precision, args.device)

    generator = load_generator(args.weights, device=args.device)
    registry = get_registry()
    data = real_data_config(args, generator.image_shape)
    dataset = load_dataset(data, registry=registry)
    if dataset.image_shape[0] != generator.image_shape[0]:
        raise ConfigError(f"the generator in {str(args.weights)!r} makes {generator.image_shape[0]}-channel images and "
                          f"dataset {dataset.name!r} holds {dataset.image_shape[0]}-channel ones; evaluate it against "
                          "the data it was trained on (--dataset, --data-root)")
    errors = plain_console(stderr=True)
    request = EvaluationRequest(dataset=dataset, split=data.split if data.name != "mnist-embedded" else "test",
                                metrics=args.metrics, backbones=args.backbone, num_samples=args.num,
                                num_real=args.num_real, baseline=not args.no_baseline, seed=args.seed,
                                truncation=args.truncation, precision=args.precision,
                                inception_weights=args.inception_weights)
    result = evaluate(generator, request, note=lambda line: say(errors, line, label="note", style="yellow"))
    result.protocol["weights"] = str(args.weights)
    console.print(results_table(result))
    say(console, result.describe_protocol())
    result.write_json(out)
    say(console, f"result: {out}")
    card = RunDirectory(args.weights.parent).model_card
    if update_metrics_section(card, evaluation_markdown(result)):
        say(console, f"model card: {card} (metrics section updated)")
    return 0


def real_data_config(args: argparse.Namespace, image_shape: tuple[int, int, int]) -> DataConfig:
    """The run's own data section when ``config.json`` sits beside the weights; flags override it.

    The generator's image shape comes from the weights file's metadata; it must be one real data
    can be prepared at, and the one its run trained at (a file whose metadata lies is refused
    here, before anything is generated).
    """
    try:
        saved = _saved_data_section(args.weights.parent / "config.json")
    except ConfigError:
        if not args.dataset:
            raise
        saved = {}  # --dataset says what to evaluate against; the damaged config is not needed
    if args.dataset and args.dataset != saved.get("name"):
        saved = {}  # another dataset: the run's root and limit do not apply
    _check_claimed_shape(args.weights, image_shape, saved, args.dataset or saved.get("name") or "mnist-embedded")
    layer = {key: value for key, value in saved.items() if key in ("name", "root", "split", "limit", "download")}
    layer.update({key: value for key, value in (("name", args.dataset), ("root", args.data_root),
                                                ("split", args.split)) if value is not None})
    # Channels are converted only as the run itself converted them (data.channels); otherwise the
    # data keeps its own, and a generator of other channels is refused once it is loaded.
    layer.update(image_size=image_shape[1], channels=saved.get("channels"))
    try:
        return DataConfig.model_validate(layer)
    except ValueError as exc:
        raise ConfigError(f"cannot evaluate against that data: {str(exc).splitlines()[0]}") from None


def _saved_data_section(config_path: Path) -> dict[str, Any]:
    """The ``data`` section of the run's ``config.json``; ``{}`` without one. A damaged one is
    refused: evaluating against other data than the run's would give numbers that look right."""
    if not os.path.lexists(config_path):
        return {}
    text = read_input_text(config_path, "the run's config", error=ConfigError)
    try:
        saved = load_json(text, "", error=ConfigError, fix="")
        data = saved.get("data", {}) if isinstance(saved, dict) else None
        if not isinstance(data, dict):
            raise ConfigError("its data section is not a table")
    except ConfigError as exc:
        raise ConfigError(f"the run's config {str(config_path)!r} is damaged ({exc}), so the data the run trained on "
                          "is unknown; pass --dataset (and --data-root) to choose the real data") from None
    return dict(data)


def _check_claimed_shape(weights: Path, image_shape: tuple[int, int, int], saved: dict[str, Any],
                         dataset: str) -> None:
    """The shape the file claims against the run's (``config.json``) or MNIST's native 1x28x28."""
    what = f"the generator in {str(weights)!r}"
    if isinstance(saved.get("image_size"), int):
        size, channels = saved["image_size"], saved.get("channels") or image_shape[0]
        check_same_shape(image_shape, (channels, size, size), what, "the data its run trained on (config.json)",
                         fix="the file is not from the run beside it, or its metadata is wrong; move it out of the "
                             "run directory or pass --dataset")
    elif dataset in ("mnist", "mnist-embedded") and math.prod(image_shape) == MNIST_SIDE * MNIST_SIDE:
        check_same_shape(image_shape, (1, MNIST_SIDE, MNIST_SIDE), what, f"{dataset} at its native size")
    check_evaluable_shape(image_shape, what)


def results_table(result: EvaluationResult) -> Table:
    table = Table(title="Evaluation", title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("backbone")
    table.add_column("value", justify="right")
    table.add_column("real vs real", justify="right")
    table.add_column("better")
    for value in result.values:
        table.add_row(value.label, value.backbone, value.shown, value.baseline_shown,
                      "lower" if value.lower_is_better else "higher")
    return table
