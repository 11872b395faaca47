"""Device choice and mixed precision: the only place that knows about CUDA, MPS and autocast.

On CUDA the default is mixed precision: bf16 autocast where the GPU supports it, otherwise fp16
with one ``GradScaler`` per optimiser (each player's loss scale evolves on its own). On CPU and
MPS the default is fp32; bf16 autocast can be asked for.
"""

from __future__ import annotations

import platform
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import ConfigError


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {requested!r} asked for but CUDA is not available; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {requested!r} does not exist: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for but MPS is not available; use --device cpu or auto")
    return device


def hardware_name(device: torch.device) -> str:
    """What a device is, for the record beside a measurement: the GPU's name, the CPU's model
    name (Linux ``/proc/cpuinfo``, else ``platform``), or the device type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def resolve_precision(requested: str, device: torch.device) -> str:
    """Turn ``auto`` into ``bf16``/``fp16`` on CUDA and ``fp32`` elsewhere; check the rest."""
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError("precision fp16 needs CUDA (GradScaler); use --precision bf16 or fp32 here")
    return requested


_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast context and the backward/step path for one precision mode."""

    def __init__(self, device: torch.device, mode: str) -> None:
        self.device = device
        self.mode = mode
        self.dtype = _DTYPES[mode]
        self.scalers: dict[str, torch.amp.GradScaler] = {}

    def attach(self, **optimizers: torch.optim.Optimizer) -> None:
        """Create one GradScaler per named optimiser when running fp16."""
        self._names = {id(opt): name for name, opt in optimizers.items()}
        if self.mode == "fp16":
            self.scalers = {name: torch.amp.GradScaler(self.device.type) for name in optimizers}

    def autocast(self) -> AbstractContextManager[Any]:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

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
