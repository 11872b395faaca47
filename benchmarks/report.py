"""Print the benchmark ratios as one table, from the JSON pytest-benchmark saved.

    python benchmarks/report.py runs/benchmarks/benchmark.json [--markdown runs/benchmarks/benchmark.md]

The same table ends every ``pytest benchmarks`` run (``conftest.py``). It reads only
``extra_info`` (what the benchmarks measured themselves), so it can be rebuilt from any saved
run, on any machine. The issue's targets are checked here and reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

HEADERS = ["workload", "plain\nimg/s", "engine\nimg/s", "engine\n/plain", "auto\nimg/s", "auto\n/plain",
           "fast\nimg/s", "fast\n/plain", "GFLOP\n/step", "util.\nengine", "util.\nauto", "noise\nA/A"]
ENGINE_OVERHEAD_TARGET = 0.97  # engine / plain, same settings
FAST_TARGET = 1.3  # fast / plain for DCGAN-64
AUTO_TARGET = 1.5  # the default (run.speed auto) / plain fp32 for DCGAN-64, at batch 64 and 128 (issue 19)
UTILISATION_TARGET = 0.80  # fast step FLOP/s / matmul ceiling for DCGAN-64
SERVE_OVERHEAD_TARGET = 1.5  # ganzoo serve: request to image over HTTP / the same grid rendered in-process
SAMPLING_TARGET = 0.70  # fp32 sampling FLOP/s / matmul ceiling, each generator (issue 19)
EPOCH_TARGET = 2.0  # whole epoch: the tutorial pipeline's wall time / `ganzoo train dcgan-64`'s (its defaults)

Info = dict[str, Any]


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def ceiling(infos: list[Info]) -> float | None:
    """The higher of the matmul FLOP/s measured before and after the other benchmarks."""
    measured = [info["matmul_flops_per_s"] for info in infos if info.get("kind") == "ceiling"]
    return max(measured) if measured else None


def utilisation(info: Info | None, peak: float | None, batch_size: int = 1) -> float | None:
    """Counted FLOP/s of a training step (or of sampling) as a fraction of the ceiling."""
    if info is None or not peak:
        return None
    per_image = info["step_flops"] / batch_size if "step_flops" in info else info["flops_per_image"]
    return info["images_per_s"] * per_image / peak


def fastest_variant(loops: dict[str, Info]) -> str | None:
    """Every speed option on, torch.compile optional: the longest ``engine+...`` loop, or the one
    before it when the longest only adds compile and compiling made the step slower."""
    options = sorted((name for name in loops if name.startswith("engine+")), key=lambda name: name.count("+"))
    if not options:
        return None
    candidates = options[-2:] if options[-1].endswith("+compile") and len(options) > 1 else options[-1:]
    return max(candidates, key=lambda name: loops[name]["vs_plain"])


def steps(infos: list[Info]) -> list[Info]:
    return [info for info in infos if info.get("kind") == "step"]


def step_rows(infos: list[Info]) -> list[list[str]]:
    """One row per (model, batch): each loop's images/s, the ratios and the ceiling utilisation."""
    peak, rows = ceiling(infos), []
    for info in steps(infos):
        loops, batch = info["loops"], info["batch_size"]
        plain, engine, again, fast_name = loops.get("plain"), loops.get("engine"), loops.get("plain-again"), \
            fastest_variant(loops)
        fast, auto = (loops.get(fast_name) if fast_name else None), loops.get("engine-auto")
        engine_util, auto_util = utilisation(engine, peak, batch), utilisation(auto, peak, batch)
        rows.append([
            info["workload"], _fmt(plain and plain["images_per_s"], ",.0f"),
            _fmt(engine and engine["images_per_s"], ",.0f"), _fmt(engine and engine["vs_plain"], ".2f", "x"),
            _fmt(auto and auto["images_per_s"], ",.0f"), _fmt(auto and auto["vs_plain"], ".2f", "x"),
            _fmt(fast and fast["images_per_s"], ",.0f"), _fmt(fast and fast["vs_plain"], ".2f", "x"),
            _fmt((engine or plain)["step_flops"] / 1e9, ".1f"),
            _fmt(engine_util and engine_util * 100, ".0f", "%"), _fmt(auto_util and auto_util * 100, ".0f", "%"),
            _fmt(again and again["vs_plain"], ".2f", "x"),
        ])
    return rows


