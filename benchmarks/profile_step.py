"""Where the engine's training step spends its time: the profile behind a missed speed target.

Runs ``ganzoo.training.loop.train`` for one variant at one batch size, skips the warm-up steps,
and profiles the next ``--steps`` with ``torch.profiler``; prints the operators that took the most
self CPU time, with their share of the step. Run it once per precision to see what bf16
autocast changes (which kernels a convolution lands in, how much time goes to dtype conversions):

    python benchmarks/profile_step.py dcgan-64 --image-size 64 --precision fp32
    python benchmarks/profile_step.py dcgan-64 --image-size 64 --precision bf16 --channels-last

Run it alone on an idle machine; the shares are what to read, the times are the machine's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from measure import Settings, StepWorkload, machine_description, workload_config  # noqa: E402
from torch.profiler import ProfilerActivity, profile, schedule  # noqa: E402

from ganzoo.core.callback import Callback  # noqa: E402
from ganzoo.training.loop import train  # noqa: E402


class ProfilerSteps(Callback):
    """Advances the profiler's schedule once per training step."""

    def __init__(self, profiler: profile) -> None:
        self.profiler = profiler

    def on_step_end(self, run: Any, stats: Any) -> None:
        self.profiler.step()


def profile_step(variant: str, image_size: int, batch_size: int, warmup: int, steps: int,
                 layers: list[dict[str, Any]], settings: Settings, top: int) -> dict[str, Any]:
    """The top operators by self CPU time over ``steps`` profiled steps, with their shares."""
    work = StepWorkload(variant, image_size, batch_size, warmup, steps)
    with tempfile.TemporaryDirectory() as scratch:
        resolved = workload_config(work, settings, Path(scratch), *layers)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if settings.device.startswith("cuda") else [])
        traces: list[Any] = []  # the profiler hands its one active window over here, then forgets it
        with profile(activities=activities, schedule=schedule(wait=0, warmup=warmup, active=steps, repeat=1),
                     on_trace_ready=lambda done: traces.append(done.key_averages())) as profiler:
            train(resolved, callbacks=[ProfilerSteps(profiler)], overwrite=True)
    if not traces:
        raise SystemExit(f"error: the run ended before {warmup + steps} steps; give it fewer --warmup/--steps")
    events = sorted(traces[0], key=lambda event: event.self_cpu_time_total, reverse=True)
    total = sum(event.self_cpu_time_total for event in events) or 1.0
    rows = [{"op": event.key, "calls": event.count, "self_ms_per_step": event.self_cpu_time_total / 1e3 / steps,
             "share": event.self_cpu_time_total / total} for event in events[:top]]
    return {"step_ms": total / 1e3 / steps, "top": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    settings = Settings.from_environment()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    layer = {"run": {"precision": args.precision, "channels_last": args.channels_last}}
    result = profile_step(args.variant, args.image_size, args.batch_size, args.warmup, args.steps,
                          [layer], settings, args.top)
    print(f"{args.variant} {args.image_size}px batch {args.batch_size}, {args.precision}"
          f"{', channels_last' if args.channels_last else ''}: {result['step_ms']:.0f} ms of operator self time per step")
    for row in result["top"]:
        print(f"  {row['share']:6.1%}  {row['self_ms_per_step']:9.1f} ms/step  {row['calls']:6d} calls  {row['op']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine_description(settings), "args": vars(args) | {"out": str(args.out)},
                                        **result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
