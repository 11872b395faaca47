"""GPU training speed: the plain PyTorch tutorial loop against ganzoo, one fast path at a time.

    python benchmarks/gpu_speed.py --out gpu_speed.json [--models mlp dcgan-64] [--configs ...]

For each model it measures images/s (real images through the discriminator per second) of

* ``plain fp32``: the PyTorch DCGAN tutorial's loop (zero_grad, D on real, D on G(z).detach(),
  step D, D on the same fake, step G, ``.item()`` of both losses every iteration), on the same
  networks, with the data already on the GPU as float, so the baseline pays no data loading;
* ``ganzoo ...``: ``ganzoo.training.loop.train`` itself, adding bf16 autocast, channels_last, fused
  Adam, ``torch.compile`` and compile's CUDA-graph mode one after the other (each row keeps the
  options of the rows above it).

FLOPs per image are counted with ``torch.utils.flop_counter`` on one step of each loop (ganzoo's
step draws fresh noise for the G update, one more G forward than the tutorial), and achieved
TFLOP/s is given as a fraction of the GPU's dense bf16 peak (datasheet, ``BF16_DENSE_TFLOPS``)
and of a measured 8192^3 bf16 matmul. ``--check-syncs`` also runs steps 6 to 25 of the engine
under ``torch.cuda.set_sync_debug_mode("warn")`` and lists the source lines that synchronised.
Self-contained apart from ganzoo and its plugins; needs CUDA (``--device cpu`` only smoke-tests
the script: ``--device cpu --models mlp --configs 0 2 3 --seconds 1``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.core.callback import Callback
from ganzoo.core.interfaces import Game
from ganzoo.training.build import build
from ganzoo.training.loop import seed_everything, train
from ganzoo.training.metrics_log import MetricsLog
from ganzoo.training.plan import make_plan

BF16_DENSE_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.4, "H200": 989.4, "GH200": 989.4,
                     "A100": 312.0, "L40S": 362.0, "L4": 121.0}
"""Datasheet dense (no sparsity) bf16 tensor-core peaks; the first name found in the device's wins."""
DEVICE = "cuda"  # --device cpu runs a quick smoke test of the script itself
MODELS = {"mlp": {"batch": 64, "data": {}}, "dcgan-64": {"batch": 128, "data": {"image_size": 64}}}
# each row adds its options to those of the rows above it
CONFIGS = [
    ("ganzoo fp32", {"run": {"precision": "fp32"}, "optimizer": {"implementation": "foreach"}}),
    ("+ bf16 autocast", {"run": {"precision": "bf16"}}),
    ("+ channels_last", {"run": {"channels_last": True}}),
    ("+ fused Adam", {"optimizer": {"implementation": "fused"}}),
    ("+ torch.compile (default)", {"run": {"compile": "default"}}),
    ("+ compile reduce-overhead (CUDA graphs)", {"run": {"compile": "reduce-overhead"}}),
]


def layers_for(model: str, upto: int, out_dir: Path) -> list[dict[str, Any]]:
    spec = MODELS[model]
    base = {"variant": model, "data": {"name": "mnist-embedded", **spec["data"]},
            "run": {"device": DEVICE, "speed": "off", "batch_size": spec["batch"], "out_dir": str(out_dir),
                    "epochs": 100_000,
                    "sample_every_epochs": 0, "checkpoint_every_epochs": 0, "log_every_steps": 50}}
    return [base, *(overrides for _, overrides in CONFIGS[:upto + 1])]