def note_lines(infos: list[Info]) -> list[str]:
    """The machine, the option-by-option breakdown, sampling, load latency and the targets."""
    lines, peak = [], ceiling(infos)
    ceilings = [info for info in infos if info.get("kind") == "ceiling"]
    if ceilings:
        machine = ceilings[0]
        measured = ", ".join(f"{info['when']} {info['matmul_flops_per_s'] / 1e9:,.1f}" for info in ceilings)
        lines.append(f"{machine['device_name']} ({machine['device']}), {machine['threads']} torch threads, "
                     f"torch {machine['torch']}; fp32 matmul ceiling {peak / 1e9:,.1f} GFLOP/s ({measured})")
    for info in steps(infos):
        options = [(name, loop) for name, loop in info["loops"].items() if name.startswith("engine+")]
        if options:
            added = ", ".join(f"{'+' if index else ''}{name.split('+')[-1]} {loop['vs_plain']:.2f}x"
                              for index, (name, loop) in enumerate(options))
            lines.append(f"{info['workload']} speed options added one at a time (vs plain): {added}")
    if steps(infos):
        lines.append("x/plain = median over the rotations of plain's step time / x's (the loops take turns step "
                     "by step); fast = every speed option (the better of with and without torch.compile); "
                     "util. = counted step FLOPs x steps/s / ceiling; noise A/A = the plain loop run again in the "
                     "same rotation / plain")
    for info in infos:
        if info.get("kind") == "sample":
            share = utilisation(info, peak)
            lines.append(f"sampling {info['workload']}: load_generator + sample({info['num_samples']:,}) "
                         f"{info['images_per_s']:,.0f} img/s ({_fmt(share and share * 100, '.0f', '%')} of the ceiling)")
    for info in infos:
        if info.get("kind") == "sampler-cost":
            rates, slower = info["images_per_s"], info["slower_than_gan"]
            diffusion = "; ".join(f"{label} {rates[label]:,.2f} img/s ({slower[label]:,.0f}x slower)" for label in slower)
            lines.append(f"sampling cost {info['workload']} (batch {info['batch']}, {info['unet']} UNet): dcgan "
                         f"{rates['dcgan']:,.0f} img/s; {diffusion}")
    for info in infos:
        if info.get("kind") == "load":
            lines.append(f"load latency {info['workload']}: {info['load_s'] * 1000:,.1f} ms "
                         f"({info['file_bytes'] / 2**20:,.1f} MiB file)")
    for info in infos:
        if info.get("kind") == "data":
            lines.append(f"data {info['workload']}: load {info['load_s']:,.2f} s, then {info['images_per_s']:,.0f} "
                         f"img/s through one epoch of batches ({info['workers']} workers); peak RSS "
                         f"+{info['peak_rss_growth_bytes'] / 2**20:,.1f} MiB")
    for info in infos:
        if info.get("kind") == "serve":
            lines.append(f"serve {info['workload']}: request to image, {info['num_samples']} samples, "
                         f"{info['request_s'] * 1000:,.1f} ms over HTTP; {info['render_s'] * 1000:,.1f} ms "
                         f"rendered in-process ({info['overhead']:.2f}x, target <= {SERVE_OVERHEAD_TARGET}x: "
                         f"{'met' if info['overhead'] <= SERVE_OVERHEAD_TARGET else 'missed'})")
    return lines + epoch_lines(infos) + target_lines(infos, peak)


def epoch_lines(infos: list[Info]) -> list[str]:
    """The whole-epoch benchmark: each arm's median wall time, the speed-ups, the target and the spread."""
    lines = []
    for info in infos:
        if info.get("kind") != "epoch":
            continue
        arms, name = info["arms"], f"epoch {info['variant']} b{info['batch_size']} on {info['digits']:,} digits"
        timed = ", ".join(f"{arm} {arm_info['epoch_s']:,.1f} s"
                          + (f" ({arm_info['vs_tutorial']:.2f}x)" if "vs_tutorial" in arm_info else "")
                          for arm, arm_info in arms.items())
        default = arms.get("ganzoo", {}).get("vs_tutorial")
        target = ("" if default is None
                  else f"; target >= {EPOCH_TARGET:g}x: {'met' if default >= EPOCH_TARGET else 'missed'}")
        lines.append(f"{name}: {timed}{target}")
        per_round = ", ".join(f"{arm} {arm_info['vs_tutorial_min']:.2f}x to {arm_info['vs_tutorial_max']:.2f}x"
                              for arm, arm_info in arms.items() if "vs_tutorial" in arm_info)
        spread = ", ".join(f"{arm} {arm_info['rounds_spread']:.2f}x" for arm, arm_info in arms.items())
        rounds = f"{info['rounds']} round{'s' if info['rounds'] != 1 else ''}"
        lines.append(f"{name}: whole-process wall time, median of {rounds} taking turns; "
                     f"tutorial/arm per round {per_round}; slowest/fastest round {spread}")
    return lines


