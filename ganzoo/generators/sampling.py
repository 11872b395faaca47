"""Many images from a generator, fast and with bounded memory: seeded inputs, decoded chunk by chunk.

All latents (and labels) are drawn first with ``ganzoo.core.sampling.seeded_inputs``, exactly as
``Generator.sample(n, seed=...)`` draws them; they are small. Only
one chunk of images is decoded at a time, so ``ganzoo sample --num 100000`` gives the same
images as one big call would, without holding all of them as floats. Each chunk is checked for
NaN/Inf before anything is written, and the memory a job will need is estimated, and refused
with the estimate, before anything is generated.

The forward pass itself, its precision and memory layout are ``ganzoo.core.sampling``'s too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

from torch import Tensor

from ganzoo.core.contracts import count_nonfinite_images
from ganzoo.core.interfaces import Generator
from ganzoo.core.sampling import decode_chunks
from ganzoo.errors import ConfigError, WeightsError

CHUNK_SIZE = 1024
"""Images decoded at once, up to 3x64x64 each: 1,024 measured 1.1-1.3x faster than 256 on a
2-core CPU (dcgan-32, dcgan-64; larger matrices keep both cores busy), 2,048 no faster."""
CHUNK_VALUES = CHUNK_SIZE * 3 * 64 * 64
"""The float values one chunk holds at most (48 MiB); larger images come fewer at a time..."""
SMALLEST_CHUNK = 256
"""...but never fewer than 256 (what every chunk held before chunks grew with smaller images)."""
MEMORY_CAP_BYTES = 4 * 2**30
MEMINFO = Path("/proc/meminfo")
"""Where the available memory is read on Linux (``MemAvailable``); elsewhere ``os.sysconf``."""


def chunk_size_for(image_shape: tuple[int, ...]) -> int:
    """How many images of ``image_shape`` one chunk decodes (``CHUNK_SIZE``, fewer large ones)."""
    return max(SMALLEST_CHUNK, min(CHUNK_SIZE, CHUNK_VALUES // math.prod(image_shape)))


def decode_in_chunks(generator: Generator, latents: Tensor, labels: Tensor | None, source: Path,
                     chunk_size: int | None = None, precision: str = "fp32") -> Iterator[Tensor]:
    """Images for ``latents`` (and ``labels``), ``chunk_size`` (default ``chunk_size_for`` the
    generator's images) at a time, each checked finite."""
    chunk_size = chunk_size or chunk_size_for(generator.image_shape)
    for _, images in decode_chunks(generator, latents, labels, chunk_size=chunk_size, precision=precision):
        check_finite_images(images, source)
        yield images


def check_finite_images(images: Tensor, source: Path) -> None:
    """Refuse NaN/Inf pixels, which would silently become a black image."""
    if count_nonfinite_images(images):
        raise WeightsError(f"{str(source)!r}: its weights produce NaN or Inf images (for example damaged "
                           "BatchNorm statistics, or weights from a diverging run); retrain, or use another "
                           "checkpoint")


# -- memory ----------------------------------------------------------------------------------------


def available_memory_bytes() -> int | None:
    """Memory the system can still give (``MemAvailable``), or ``None`` when it cannot say."""
    try:
        for line in MEMINFO.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_bound_bytes() -> int:
    """The most one sampling job may hold: half of the available memory, at most 4 GiB."""
    available = available_memory_bytes()
    return MEMORY_CAP_BYTES if available is None else min(MEMORY_CAP_BYTES, available // 2)


SAMPLE_FIX = "ask for fewer with --num, or write one PNG each with --format png DIR"


def check_sampling_memory(num: int, image_shape: tuple[int, int, int], grid_bytes: int, *,
                          fix: str = SAMPLE_FIX, chunk_size: int | None = None) -> None:
    """Refuse, before generating anything, a job that would not fit in ``memory_bound_bytes``: the
    uint8 grid three times over (the grid, the PNG encoder's copy, the encoded bytes) and one chunk
    of float images (``chunk_size_for`` the shape unless given) with its uint8 copy."""
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    estimate = 3 * grid_bytes + min(num, chunk_size or chunk_size_for(image_shape)) * pixels * (4 + 1)
    bound = memory_bound_bytes()
    if estimate > bound:
        shape = "x".join(map(str, image_shape))
        raise ConfigError(f"{num:,} images of {shape} need about {_gib(estimate)} of memory, more than the "
                          f"{_gib(bound)} allowed (half of the available memory, at most 4 GiB); {fix}")


def _gib(count: int) -> str:
    return f"{count / 2**30:.2f} GiB" if count >= 2**28 else f"{count / 2**20:.1f} MiB"