def plain_tutorial_loop(model: str, seconds: float) -> dict[str, Any]:
    """The PyTorch DCGAN tutorial's training loop, fp32, on ganzoo's networks for ``model``."""
    seed_everything(0)
    parts = build(make_plan(layers_for(model, 0, Path("unused"))), torch.device(DEVICE))
    dataset, generator, discriminator = parts.dataset, parts.generator, parts.adversary.discriminator
    images = dataset.images.to(DEVICE).float().div(127.5).sub(1.0)
    batch = MODELS[model]["batch"]
    criterion = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones = torch.ones(batch, device=DEVICE)
    zeros = torch.zeros(batch, device=DEVICE)
    order = torch.randperm(len(images), device=DEVICE)
    losses: list[tuple[float, float]] = []

    def step(i: int) -> None:
        start = (i * batch) % (len(images) - batch)
        real = images[order[start:start + batch]]
        discriminator.zero_grad()
        err_real = criterion(discriminator(real), ones)
        err_real.backward()
        fake = generator(torch.randn(batch, generator.latent_dim, device=DEVICE))
        err_fake = criterion(discriminator(fake.detach()), zeros)
        err_fake.backward()
        opt_d.step()
        generator.zero_grad()
        err_g = criterion(discriminator(fake), ones)
        err_g.backward()
        opt_g.step()
        losses.append(((err_real + err_fake).item(), err_g.item()))  # as the tutorial logs them

    for i in range(20):
        step(i)
    with FlopCounterMode(display=False) as counter:
        step(20)
    synchronize()
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step(21 + steps)
        steps += 1
    elapsed = time.perf_counter() - started
    return {"images_per_s": steps * batch / elapsed, "flops_per_image": counter.get_total_flops() / batch,
            "steps": steps}


