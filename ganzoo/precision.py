"""Mixed precision: the only place that knows about autocast and gradient scalers.

On CUDA the default is mixed precision: bf16 autocast where the GPU supports it, otherwise fp16
with one ``GradScaler`` per optimiser (each player's loss scale evolves on its own). On CPU and
MPS the default is fp32; bf16 autocast can be asked for.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor

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
