"""``ganzoo eval WEIGHTS``: metrics of a generator file, each beside its real-vs-real baseline.

The real data defaults to what the run trained on (``config.json`` beside the weights), at the
generator's resolution; otherwise the embedded MNIST. Prints a table and writes the full result,
protocol included, as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganzoo.build import load_dataset
from ganzoo.config import DataConfig
from ganzoo.errors import ConfigError
from ganzoo.metrics.catalogue import METRICS, format_value
from ganzoo.metrics.result import DEFAULT_NUM_SAMPLES, EvaluationResult, MetricValue
from ganzoo.registry import get_registry
from ganzoo.weights import load_generator



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
    parser.add_argument("--seed", type=int, default=0, help="latent seed of the generated samples")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--dataset", help="real dataset (default: the run's, else mnist-embedded)")
    parser.add_argument("--data-root", type=Path, help="real dataset directory")
    parser.add_argument("--split", choices=["train", "test"], help="real split for datasets that have one")
    parser.add_argument("--inception-weights", type=Path, help="FID InceptionV3 weights file (.pth)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the real-vs-real baseline")
    parser.add_argument("--out", type=Path, help="result JSON (default: eval.json beside the weights)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if not 2 <= args.num <= 1_000_000:
        raise ConfigError(f"--num must be between 2 and 1000000 (got {args.num})")
    if args.num_real is not None and args.num_real < 4:
        raise ConfigError(f"--num-real must be at least 4 (got {args.num_real})")
    from ganzoo.metrics.evaluate import evaluate  # torchmetrics loads only for this command

    generator = load_generator(args.weights, device=args.device)
    registry = get_registry()
    data = real_data_config(args, generator.image_shape)
    dataset = load_dataset(data, registry=registry)
    errors = Console(stderr=True, soft_wrap=True, emoji=False)
    result = evaluate(generator, dataset, args.metrics, backbones=args.backbone, num_samples=args.num,
                      num_real=args.num_real, seed=args.seed, split=data.split if data.name != "mnist-embedded"
                      else "test", baseline=not args.no_baseline, inception_weights=args.inception_weights,
                      registry=registry, note=lambda line: errors.print(f"[yellow]note:[/] {escape(line)}"))
    result.protocol["weights"] = str(args.weights)
    console.print(results_table(result))
    protocol = result.protocol
    console.print(f"{protocol['num_generated']:,} generated vs {protocol['num_real']:,} real "
                  f"({protocol['real_dataset']}, {protocol['real_split']} split) at "
                  f"{'x'.join(map(str, protocol['resolution']))}, seed {protocol['seed']}", soft_wrap=True)
    out = args.out or args.weights.parent / "eval.json"
    result.write_json(out)
    console.print(f"result: {out}", soft_wrap=True)
    return 0


def real_data_config(args: argparse.Namespace, image_shape: tuple[int, int, int]) -> DataConfig:
    """The run's own data section when ``config.json`` sits beside the weights; flags override it."""
    saved: dict[str, Any] = {}
    config_path = args.weights.parent / "config.json"
    if config_path.is_file():
        try:
            saved = dict(json.loads(config_path.read_text(encoding="utf-8")).get("data", {}))
        except (OSError, json.JSONDecodeError, AttributeError):
            saved = {}
    if args.dataset and args.dataset != saved.get("name"):
        saved = {}  # another dataset: the run's root and limit do not apply
    layer = {key: value for key, value in saved.items() if key in ("name", "root", "split", "limit", "download")}
    layer.update({key: value for key, value in (("name", args.dataset), ("root", args.data_root),
                                                ("split", args.split)) if value is not None})
    layer.update(image_size=image_shape[1], channels=image_shape[0])
    try:
        return DataConfig.model_validate(layer)
    except ValueError as exc:
        raise ConfigError(f"cannot evaluate against that data: {str(exc).splitlines()[0]}") from None


def results_table(result: EvaluationResult) -> Table:
    table = Table(title="Evaluation", title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("backbone")
    table.add_column("value", justify="right")
    table.add_column("real vs real", justify="right")
    table.add_column("better")
    for value in result.values:
        label = "FID" if value.name == "fid" and value.backbone == "inception" else METRICS[value.name].label
        table.add_row(label, value.backbone, _format(value, value.value, value.std),
                      "" if value.baseline is None else _format(value, value.baseline, None),
                      "lower" if value.lower_is_better else "higher")
    return table


def _format(metric: MetricValue, number: float, std: float | None) -> str:
    text = format_value(metric.name, number)
    return text if std is None else f"{text} ± {format_value(metric.name, std)}"
