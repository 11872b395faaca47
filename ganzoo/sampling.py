"""Many images from a generator, fast and with bounded memory: seeded inputs, decoded chunk by chunk.

All latents (and labels) are drawn first, exactly as ``Generator.sample(n, seed=...)`` draws
them (latents, then labels, from one CPU generator seeded with ``seed``); they are small. Only
one chunk of images is decoded at a time, so ``ganzoo sample --num 100000`` gives the same
images as one big call would, without holding all of them as floats. Each chunk is checked for
NaN/Inf before anything is written, and the memory a job will need is estimated, and refused
with the estimate, before anything is generated.

Every sampler (``Generator.sample``, ``ganzoo sample``/``interpolate``/``serve``, the evaluation,
the bench) runs the same forward pass, ``decode_batch``: eval mode, no autograd, and the
sampling precision's autocast. fp32 is the default; bf16 is opt-in (``SAMPLING_PRECISIONS``).
A convolutional generator that ``load_generator`` returns is in channels_last
(``use_sampling_layout``): oneDNN and cuDNN then convolve without reordering every activation,
which with chunks of 1,024 made CPU sampling 1.4-1.5x faster (dcgan-32, dcgan-64). It sums in
another order: fp32 images move by about 1e-6, and a few 8-bit pixels in a million by one level
(trained dcgan-32 and dcgan-64: 4 and 7 in a million; 50 DDIM steps of a trained ddpm: 31).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.contracts import count_nonfinite_images
from ganzoo.errors import ConfigError, WeightsError
from ganzoo.interfaces import Generator, labels_for, seeded_rng
from ganzoo.latent import truncate_latents

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
SAMPLING_PRECISIONS = ("fp32", "bf16", "fp16")
"""What sampling may compute in: fp32 (the default: the images the weights define), or autocast
to bf16 (CPUs, and CUDA GPUs that have it) or fp16 (CUDA). On a CPU with avx512_bf16, bf16 made
the DCGANs 1.7-1.9x faster and a ddpm 1.3x, an MLP no faster, and it changed 14-30% of the
8-bit pixels (by up to 1-4 levels in one GAN pass, 19 after 50 DDIM steps); the evaluation
records it in its protocol."""
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def sampling_precisions(device: torch.device) -> tuple[str, ...]:
    """The sampling precisions ``device`` can run: fp32 anywhere, bf16 on a CPU or a CUDA GPU
    that supports it, fp16 on CUDA."""
    if device.type == "cuda":
        return ("fp32", "bf16", "fp16") if torch.cuda.is_bf16_supported() else ("fp32", "fp16")
    return ("fp32", "bf16") if device.type == "cpu" else ("fp32",)


def check_sampling_precision(precision: str, device: torch.device) -> None:
    """Refuse, in one line, a precision that is unknown or that ``device`` cannot sample in."""
    available = sampling_precisions(device)
    if precision in available:
        return
    known = precision in SAMPLING_PRECISIONS
    raise ConfigError(f"sampling precision {precision!r} is {'not available on ' + device.type if known else 'unknown'}"
                      f"; use {' or '.join(available)}{' here' if known else ''}")


def sampling_autocast(precision: str, device: torch.device) -> AbstractContextManager[Any]:
    """The autocast that ``precision`` samples under (none for fp32); checked first."""
    check_sampling_precision(precision, device)
    dtype = _AUTOCAST_DTYPES.get(precision)
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def use_sampling_layout(generator: Generator) -> Generator:
    """Put a convolutional generator (one with 4-D weights) on a CPU or CUDA device into
    channels_last, in place, and return it: the layout its convolutions run fastest in there
    (see the module docstring for what it changes)."""
    convolutional = any(parameter.dim() == 4 for parameter in generator.parameters())
    if convolutional and generator.device.type in ("cpu", "cuda"):
        generator.to(memory_format=torch.channels_last)
    return generator


def _forward(generator: Generator, latents: Tensor, labels: Tensor | None, precision: str) -> Tensor:
    """The generator's raw output for one batch, in eval mode, without autograd, under the
    precision's autocast (in the generator's memory format and the autocast's dtype)."""
    device = generator.device
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad(), sampling_autocast(precision, device):
            return generator(latents.to(device), None if labels is None else labels.to(device))
    finally:
        generator.train(was_training)


def decode_batch(generator: Generator, latents: Tensor, labels: Tensor | None = None,
                 precision: str = "fp32") -> Tensor:
    """Images in [-1, 1] for one batch of latents (and labels), float32 and contiguous on the
    generator's device: the forward pass every sampler runs."""
    return _forward(generator, latents, labels, precision).to(torch.float32, memory_format=torch.contiguous_format)


def decode_all(generator: Generator, latents: Tensor, labels: Tensor | None = None, *,
               chunk_size: int = CHUNK_SIZE, precision: str = "fp32") -> Tensor:
    """The images of all ``latents`` in one float32 tensor on the generator's device, decoded
    ``chunk_size`` at a time straight into it (no list of chunks to concatenate)."""
    images = torch.empty((len(latents), *generator.image_shape), device=generator.device)
    for start in range(0, len(latents), chunk_size):
        stop = start + chunk_size
        images[start:stop] = _forward(generator, latents[start:stop],
                                      None if labels is None else labels[start:stop], precision)
    return images


def seeded_inputs(generator: Generator, n: int, seed: int, labels: Tensor | int | None = None,
                  truncation: float = 1.0) -> tuple[Tensor, Tensor | None]:
    """The CPU latents and labels ``generator.sample(n, seed=seed, labels=labels, truncation=...)``
    would use.

    ``labels``: one class for all, one per image, or ``None`` (seeded random classes for a
    conditional generator, drawn after the latents; ``None`` for an unconditional one). With
    ``truncation`` below 1 the entries outside the threshold are then redrawn from the same
    generator (``truncate_latents``); the latents inside it and the labels stay the same.
    """
    rng = seeded_rng(seed)
    latents = generator.sample_latents(n, generator=rng, device="cpu")
    chosen = labels_for(generator, n, labels, rng)
    return truncate_latents(latents, truncation, generator=rng), chosen


def chunk_size_for(image_shape: tuple[int, ...]) -> int:
    """How many images of ``image_shape`` one chunk decodes (``CHUNK_SIZE``, fewer large ones)."""
    return max(SMALLEST_CHUNK, min(CHUNK_SIZE, CHUNK_VALUES // math.prod(image_shape)))


def decode_in_chunks(generator: Generator, latents: Tensor, labels: Tensor | None, source: Path,
                     chunk_size: int | None = None, precision: str = "fp32") -> Iterator[Tensor]:
    """Images for ``latents`` (and ``labels``), ``chunk_size`` (default ``chunk_size_for`` the
    generator's images) at a time, each checked finite."""
    chunk_size = chunk_size or chunk_size_for(generator.image_shape)
    for start in range(0, len(latents), chunk_size):
        stop = start + chunk_size
        images = decode_batch(generator, latents[start:stop], None if labels is None else labels[start:stop],
                              precision)
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
