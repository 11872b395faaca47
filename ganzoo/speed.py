"""``run.speed``: the fast path for this device and variant family, chosen from a measured table.

Which speed options help depends on the device and the model: on a 2-core AVX512-BF16 CPU,
channels_last speeds up the DCGAN-64 and ResNet convolutions, multi-tensor Adam helps only the
UNet, and bf16 autocast speeds up the MLP but slows the convolutions down several times. Users
should not have to know this. ``run.speed = "auto"`` (the default) looks the options up in
``FAST_PATHS`` (produced by ``benchmarks/speed_table.py`` and shown in
``docs/pages/benchmarks.md``); ``"off"`` is the plain path: fp32, contiguous memory, PyTorch's
default optimiser kernels, no compilation.

A setting the user gave explicitly (``--channels-last``, ``--compile``, ``--precision``,
``optimizer.implementation``) always wins. A resumed run keeps the choices it started with
(they are recorded in its ``config.json``), so the table can change between versions without
changing a run in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganzoo.config import TrainConfig
from ganzoo.precision import cpu_has_native_bf16, resolve_precision


@dataclass(frozen=True)
class FastPath:
    """The speed options one (device type, family) row of the table turns on."""

    channels_last: bool
    optimizer: str  # optimizer.implementation: foreach, fused or auto (PyTorch's default)
    compile: str  # run.compile mode, or "off"
    bf16: bool  # bf16 autocast, where the hardware computes in bf16 natively


FAST_PATHS: dict[tuple[str, str], FastPath] = {
    # Measured alone on a 2-core AMD EPYC with AVX512-BF16, batch 64, each option against
    # speed off in one rotation (benchmarks/speed_table.py, 2026-12-02; docs/pages/benchmarks.md
    # "The speed table"). An option is on where it beat off by 2% beyond the A/A noise. bf16 was
    # faster for mlp (1.37x) and resnet (1.51x) but its training health is not measured yet, and
    # it slowed every DCGAN and the UNet down (0.11x to 0.62x): it stays off everywhere on the CPU.
    ("cpu", "mlp"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=False),
    ("cpu", "dcgan"): FastPath(channels_last=True, optimizer="auto", compile="off", bf16=False),
    ("cpu", "resnet"): FastPath(channels_last=True, optimizer="auto", compile="off", bf16=False),
    ("cpu", "ddpm"): FastPath(channels_last=False, optimizer="foreach", compile="off", bf16=False),
    ("cpu", "*"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=False),
    # Not measured by this table (no GPU was lent): mixed precision as before, and the kernels
    # that are faster on every recent GPU. docs/pages/gpu.md holds what the GPU script measures.
    ("cuda", "*"): FastPath(channels_last=True, optimizer="fused", compile="off", bf16=True),
    ("mps", "*"): FastPath(channels_last=False, optimizer="auto", compile="off", bf16=False),
}
"""(device type, variant family) -> options; ``"*"`` is the row for a family the table lacks."""


def fast_path(device: torch.device, family: str) -> FastPath:
    """The table's row for ``family`` on ``device``, or the device's default row."""
    return FAST_PATHS.get((device.type, family)) or FAST_PATHS.get((device.type, "*")) or FAST_PATHS[("cpu", "*")]


def bf16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


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
                           else "bf16" if row.bf16 and bf16_native(device) else "fp32")
    precision = pick("precision", run.precision, "auto", saved_run, "precision", table_precision, "fp32")
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
