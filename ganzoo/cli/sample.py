"""``ganzoo sample WEIGHTS``: images from a generator file, as one grid or one PNG each.

The output path is checked before the model loads, the memory the job needs before anything is
generated; images are decoded in chunks and written atomically, so up to 100,000 of them take
one uint8 grid (or one chunk of files) of memory, and a failed write leaves the old file.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ganzoo.cli.arguments import seed
from ganzoo.cli.output import plain_console, say
from ganzoo.core.interfaces import Generator
from ganzoo.core.sampling import SAMPLING_PRECISIONS, check_sampling_precision, seeded_inputs
from ganzoo.errors import ConfigError
from ganzoo.generators.sampling import check_sampling_memory, decode_in_chunks
from ganzoo.generators.weights import load_generator
from ganzoo.io.files import check_not_an_input, check_output_path
from ganzoo.io.images import GridLayout, to_pixels, write_grid, write_pixels
from ganzoo.runtime.devices import resolve_device
from ganzoo.runtime.precision import precision_note
from ganzoo.training.rundir import inputs_of


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sample", parents=[common], help="generate images from a weights file")
    parser.add_argument("weights", type=Path, help="generator .safetensors file written by a run")
    parser.add_argument("--num", type=int, default=64, help="number of images (default 64)")
    parser.add_argument("--out", type=Path, default=Path("samples.png"),
                        help="grid PNG path, or a directory with --format png")
    parser.add_argument("--seed", type=seed, default=0, help="latent seed; same seed, same images")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--format", choices=["grid", "png"], default="grid",
                        help="one grid image (default) or one PNG per sample in --out")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row")
    parser.add_argument("--label", type=int, help="class to generate (conditional generators)")
    parser.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                        help="truncation trick: redraw latent entries outside the central PSI of the prior's "
                             "mass (0 < PSI <= 1; default 1, none); less variety, more fidelity")
    parser.add_argument("--grid-by-class", action="store_true",
                        help="one grid row per class, --nrow images each (conditional generators)")
    add_precision_argument(parser)
    parser.set_defaults(handler=run)


def add_precision_argument(parser: argparse.ArgumentParser, recorded: str = "") -> None:
    """``--precision``, as ``sample`` and ``eval`` take it (``recorded``: what else the help says)."""
    parser.add_argument("--precision", choices=SAMPLING_PRECISIONS, default="fp32",
                        help="fp32 (default), or autocast to bf16 (CPU, CUDA) or fp16 (CUDA): faster (a DCGAN "
                             "1.5-1.9x on a CPU with avx512_bf16), and 14-30%% of the 8-bit pixels move by a few "
                             "levels" + recorded)


def check_precision(precision: str, device: str) -> None:
    """Refuse a sampling precision the device lacks; note on stderr one that will be slow there."""
    resolved = resolve_device(device)
    check_sampling_precision(precision, resolved)
    if (note := precision_note(precision, resolved)) is not None:
        say(plain_console(stderr=True), note, label="note", style="yellow")


def run(args: argparse.Namespace, console: Console) -> int:
    if args.num <= 0 or args.num > 100_000:
        raise ConfigError(f"--num must be between 1 and 100000 (got {args.num})")
    if args.nrow <= 0:
        raise ConfigError(f"--nrow must be positive (got {args.nrow})")
    if not 0.0 < args.truncation <= 1.0:  # also NaN
        raise ConfigError(f"--truncation must lie in (0, 1] (got {args.truncation}); 1 means no truncation")
    if args.grid_by_class and (args.label is not None or args.format != "grid"):
        raise ConfigError("--grid-by-class draws every class into one grid; drop --label and --format png")
    check_precision(args.precision, args.device)
    as_grid = args.format == "grid"
    check_output_path(args.out, "--out", kind="file" if as_grid else "directory", suffix=".png" if as_grid else None)
    check_not_an_input(args.out, "--out", inputs_of(args.weights))
    generator = load_generator(args.weights, device=args.device)
    labels = class_rows(generator, args.nrow) if args.grid_by_class else args.label
    num = len(labels) if isinstance(labels, torch.Tensor) else args.num
    layout = GridLayout(num, generator.image_shape, args.nrow)
    check_sampling_memory(num, generator.image_shape, layout.nbytes if as_grid else 0)
    latents, labels = seeded_inputs(generator, num, args.seed, labels, args.truncation)
    chunks = decode_in_chunks(generator, latents, labels, args.weights, precision=args.precision)
    if not as_grid:
        write_files(chunks, args.out)
        say(console, f"wrote {num} PNG files to {args.out}/")
        return 0
    write_grid(chunks, layout, args.out)
    if args.grid_by_class:
        say(console, f"wrote {generator.num_classes} rows (one per class) of {args.nrow} samples to {args.out}")
    else:
        say(console, f"wrote a grid of {num} samples to {args.out}")
    return 0


def class_rows(generator: Generator, nrow: int) -> torch.Tensor:
    """Row k shows ``nrow`` samples of class k, so classes can be compared at a glance."""
    if generator.num_classes is None:
        raise ConfigError("--grid-by-class needs a conditional generator (e.g. one trained with cgan-mlp); "
                          "this one is unconditional")
    return torch.arange(generator.num_classes).repeat_interleave(nrow)


def write_files(chunks: Iterable[torch.Tensor], directory: Path) -> None:
    """``sample-NNNNN.png`` per image, each written atomically as its chunk arrives."""
    index = 0
    for images in chunks:
        for pixels in to_pixels(images):
            write_pixels(pixels, directory / f"sample-{index:05d}.png")
            index += 1
