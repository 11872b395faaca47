"""``ganzoo export WEIGHTS --format onnx|torchscript|exported-program --out FILE``.

The output path and the exporter's packages are checked before the weights load; the file is
written atomically and then run on fixed latents against the generator it came from, so a file
this command writes is one that gives the same images (``ganzoo.generators.export.check_export``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ganzoo.cli.output import say
from ganzoo.generators.export import (
    EXTRA,
    SUFFIXES,
    TOLERANCE,
    check_export,
    export_generator,
    onnxruntime_missing,
    require_exporter,
)
from ganzoo.generators.weights import load_generator, read_generator_metadata
from ganzoo.io.files import check_not_an_input, check_output_path
from ganzoo.training.rundir import inputs_of


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("export", parents=[common], help="export a generator to ONNX, TorchScript or .pt2",
                                   description="Export a generator file for use outside ganzoo; the exported model "
                                               "is checked against the generator on fixed latents.")
    parser.add_argument("weights", type=Path, help="generator .safetensors file written by a run")
    parser.add_argument("--format", required=True, choices=list(SUFFIXES),
                        help="onnx (.onnx), torchscript (.pt) or exported-program (torch.export, .pt2)")
    parser.add_argument("--out", type=Path, required=True, help="the exported file (.onnx, .pt or .pt2)")
    parser.add_argument("--no-check", action="store_true", help="skip running the export against the generator")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    check_output_path(args.out, "--out", suffix=SUFFIXES[args.format])
    check_not_an_input(args.out, "--out", inputs_of(args.weights))
    require_exporter(args.format)
    metadata = read_generator_metadata(args.weights)
    generator = load_generator(args.weights, device="cpu")
    export_generator(generator, metadata, args.format, args.out)
    size_mb = args.out.stat().st_size / 1e6
    say(console, f"exported {metadata.variant} to {args.out} ({args.format}, {size_mb:.1f} MB)")
    if args.no_check:
        return 0
    if onnxruntime_missing(args.format):
        say(console, f"not checked: running the ONNX file needs onnxruntime; {EXTRA}", label="note", style="yellow")
        return 0
    difference = check_export(args.out, args.format, generator)
    say(console, f"checked: its images match the generator's within {TOLERANCE:g} (largest difference "
                  f"{difference:.1g})")
    return 0
