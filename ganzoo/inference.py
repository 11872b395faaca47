"""The forward pass every sampler runs, and the precisions and memory layout it runs in.

``Generator.sample``, ``ganzoo sample``/``interpolate``/``serve``, the evaluation and the bench
all decode latents with ``decode_batch`` (one batch) or ``decode_all`` (many, chunk by chunk):
eval mode, no autograd, and the sampling precision's autocast (``ganzoo.precision``). fp32 is
the default; bf16 and fp16 are opt-in (``SAMPLING_PRECISIONS``). This module imports nothing
of ganzoo's that knows a ``Generator``, so ``Generator.sample`` itself can use it.

A convolutional generator that ``load_generator`` returns is in channels_last
(``use_sampling_layout``): oneDNN and cuDNN then convolve without reordering every activation,
which with chunks of 1,024 made CPU sampling 1.4-1.5x faster (dcgan-32, dcgan-64). It sums in
another order: fp32 images move by about 1e-6, and a few 8-bit pixels in a million by one level
(trained dcgan-32 and dcgan-64: 4 and 7 in a million; 50 DDIM steps of a trained ddpm: 31).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganzoo.errors import ConfigError
from ganzoo.precision import Precision

if TYPE_CHECKING:
    from ganzoo.interfaces import Generator

SAMPLING_PRECISIONS = ("fp32", "bf16", "fp16")
"""What sampling may compute in: fp32 (the default: the images the weights define), or autocast
to bf16 (CPUs, and CUDA GPUs that have it) or fp16 (CUDA). On a CPU with avx512_bf16, bf16 made
the DCGANs 1.5-1.9x faster and a ddpm 1.3x, and it changed 14-30% of the 8-bit pixels (by up to
1-4 levels in one GAN pass, 19 after 50 DDIM steps); the evaluation records it in its protocol."""


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
    precision's autocast (in the generator's memory format and the autocast's dtype).
    ``no_grad``, not ``inference_mode``: that measured no faster (within 3% on dcgan-32 and mlp),
    and its tensors could not be changed in place outside it."""
    device = generator.device
    check_sampling_precision(precision, device)
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad(), Precision(device, precision).autocast():
            return generator(latents.to(device), None if labels is None else labels.to(device))
    finally:
        generator.train(was_training)


def decode_batch(generator: Generator, latents: Tensor, labels: Tensor | None = None,
                 precision: str = "fp32") -> Tensor:
    """Images in [-1, 1] for one batch of latents (and labels), float32 and contiguous on the
    generator's device."""
    return _forward(generator, latents, labels, precision).to(torch.float32, memory_format=torch.contiguous_format)


def decode_all(generator: Generator, latents: Tensor, labels: Tensor | None = None, *,
               chunk_size: int, precision: str = "fp32") -> Tensor:
    """The images of all ``latents`` in one float32 tensor on the generator's device, decoded
    ``chunk_size`` at a time straight into it (no list of chunks to concatenate)."""
    images = torch.empty((len(latents), *generator.image_shape), device=generator.device)
    for start in range(0, len(latents), chunk_size):
        stop = start + chunk_size
        images[start:stop] = _forward(generator, latents[start:stop],
                                      None if labels is None else labels[start:stop], precision)
    return images
