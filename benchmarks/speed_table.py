"""Measure the rows of ``ganzoo.runtime.speed.FAST_PATHS``: which speed option pays, per variant family.

For one representative variant of each family, the engine runs with ``run.speed = off`` (the
plain fp32 path) and with each speed option alone, all taking turns step by step in one process
(``measure.take_turns``, as ``make bench`` does), plus ``off`` a second time for the noise
floor. An option goes into the family's row when its median speed-up over ``off`` exceeds
the noise floor by ``MARGIN``; bf16 also needs the training-health comparison in
docs/pages/quality.md before it is switched on (this script prints its speed only).

    python benchmarks/speed_table.py [--families dcgan mlp ...] [--out runs/speed_table.json]

Run it alone on an idle machine; it prints the measured ratios and the rows to paste into
``FAST_PATHS``. ``--smoke`` runs one tiny round of everything (what the tests run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from measure import Settings, StepWorkload, engine_loop, machine_description, take_turns, workload_config  # noqa: E402

FAMILIES: dict[str, tuple[str, int, dict[str, Any], int, int]] = {
    # family: (variant, image size, model options, warm-up steps, timed steps), batch 64
    "mlp": ("mlp", 32, {}, 5, 100),
    "dcgan": ("dcgan-64", 64, {}, 2, 8),
    "dcgan-32": ("dcgan", 32, {}, 2, 20),
    "resnet": ("resnet", 32, {"g_channels": 32, "d_channels": 32}, 1, 6),
    "ddpm": ("ddpm", 32, {}, 2, 15),
}
OPTIONS: dict[str, dict[str, Any]] = {
    "channels_last": {"run": {"channels_last": True}},
    "foreach": {"optimizer": {"implementation": "foreach"}},
    "bf16": {"run": {"precision": "bf16"}},
    "compile": {"run": {"compile": "default"}},
}
MARGIN = 0.02
"""An option must beat ``off`` by this much beyond what two identical loops differ by."""


def measure_family(family: str, settings: Settings, out: Path, *, options: list[str], batch_size: int,
                   smoke: bool) -> dict[str, Any]:
    variant, size, model, warmup, steps = FAMILIES[family]
    if smoke:
        warmup, steps = 1, 2
    work = StepWorkload(variant, size, batch_size, warmup, steps)
    limit = batch_size * (warmup + steps + 1) * 5  # enough for five D batches per step (the ResNets)
    off = {"run": {"speed": "off"}, "model": model, "data": {"limit": limit}}
    layers = {"off": [off], **{name: [off, OPTIONS[name]] for name in options}, "off-again": [off]}
    loops = {name: engine_loop(workload_config(work, settings, out / family / name, *stack))
             for name, stack in layers.items()}
    seconds = take_turns(loops, settings, warmup, warmup + steps)
    ratios = {name: statistics.median(base / mine for base, mine in zip(seconds["off"], times))
              for name, times in seconds.items()}
    noise = abs(ratios["off-again"] - 1.0)
    chosen = [name for name in options if ratios[name] > 1.0 + noise + MARGIN]
    return {"family": family, "variant": variant, "image_size": size, "batch_size": batch_size,
            "images_per_s": {name: batch_size / statistics.median(times) for name, times in seconds.items()},
            "vs_off": ratios, "noise": noise, "pays": chosen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("runs/speed_table.json"))
    parser.add_argument("--smoke", action="store_true", help="one tiny round, no compilation")
    args = parser.parse_args(argv)
    settings = Settings.from_environment()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    options = [name for name in args.options if not (args.smoke and name == "compile")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for family in args.families:
            row = measure_family(family, settings, Path(scratch), options=options,
                                 batch_size=8 if args.smoke else args.batch_size, smoke=args.smoke)
            rows.append(row)
            ratios = ", ".join(f"{name} {row['vs_off'][name]:.2f}x" for name in [*options, "off-again"])
            print(f"{family} ({row['variant']}, {row['images_per_s']['off']:.0f} img/s off): {ratios}; "
                  f"pays: {', '.join(row['pays']) or 'nothing'}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine_description(settings), "rows": rows}, indent=2))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