def target_lines(infos: list[Info], peak: float | None) -> list[str]:
    """Issue 5's targets, each with the numbers that decide it."""
    overhead = {info["workload"]: info["loops"]["engine"]["vs_plain"] for info in steps(infos)
                if {"plain", "engine"} <= set(info["loops"])}
    lines = []
    if overhead:
        worst = min(overhead, key=overhead.__getitem__)
        met = sum(value >= ENGINE_OVERHEAD_TARGET for value in overhead.values())
        noise = [info["loops"]["plain-again"]["vs_plain"] for info in steps(infos) if "plain-again" in info["loops"]]
        floor = f"; identical loops differed by {min(noise):.2f}x to {max(noise):.2f}x" if noise else ""
        lines.append(f"target engine/plain >= {ENGINE_OVERHEAD_TARGET}: {met} of {len(overhead)} workloads "
                     f"(lowest {overhead[worst]:.2f}x, {worst}){floor}")
    for info in steps(infos):
        auto = info["loops"].get("engine-auto")
        if info["workload"].startswith("dcgan-64") and auto is not None:
            share = utilisation(auto, peak, info["batch_size"])
            lines.append(f"target {info['workload']} auto/plain >= {AUTO_TARGET}x (the default, run.speed auto, "
                         f"against the plain fp32 loop): {'met' if auto['vs_plain'] >= AUTO_TARGET else 'missed'} "
                         f"({auto['vs_plain']:.2f}x" + (f", util. {share:.0%})" if share else ")"))
    for info in steps(infos):
        fast_name = fastest_variant(info["loops"])
        if not info["workload"].startswith("dcgan-64") or fast_name is None:
            continue
        fast = info["loops"][fast_name]
        share = utilisation(fast, peak, info["batch_size"])
        lines.append(f"target {info['workload']} fast/plain >= {FAST_TARGET}x: "
                     f"{'met' if fast['vs_plain'] >= FAST_TARGET else 'missed'} ({fast['vs_plain']:.2f}x)"
                     + (f"; fast util. >= {UTILISATION_TARGET:.0%}: "
                        f"{'met' if share >= UTILISATION_TARGET else 'missed'} ({share:.0%})" if share else ""))
    shares = {info["workload"]: share for info in infos
              if info.get("kind") == "sample" and info.get("precision", "fp32") == "fp32"
              and (share := utilisation(info, peak)) is not None}
    if shares:
        met = [name for name, share in shares.items() if share >= SAMPLING_TARGET]
        each = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
        lines.append(f"target fp32 sampling >= {SAMPLING_TARGET:.0%} of the ceiling: {len(met)} of {len(shares)} "
                     f"generators ({each})")
    return lines


def render(infos: list[Info], *, file: TextIO | None = None, width: int | None = None,
           color: bool = True) -> list[list[str]]:
    """Print the table and the notes; returns the table's rows."""
    console = Console(file=file or sys.stdout, width=width, no_color=not color, highlight=False, soft_wrap=False)
    rows = step_rows(infos)
    table = Table(title="ganzoo step throughput, images/s (higher is better)", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False, show_edge=False)
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    if rows:
        console.print(table)
    for line in note_lines(infos):
        console.print(line, soft_wrap=True)
    return rows


def markdown(infos: list[Info]) -> str:
    headers = [header.replace("\n", " ") for header in HEADERS]
    lines = ["| " + " | ".join(headers) + " |", "|---" + "|---:" * (len(headers) - 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in step_rows(infos)]
    return "\n".join([*lines, "", *[f"- {line}" for line in note_lines(infos)], ""])


def load_infos(path: Path) -> list[Info]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [bench.get("extra_info", {}) for bench in data.get("benchmarks", [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="pytest-benchmark JSON (--benchmark-json)")
    parser.add_argument("--markdown", type=Path, help="also write the table and notes as Markdown here")
    args = parser.parse_args(argv)
    infos = load_infos(args.json)
    render(infos)
    if args.markdown:
        args.markdown.write_text(markdown(infos), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
