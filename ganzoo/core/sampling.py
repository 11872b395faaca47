"""What ``Generator.sample`` does, in one place: seeded inputs, then the forward pass in the
sampling precision and memory layout.

``Generator.sample``, ``ganzoo sample``/``interpolate``/``serve``, the evaluation and the bench
all draw their inputs with ``seeded_inputs`` (latents, then labels, then the truncation
trick's redraws, from one CPU generator seeded with ``seed``, so a seed means the same latents on
every device) and decode them with ``decode_batch`` (one batch), ``decode_chunks`` (many, one
chunk at a time: the one chunk loop) or ``decode_all`` (many, into one tensor): eval mode, no
autograd, and the sampling precision's autocast. fp32 is the default; bf16 and fp16 are opt-in
(``SAMPLING_PRECISIONS``). This module knows a generator only as the ``Sampler`` protocol, so
``ganzoo.core.interfaces`` can build ``Generator.sample`` on it.

A convolutional generator that ``load_generator`` returns is in channels_last
(``use_sampling_layout``): oneDNN and cuDNN then convolve without reordering every activation,
which with chunks of 1,024 made CPU sampling 1.4-1.5x faster (dcgan-32, dcgan-64). It sums in
another order: fp32 images move by about 1e-6, and a few 8-bit pixels in a million by one level
(trained dcgan-32 and dcgan-64: 4 and 7 in a million; 50 DDIM steps of a trained ddpm: 31).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ganzoo.errors import ConfigError

AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The autocast dtype of each precision mode (None: no autocast), for training and sampling alike."""


def autocast_for(device: torch.device, mode: str) -> AbstractContextManager[Any]:
    """The autocast context of precision ``mode`` on ``device`` (a no-op for fp32)."""
    dtype = AUTOCAST_DTYPES[mode]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


