"""``ganzoo interpolate WEIGHTS``: walk between seeded latents, one grid row per pair.

Each row starts and ends at two latents drawn from ``--seed`` and shows ``--steps`` images
along a straight line (``linear``) or a great circle (``slerp``, the default) between them. A
conditional generator keeps one class along each row: ``--label`` for all rows, otherwise a
seeded random class per row.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from einops import rearrange
from rich.console import Console

from ganzoo.cli.arguments import seed
from ganzoo.cli.output import say
from ganzoo.cli.sample import add_precision_argument, check_precision
from ganzoo.core.sampling import seeded_rng
from ganzoo.errors import ConfigError
from ganzoo.generators.latent import interpolate
from ganzoo.generators.sampling import check_sampling_memory, decode_in_chunks
from ganzoo.generators.weights import load_generator
from ganzoo.io.files import check_not_an_input, check_output_path
from ganzoo.io.images import GridLayout, write_grid
from ganzoo.training.rundir import inputs_of


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("interpolate", parents=[common],
                                   help="interpolate between latents; one grid row per pair")
    parser.add_argument("weights", type=Path, help="generator .safetensors file written by a run")
    parser.add_argument("--steps", type=int, default=10, help="images per row, endpoints included (default 10)")
    parser.add_argument("--pairs", type=int, default=8, help="number of latent pairs, one row each (default 8)")
    parser.add_argument("--mode", choices=["linear", "slerp"], default="slerp",
                        help="straight line or great circle between latents (default slerp)")
    parser.add_argument("--seed", type=seed, default=0, help="latent seed; same seed, same rows")
    parser.add_argument("--label", type=int, help="class for every row (conditional generators)")
    parser.add_argument("--out", type=Path, default=Path("interpolation.png"), help="grid PNG path")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    add_precision_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if not 2 <= args.steps <= 100:
        raise ConfigError(f"--steps must be between 2 and 100 (got {args.steps})")
    if not 1 <= args.pairs <= 100:
        raise ConfigError(f"--pairs must be between 1 and 100 (got {args.pairs})")
    check_precision(args.precision, args.device)
    check_output_path(args.out, "--out", suffix=".png")
    check_not_an_input(args.out, "--out", inputs_of(args.weights))
    generator = load_generator(args.weights, device=args.device)
    layout = GridLayout(args.pairs * args.steps, generator.image_shape, nrow=args.steps)
    check_sampling_memory(layout.count, generator.image_shape, layout.nbytes, fix="ask for fewer --pairs or --steps")
    rng = seeded_rng(args.seed)
    endpoints = rearrange(generator.sample_latents(2 * args.pairs, generator=rng, device="cpu"), "n ... -> n (...)")
    path = interpolate(endpoints[:args.pairs], endpoints[args.pairs:], args.steps, args.mode)
    labels = row_labels(generator.num_classes, args.label, args.pairs, rng)
    latents = rearrange(path, "p t d -> (p t) d").reshape(-1, *generator.latent_shape)  # image-shaped ones too
    write_grid(decode_in_chunks(generator, latents,
                                None if labels is None else labels.repeat_interleave(args.steps), args.weights,
                                precision=args.precision),
               layout, args.out)
    say(console, f"wrote {args.pairs} {args.mode} interpolations of {args.steps} steps to {args.out}")
    return 0


def row_labels(num_classes: int | None, label: int | None, pairs: int, rng: torch.Generator) -> torch.Tensor | None:
    """One class per row: ``label`` everywhere, seeded random classes, or ``None`` if unconditional."""
    if num_classes is None:
        if label is not None:
            raise ConfigError("this generator is unconditional; drop --label to interpolate with it")
        return None
    if label is None:
        return torch.randint(num_classes, (pairs,), generator=rng)
    if not 0 <= label < num_classes:
        raise ConfigError(f"--label must lie in 0..{num_classes - 1} for this generator (got {label})")
    return torch.full((pairs,), label, dtype=torch.long)
