"""Mixed precision: the only place that knows about autocast and gradient scalers.

On CUDA the default is mixed precision: bf16 autocast where the GPU supports it, otherwise fp16
with one ``GradScaler`` per optimiser (each player's loss scale evolves on its own). On CPU and
MPS the default is fp32; bf16 autocast can be asked for. It pays only on a CPU that computes bf16
natively and fast (``cpu_bf16_kind``); elsewhere ``precision_note`` says, once, why it is slow.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from ganzoo.core.sampling import AUTOCAST_DTYPES, autocast_for
from ganzoo.errors import ConfigError


def resolve_precision(requested: str, device: torch.device) -> str:
    """Turn ``auto`` into ``bf16``/``fp16`` on CUDA and ``fp32`` elsewhere; check the rest."""
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError("precision fp16 needs CUDA (GradScaler); use --precision bf16 or fp32 here")
    return requested


CPUINFO = Path("/proc/cpuinfo")

CpuBf16Kind = Literal["amx", "avx512", "avx512-zen4", "none"]
"""What ``cpu_bf16_kind`` tells apart; the speed table's rows name these."""


@cache
def cpu_bf16_kind() -> CpuBf16Kind:
    """How this CPU computes bf16 for PyTorch: ``"amx"`` (AMX tiles), ``"avx512"`` (AVX512-BF16
    without AMX), ``"avx512-zen4"`` (AVX512-BF16 on AMD Zen 4, CPU family 25, which runs 512-bit
    instructions as two 256-bit halves) or ``"none"`` (no bf16 instructions, or no oneDNN bf16
    kernels for them).

    The kinds are what the speed table tells apart, because bf16 pays on some and costs on
    others. Without oneDNN's bf16 kernels a bf16 convolution takes PyTorch's reference path
    (``aten::_slow_conv2d_forward``): on a 2-core AVX2 EPYC the dcgan-32 forward and backward ran
    20x slower under bf16 autocast than in fp32. The engine's DCGAN-64 step under bf16 against fp32
    was 1.29x on a 2-core AMX Xeon, 0.28x on a 2-core Zen 4 EPYC and 1.96x (profiled operator time)
    on a 2-core Zen 5 EPYC (docs/pages/benchmarks.md, "The speed table").
    """
    try:
        text = CPUINFO.read_text(encoding="ascii", errors="replace")
    except OSError:
        return "none"
    first_cpu = text.split("\n\n")[0]  # every logical CPU repeats the same fields
    fields = dict(_cpuinfo_field(line) for line in first_cpu.splitlines() if ":" in line)
    flags = fields.get("flags", "").split()
    amx, avx512 = "amx_bf16" in flags, "avx512_bf16" in flags
    onednn_bf16 = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if not (amx or avx512) or not torch.backends.mkldnn.is_available() or not (onednn_bf16 is None or onednn_bf16()):
        return "none"
    if amx:
        return "amx"
    zen4 = fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
    return "avx512-zen4" if zen4 else "avx512"


def _cpuinfo_field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def cpu_has_native_bf16() -> bool:
    """Whether PyTorch computes bf16 natively on this CPU (AVX512-BF16 or AMX, with oneDNN's kernels)."""
    return cpu_bf16_kind() != "none"


def precision_note(mode: str, device: torch.device) -> str | None:
    """One line for a run or a sampler that asked for bf16 on a CPU where it is correct but slower
    than fp32: no native bf16, or a Zen 4; ``None`` where the precision is as fast as it can be."""
    if mode != "bf16" or device.type != "cpu":
        return None
    kind = cpu_bf16_kind()
    if kind == "none":
        return ("precision bf16 on a CPU without native bf16 (no AVX512-BF16 or AMX, or no oneDNN bf16 kernels): "
                "PyTorch computes it on its slow reference path, many times slower than fp32 (20x for a DCGAN "
                "step on an AVX2 CPU); fp32 is faster here")
    if kind == "avx512-zen4":
        return ("precision bf16 on an AMD Zen 4 CPU: its bf16 convolutions measured slower than fp32 "
                "(a DCGAN-64 step 3.6x slower); fp32 is faster here for convolutional models")
    return None


class Precision:
    """Autocast context and the backward/step path for one precision mode."""

    def __init__(self, device: torch.device, mode: str) -> None:
        self.device = device
        self.mode = mode
        self.dtype = AUTOCAST_DTYPES[mode]
        self.scalers: dict[str, torch.amp.GradScaler] = {}

    def attach(self, **optimizers: torch.optim.Optimizer) -> None:
        """Create one GradScaler per named optimiser when running fp16."""
        self._names = {id(opt): name for name, opt in optimizers.items()}
        if self.mode == "fp16":
            self.scalers = {name: torch.amp.GradScaler(self.device.type) for name in optimizers}

    def autocast(self) -> AbstractContextManager[Any]:
        return autocast_for(self.device, self.mode)

    def optimize(self, loss: Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Zero this optimiser's gradients, backpropagate ``loss`` and step."""
        optimizer.zero_grad(set_to_none=True)
        scaler = self.scalers.get(self._names.get(id(optimizer), ""))
        if scaler is None:
            loss.backward()
            optimizer.step()
            return
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler_state in state.items():
            if name in self.scalers:
                self.scalers[name].load_state_dict(scaler_state)
