"""``run.speed``: the fast path for this device and variant family, chosen from a measured table.

Which speed options help depends on the device and the model. On 2-core CPUs, channels_last
speeds up the DCGAN-64 and ResNet convolutions; multi-tensor Adam helps little anywhere; bf16
autocast made the DCGAN step 1.3x to 2x faster on an AMX Xeon and a Zen 5 EPYC, and 3.6x slower
on a Zen 4 EPYC, whose flags say "bf16" just the same. Users should not have to know this.
``run.speed = "auto"`` (the default) looks the options up in ``FAST_PATHS`` (produced by
``benchmarks/speed_table.py``, checked for training health in ``docs/pages/quality.md`` and
shown in ``docs/pages/benchmarks.md``); ``"off"`` is the plain path: fp32, contiguous memory,
PyTorch's default optimiser kernels, no compilation.

A setting the user gave explicitly (``--channels-last``, ``--compile``, ``--precision``,
``optimizer.implementation``) always wins. A resumed run keeps the choices it started with
(they are recorded in its ``config.json``), so the table can change between versions without
changing a run in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch

from ganzoo.config import TrainConfig
from ganzoo.runtime.precision import CpuBf16Kind, cpu_bf16_kind, resolve_precision

Bf16Kind = CpuBf16Kind | Literal["cuda"]
BF16_KINDS: tuple[str, ...] = (*get_args(CpuBf16Kind), "cuda")


@dataclass(frozen=True)
class FastPath:
    """The speed options one (device type, family) row of the table turns on."""

    channels_last: bool
    optimizer: str  # optimizer.implementation: foreach, fused or auto (PyTorch's default)
    compile: str  # run.compile mode, or "off"
    bf16: tuple[Bf16Kind, ...] = ()  # the bf16 kinds (``bf16_kind``) on which the row takes bf16 autocast


FAST_PATHS: dict[tuple[str, str], FastPath] = {
    # Measured alone on three 2-core CPUs (benchmarks/speed_table.py, batch 64, each option
    # against speed off in one rotation; docs/pages/benchmarks.md "The speed table"): a Zen 4 EPYC
    # and a Zen 5 EPYC with AVX512-BF16, and an AMX Xeon. An option is on where it beat off by 2%
    # beyond the A/A noise on the machines it is on for. channels_last pays for the DCGAN-64 and
    # ResNet convolutions on all three. bf16 made the DCGAN-64 step 1.29x (AMX), 1.75x (Zen 5) and
    # 0.28x (Zen 4); 5,000 DCGAN steps in bf16 trained as well as in fp32 (FD 1.025 against 1.106,
    # docs/pages/quality.md), so the dcgan row takes it where it pays. On the MLP and the ResNet
    # bf16 was faster but not shown healthy at equal wall time (MLP FD 3.29 against 1.92), so off.
    ("cpu", "mlp"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=()),
    ("cpu", "dcgan"): FastPath(channels_last=True, optimizer="auto", compile="off", bf16=("amx", "avx512")),
    ("cpu", "resnet"): FastPath(channels_last=True, optimizer="auto", compile="off", bf16=()),
    ("cpu", "ddpm"): FastPath(channels_last=False, optimizer="foreach", compile="off", bf16=()),
    ("cpu", "*"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=()),
    ("cuda", "*"): FastPath(channels_last=True, optimizer="fused", compile="off", bf16=("cuda",)),
    ("mps", "*"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=()),
}
"""(device type, variant family) -> options; ``"*"`` is the row for a family the table lacks."""


def fast_path(device: torch.device, family: str) -> FastPath:
    """The table's row for ``family`` on ``device``, or the device's default row."""
    return FAST_PATHS.get((device.type, family)) or FAST_PATHS.get((device.type, "*")) or FAST_PATHS[("cpu", "*")]


def bf16_kind(device: torch.device) -> Bf16Kind:
    """How ``device`` computes bf16: ``"cuda"`` (a GPU with bf16), ``"amx"``, ``"avx512"`` or
    ``"avx512-zen4"`` (a CPU's bf16 instructions, with oneDNN's kernels for them:
    ``ganzoo.runtime.precision.cpu_bf16_kind``), or ``"none"``. The same option can be
    several times faster on one kind and several times slower on another, so the table names kinds."""
    if device.type == "cuda":
        return "cuda" if torch.cuda.is_bf16_supported() else "none"
    if device.type == "cpu":
        return cpu_bf16_kind()
    return "none"


def bf16_pays(row: FastPath, device: torch.device) -> bool:
    """Whether ``row`` takes bf16 autocast on ``device``: the row names the kind of bf16 it has."""
    return bf16_kind(device) in row.bf16


@dataclass(frozen=True)
class SpeedChoices:
    """What ``choose_speed`` settled on, each with where it came from."""

    config: TrainConfig
    reasons: dict[str, str]

    def describe(self) -> str:
        """One line for the start of the run, the options grouped by where they came from:
        ``channels_last on, optimizer foreach, compile off, precision fp32 (speed auto for cpu/dcgan)``."""
        run, optimizer = self.config.run, self.config.optimizer
        values = {"channels_last": "on" if run.channels_last else "off", "optimizer": optimizer.implementation,
                  "compile": run.compile, "precision": run.precision}
        groups: dict[str, list[str]] = {}
        for name, value in values.items():
            groups.setdefault(self.reasons[name], []).append(f"{name} {value}")
        return "; ".join(f"{', '.join(items)} ({reason})" for reason, items in groups.items())


def choose_speed(config: TrainConfig, device: torch.device, family: str,
                 saved: dict[str, Any] | None = None) -> SpeedChoices:
    """Fill every speed setting the user left open (``None`` or ``"auto"``), for ``device``.

    ``saved`` is the config of the run being resumed: its recorded choices are kept. The result
    holds only concrete values, so ``config.json`` records exactly what ran.
    """
    run, optimizer = config.run, config.optimizer
    row = fast_path(device, family) if run.speed == "auto" else None
    saved_run, saved_optimizer = (saved or {}).get("run", {}), (saved or {}).get("optimizer", {})
    reasons: dict[str, str] = {}

    def pick(name: str, given: Any, unset: Any, recorded: dict[str, Any], key: str, table: Any, plain: Any) -> Any:
        if given != unset:
            reasons[name] = "set"
            return given
        if saved is not None and key in recorded:  # verbatim: an older run's "auto" means what it meant then
            reasons[name] = "kept from the resumed run"
            return recorded[key]
        if row is not None:
            reasons[name] = f"speed auto for {device.type}/{family}"
            return table
        reasons[name] = "speed off"
        return plain

    channels_last = pick("channels_last", run.channels_last, None, saved_run, "channels_last",
                         row and row.channels_last, False)
    compile_mode = pick("compile", run.compile, None, saved_run, "compile", row and row.compile, "off")
    implementation = pick("optimizer", optimizer.implementation, "auto", saved_optimizer, "implementation",
                          row and _usable_implementation(row.optimizer, config), "auto")
    table_precision = None
    if row is not None:  # on CUDA mixed precision as before: bf16, or fp16 on a GPU without bf16
        table_precision = (resolve_precision("auto", device) if device.type == "cuda"
                           else "bf16" if bf16_pays(row, device) else "fp32")
    precision = pick("precision", run.precision, "auto", saved_run, "precision", table_precision, "fp32")
    if reasons["precision"].startswith("speed auto") and device.type == "cpu":
        reasons["precision"] += f", bf16 kind {bf16_kind(device)}"  # why bf16 is on or off here
    chosen = config.model_copy(update={
        "run": run.model_copy(update={"channels_last": channels_last, "compile": compile_mode, "precision": precision}),
        "optimizer": optimizer.model_copy(update={"implementation": implementation}),
    })
    return SpeedChoices(chosen, reasons)


def _usable_implementation(wanted: str, config: TrainConfig) -> str:
    """Fused kernels exist for Adam/AdamW/SGD on CPU and CUDA; RMSprop gets foreach instead."""
    if wanted == "fused" and config.optimizer.name == "rmsprop":
        return "foreach"
    return wanted