class Sampler(Protocol):
    """What sampling needs of a ``ganzoo.plugin.Generator``."""

    image_shape: tuple[int, int, int]
    num_classes: int | None
    training: bool

    @property
    def device(self) -> torch.device: ...

    def __call__(self, latents: Tensor, labels: Tensor | None = None) -> Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...

    def sample_latents(self, n: int, *, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> Tensor: ...

    def sample_labels(self, n: int, *, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> Tensor | None: ...

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


def use_sampling_layout(generator: Sampler) -> Sampler:
    """Put a convolutional generator (one with 4-D weights) on a CPU or CUDA device into
    channels_last, in place, and return it: the layout its convolutions run fastest in there
    (see the module docstring for what it changes)."""
    convolutional = any(parameter.dim() == 4 for parameter in generator.parameters())
    if convolutional and generator.device.type in ("cpu", "cuda"):
        generator.to(memory_format=torch.channels_last)
    return generator


def _forward(generator: Sampler, latents: Tensor, labels: Tensor | None, precision: str) -> Tensor:
    """The generator's raw output for one batch, in eval mode, without autograd, under the
    precision's autocast (in the generator's memory format and the autocast's dtype).
    ``no_grad``, not ``inference_mode``: that measured no faster (within 3% on dcgan-32 and mlp),
    and its tensors could not be changed in place outside it."""
    device = generator.device
    check_sampling_precision(precision, device)
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad(), autocast_for(device, precision):
            return generator(latents.to(device), None if labels is None else labels.to(device))
    finally:
        generator.train(was_training)


def decode_batch(generator: Sampler, latents: Tensor, labels: Tensor | None = None,
                 precision: str = "fp32") -> Tensor:
    """Images in [-1, 1] for one batch of latents (and labels), float32 and contiguous on the
    generator's device."""
    return _forward(generator, latents, labels, precision).to(torch.float32, memory_format=torch.contiguous_format)


def decode_chunks(generator: Sampler, latents: Tensor, labels: Tensor | None = None, *,
                  chunk_size: int, precision: str = "fp32") -> Iterator[tuple[int, Tensor]]:
    """``(start, images)`` for each ``chunk_size`` latents in turn (and their labels): the images
    of ``latents[start:start + len(images)]`` as ``decode_batch`` gives them. Only one chunk is
    decoded at a time, so memory holds the inputs and one chunk's images, whatever their number."""
    for start in range(0, len(latents), chunk_size):
        stop = start + chunk_size
        yield start, decode_batch(generator, latents[start:stop], None if labels is None else labels[start:stop],
                                  precision)


def decode_all(generator: Sampler, latents: Tensor, labels: Tensor | None = None, *,
               chunk_size: int, precision: str = "fp32") -> Tensor:
    """The images of all ``latents`` in one float32 tensor on the generator's device, each chunk
    copied into it as it is decoded (no list of chunks to concatenate)."""
    images = torch.empty((len(latents), *generator.image_shape), device=generator.device)
    for start, chunk in decode_chunks(generator, latents, labels, chunk_size=chunk_size, precision=precision):
        images[start:start + len(chunk)] = chunk
    return images


# -- the inputs ------------------------------------------------------------------------------------

SEED_LIMIT = 2**63
"""Seeds are 0 <= seed < 2**63, the range of ``torch.Generator.manual_seed`` and ``run.seed``."""


def seeded_rng(seed: int) -> torch.Generator:
    """A CPU random generator from ``seed``; a seed out of range is one line, not an overflow."""
    if not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"seed {seed!r} is out of range; use a whole number from 0 to {SEED_LIMIT - 1}")
    return torch.Generator().manual_seed(seed)


def labels_for(generator: Sampler, n: int, labels: Tensor | Sequence[int] | int | None,
                cpu_rng: torch.Generator | None) -> Tensor | None:
    """The labels ``sample`` uses: one class for all, one per image, or ``None`` (drawn from
    ``cpu_rng`` for a conditional generator); anything else is one ``ConfigError`` line."""
    if generator.num_classes is None:
        if labels is not None:
            raise ConfigError("this generator is unconditional; drop the labels (--label) to sample from it")
        return None
    if labels is None:
        return generator.sample_labels(n, generator=cpu_rng, device="cpu")
    try:
        tensor = torch.as_tensor(labels, dtype=torch.long).flatten()
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise ConfigError(f"labels must be class numbers in 0..{generator.num_classes - 1} for this generator") from None
    if tensor.numel() == 1:
        tensor = tensor.expand(n)
    if tensor.numel() != n:
        raise ConfigError(f"got {tensor.numel()} labels for {n} samples; give one label or one per sample")
    if tensor.min() < 0 or tensor.max() >= generator.num_classes:
        raise ConfigError(f"labels must lie in 0..{generator.num_classes - 1} for this generator")
    return tensor

def seeded_inputs(generator: Sampler, n: int, seed: int | None, labels: Tensor | Sequence[int] | int | None = None,
                  truncation: float = 1.0, *, latents: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """The CPU latents and labels ``generator.sample(n, seed=seed, labels=labels, truncation=...)``
    decodes: ``latents`` (or ``n`` drawn from the seeded generator), then the labels (one class for
    all, one per image, or ``None``: seeded random classes for a conditional generator), then,
    with ``truncation`` below 1, the redraws of the entries outside the threshold
    (``truncate_latents``); the latents inside it and the labels stay the same. Without a seed
    the draws come from torch's global generator."""
    rng = seeded_rng(seed) if seed is not None else None
    if latents is None:
        latents = generator.sample_latents(n, generator=rng, device="cpu")
    chosen = labels_for(generator, n, labels, rng)
    return truncate_latents(latents, truncation, generator=rng), chosen


def truncation_threshold(psi: float) -> float:
    """The bound t with P(|z| <= t) = psi for z ~ N(0, 1): t = ndtri((1 + psi) / 2)."""
    return float(torch.special.ndtri(torch.tensor((1.0 + psi) / 2.0, dtype=torch.float64)))


def check_truncation(psi: float) -> None:
    """Refuse, in one line, a truncation psi outside (0, 1] (NaN included)."""
    if not 0.0 < psi <= 1.0:
        raise ConfigError(f"truncation must lie in (0, 1] (got {psi}); 1 means no truncation")


def truncate_latents(latents: Tensor, psi: float, *, generator: torch.Generator | None = None) -> Tensor:
    """The truncation trick (Brock et al. 2019): every latent entry outside the central ``psi`` of
    the prior's probability mass, |z| > t with t = ``truncation_threshold(psi)``, is redrawn
    from N(0, 1) truncated to [-t, t]; the entries inside stay exactly as they are.

    The redraws take one uniform u per redrawn entry, in order, from ``generator`` (a CPU
    generator; the global one when ``None``) and map it to ndtri(1/2 + (u - 1/2) psi), which is
    exactly the truncated normal (what redrawing until inside would give, without a loop). So
    the result follows N(0, 1) truncated to [-t, t], and with a seeded generator it is the same
    on every device. ``psi = 1`` returns ``latents`` itself and draws nothing. Smaller ``psi``
    trades variety for fidelity. This is the one definition: ``Generator.sample(truncation=)``,
    ``ganzoo sample --truncation``, ``ganzoo eval --truncation`` and ``ganzoo serve`` use it.
    """
    check_truncation(psi)
    if psi == 1.0:
        return latents
    outside = latents.abs() > truncation_threshold(psi)
    count = int(outside.sum())
    uniforms = torch.rand(count, generator=generator, dtype=torch.float64)
    redrawn = torch.special.ndtri(uniforms.sub(0.5).mul(psi).add(0.5))
    truncated = latents.clone()
    truncated[outside] = redrawn.to(device=latents.device, dtype=latents.dtype)
    return truncated
