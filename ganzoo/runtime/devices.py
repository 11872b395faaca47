"""Devices: which one a run uses, what the hardware is called, and its peak memory.

The only module besides ``precision`` that knows about CUDA and MPS, so the rest of ganzoo
passes a ``torch.device`` around and never asks torch which backends exist.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

from ganzoo.errors import ConfigError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
"""The devices users may name: auto, cpu, mps, cuda or cuda:N."""


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(requested, str) or not DEVICE_PATTERN.match(requested):
        raise ConfigError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
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


def describe_device(device: torch.device) -> str:
    """The hardware, and on a CPU how many threads torch computes with (the speed depends on it)."""
    name = hardware_name(device)
    return f"{name} ({torch.get_num_threads()} threads)" if device.type == "cpu" else name


def reset_peak_memory(device: torch.device) -> None:
    """CUDA: reset the allocator's peak. CPU: reset the process's peak RSS (Linux ``clear_refs``)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux: the peak then covers the whole process so far


def read_peak_memory(device: torch.device) -> int:
    """Bytes: CUDA max allocated, or the process's peak resident set size on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    scale = 1 if platform.system() == "Darwin" else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def synchronize(device: torch.device) -> None:
    """Wait until the device has done the work queued on it, so that a timer stops after it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
