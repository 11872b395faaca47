"""``ganzoo sample WEIGHTS``: images from a generator file, as one grid or one PNG each."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ganzoo.errors import ConfigError
from ganzoo.interfaces import Generator
from ganzoo.images import save_sample_grid
from ganzoo.weights import load_generator


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sample", parents=[common], help="generate images from a weights file")
    parser.add_argument("weights", type=Path, help="generator .safetensors file written by a run")
    parser.add_argument("--num", type=int, default=64, help="number of images (default 64)")
    parser.add_argument("--out", type=Path, default=Path("samples.png"),
                        help="grid PNG path, or a directory with --format png")
    parser.add_argument("--seed", type=int, default=0, help="latent seed; same seed, same images")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--format", choices=["grid", "png"], default="grid",
                        help="one grid image (default) or one PNG per sample in --out")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row")
    parser.add_argument("--label", type=int, help="class to generate (conditional generators)")
    parser.add_argument("--grid-by-class", action="store_true",
                        help="one grid row per class, --nrow images each (conditional generators)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.num <= 0 or args.num > 100_000:
        raise ConfigError(f"--num must be between 1 and 100000 (got {args.num})")
    if args.nrow <= 0:
        raise ConfigError(f"--nrow must be positive (got {args.nrow})")
    generator = load_generator(args.weights, device=args.device)
    if args.grid_by_class:
        return run_grid_by_class(args, generator, console)
    images = generator.sample(args.num, seed=args.seed, labels=args.label)
    if args.format == "grid":
        if args.out.suffix.lower() != ".png":
            raise ConfigError(f"--out {str(args.out)!r} must end in .png for a grid (or use --format png DIR)")
        save_sample_grid(images, args.out, nrow=args.nrow)
        console.print(f"wrote a grid of {args.num} samples to {args.out}", soft_wrap=True)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        save_sample_grid(image.unsqueeze(0), args.out / f"sample-{index:05d}.png")
    console.print(f"wrote {args.num} PNG files to {args.out}/", soft_wrap=True)
    return 0


def run_grid_by_class(args: argparse.Namespace, generator: Generator, console: Console) -> int:
    """Row k shows ``--nrow`` samples of class k, so classes can be compared at a glance."""
    if generator.num_classes is None:
        raise ConfigError("--grid-by-class needs a conditional generator (e.g. one trained with cgan-mlp); "
                          "this one is unconditional")
    if args.label is not None or args.format != "grid":
        raise ConfigError("--grid-by-class draws every class into one grid; drop --label and --format png")
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out {str(args.out)!r} must end in .png")
    labels = torch.arange(generator.num_classes).repeat_interleave(args.nrow)
    images = generator.sample(len(labels), seed=args.seed, labels=labels)
    save_sample_grid(images, args.out, nrow=args.nrow)
    console.print(f"wrote {generator.num_classes} rows (one per class) of {args.nrow} samples to {args.out}",
                  soft_wrap=True)
    return 0