def ganzoo_step_flops(model: str, upto: int) -> float:
    """FLOPs of one engine step (strategy.step on a Game as the engine builds it), per image."""
    plan = make_plan(layers_for(model, upto, Path("unused")))
    config = plan.config
    parts = build(plan, torch.device(DEVICE))
    dataset, generator, discriminator = parts.dataset, parts.generator, parts.adversary.discriminator
    g_opt = torch.optim.Adam(generator.parameters())
    d_opt = torch.optim.Adam(discriminator.parameters())

    def optimize(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    game = Game(generator=generator, discriminator=discriminator, loss=parts.adversary.loss,
                g_optimizer=g_opt, d_optimizer=d_opt, autocast=nullcontext, optimize=optimize)
    strategy = parts.strategy
    batch = config.run.batch_size
    batches = [dataset.batch(torch.arange(batch, device=DEVICE)) for _ in range(strategy.batches_per_step)]
    strategy.step(game, batches)
    with FlopCounterMode(display=False) as counter:
        strategy.step(game, batches)
    return counter.get_total_flops() / (batch * strategy.batches_per_step)


def ganzoo_engine(model: str, upto: int, seconds: float, work: Path, compile_warmup: float) -> dict[str, Any]:
    """Images/s of ``ganzoo.training.loop.train`` from its own metrics log, warm-up intervals dropped."""
    out_dir = work / f"{model}-{upto}"
    layers = layers_for(model, upto, out_dir)
    compiled = any("compile" in overrides.get("run", {}) for _, overrides in CONFIGS[:upto + 1])
    warmup = compile_warmup if compiled else 3.0
    layers.append({"run": {"max_seconds": warmup + seconds}})
    started = time.perf_counter()
    train(make_plan(layers), overwrite=True)
    rows = MetricsLog(out_dir / "metrics.jsonl").read("step")
    first_timed = next((i for i, row in enumerate(rows) if row["elapsed_s"] >= rows[0]["elapsed_s"] + 1.0), 1)
    timed = rows[max(first_timed, 2):] or rows[-1:]
    return {"images_per_s": statistics.median(row["images_per_s"] for row in timed), "intervals": len(timed),
            "first_interval_s": rows[0]["elapsed_s"], "wall_s": time.perf_counter() - started}


class SyncWatch(Callback):
    """A callback that turns CUDA's sync warnings on after step ``first`` and off after ``last``:
    set-up, the first steps and the final checkpoint may synchronise, the steps may not."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last

    def on_step_end(self, run: Any, stats: Any) -> None:
        step = run.progress.global_step
        if step == self.first:
            torch.cuda.set_sync_debug_mode("warn")
        elif step == self.last:
            torch.cuda.set_sync_debug_mode(0)


def check_syncs(model: str, work: Path) -> list[str]:
    """Source lines that synchronised the host with the GPU in engine steps 6 to 25 (no log point)."""
    layers = layers_for(model, 3, work / f"syncs-{model}")
    layers.append({"run": {"max_steps": 30, "log_every_steps": 1000}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            train(make_plan(layers), callbacks=[SyncWatch(5, 25)], overwrite=True)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    lines: dict[str, int] = {}
    for warning in caught:
        if "synchroniz" in str(warning.message):
            where = f"{Path(warning.filename).name}:{warning.lineno}"
            lines[where] = lines.get(where, 0) + 1
    return [f"{where} x{count}" for where, count in sorted(lines.items())]


def bf16_peak_tflops(device_name: str) -> float | None:
    return next((peak for name, peak in BF16_DENSE_TFLOPS.items() if name in device_name), None)


def synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def matmul_tflops() -> float:
    a = torch.randn(8192, 8192, device=DEVICE, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=DEVICE, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize()
    started = time.perf_counter()
    for _ in range(20):
        a @ b
    synchronize()
    return 2 * 8192**3 * 20 / (time.perf_counter() - started) / 1e12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_speed.json"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--configs", nargs="+", type=int, help="indices into CONFIGS (default: all)")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain tutorial loop")
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per configuration")
    parser.add_argument("--check-syncs", action="store_true")
    parser.add_argument("--compile-warmup", type=float, default=75.0, help="seconds allowed for compiling")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: smoke-test the script")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("needs CUDA (or --device cpu for a smoke test)", file=sys.stderr)
        return 2
    if args.check_syncs and DEVICE != "cuda":
        parser.error("--check-syncs needs CUDA")
    torch.backends.cudnn.benchmark = True
    device_name = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    peak = bf16_peak_tflops(device_name)
    matmul = matmul_tflops() if DEVICE == "cuda" else None
    result: dict[str, Any] = {"device": device_name, "torch": torch.__version__, "peak_bf16_tflops": peak,
                              "matmul_bf16_tflops": matmul, "rows": [], "errors": []}
    work = Path(tempfile.mkdtemp(prefix="gpu-speed-"))

    def save() -> None:
        args.out.write_text(json.dumps(result, indent=2))

    for model in args.models:
        if args.check_syncs:
            result.setdefault("syncs", {})[model] = check_syncs(model, work)
            save()
        rows = [] if args.no_plain else [("plain fp32 tutorial loop", None)]
        rows += [(CONFIGS[i][0], i) for i in (args.configs if args.configs is not None else range(len(CONFIGS)))]
        for name, upto in rows:
            try:
                if upto is None:
                    measured = plain_tutorial_loop(model, args.seconds)
                else:
                    measured = ganzoo_engine(model, upto, args.seconds, work, args.compile_warmup)
                    measured["flops_per_image"] = ganzoo_step_flops(model, upto)
            except Exception as exc:  # one failing option must not lose the other rows
                result["errors"].append(f"{model} / {name}: {type(exc).__name__}: {exc}"[:2000])
                traceback.print_exc()
                save()
                continue
            tflops = measured["images_per_s"] * measured["flops_per_image"] / 1e12
            row = {"model": model, "config": name, **measured, "tflops": tflops,
                   "pct_of_bf16_peak": 100 * tflops / peak if peak else None,
                   "pct_of_bf16_matmul": 100 * tflops / matmul if matmul else None}
            result["rows"].append(row)
            shares = "  ".join(f"{row[key]:6.2f}% of {label}" for key, label in
                               (("pct_of_bf16_peak", "peak"), ("pct_of_bf16_matmul", "matmul")) if row[key] is not None)
            print(f"{model:9s} {name:42s} {row['images_per_s']:>11,.0f} img/s {tflops:8.3f} TFLOP/s {shares}",
                  flush=True)
            save()
    save()
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
