"""How much memory a dataset will take in memory, decided before a single image is decoded.

The in-memory path holds a dataset as one uint8 tensor of N x C x H x W bytes, so its size is
known from the file list alone. ``choose_streaming`` compares that with ``data.memory_budget_mb``
and ``data.stream`` and says which path to take, with the one line the run shows about it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganzoo.core.options import DataConfig
from ganzoo.errors import DataError
from ganzoo.io.inputs import MiB


@dataclass(frozen=True)
class HoldingPlan:
    """Whether a dataset is streamed, and the line that tells the user how it is held and why."""

    stream: bool
    note: str


def in_memory_bytes(num_images: int, image_shape: tuple[int, int, int]) -> int:
    """The bytes of the in-memory uint8 tensor: N x C x H x W."""
    return num_images * math.prod(image_shape)


def describe_bytes(count: int) -> str:
    return f"{count / MiB:,.1f} MiB" if count >= MiB else f"{count / 1024:,.1f} KiB"


def choose_streaming(name: str, num_images: int, image_shape: tuple[int, int, int], config: DataConfig,
                     *, streamable: bool = True) -> HoldingPlan:
    """In memory when it fits ``data.memory_budget_mb`` (or ``data.stream = false``), streamed otherwise.

    ``streamable`` is false for datasets published as one array file (Fashion-MNIST, CIFAR-10):
    they are read whole anyway, so over the budget they are refused rather than streamed.
    """
    needed = in_memory_bytes(num_images, image_shape)
    budget = int(config.memory_budget_mb * MiB)
    shape = "x".join(map(str, image_shape))
    size = f"{num_images:,} images of {shape} take {describe_bytes(needed)} as uint8"
    if config.stream is True and not streamable:
        raise DataError(f"dataset {name!r} is read from one array file and cannot be streamed; "
                        "set data.stream to auto or false")
    if config.stream is True:
        return HoldingPlan(True, f"dataset {name}: {size}; streaming from disk (data.stream = true)")
    if needed <= budget:
        return HoldingPlan(False, f"dataset {name}: {size} in memory "
                                  f"(budget {config.memory_budget_mb:g} MiB, data.memory_budget_mb)")
    over = (f"dataset {name!r}: {size}, more than the memory budget of {config.memory_budget_mb:g} MiB "
            "(data.memory_budget_mb)")
    if not streamable:
        raise DataError(f"{over}; raise data.memory_budget_mb, or lower data.image_size or data.limit")
    if config.stream is False:
        raise DataError(f"{over}; raise data.memory_budget_mb, or allow streaming with data.stream = auto")
    return HoldingPlan(True, f"{over}: streaming from disk with {config.workers} workers")
