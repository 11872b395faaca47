"""Paths through latent space: linear and spherical interpolation between latents, and the
truncation trick (one definition, used by sampling, evaluation and ``ganzoo serve``).

Latents drawn from a high-dimensional standard normal concentrate near a sphere of radius
sqrt(d); the midpoint of a straight line between two of them is markedly shorter (about
1/sqrt(2) of that for independent draws), i.e. off the prior's typical set, which is why
spherical interpolation (slerp, Shoemake 1985; White 2016 for GANs) often gives cleaner
in-between images.
"""

from __future__ import annotations

from typing import Literal

import torch
from einops import rearrange
from torch import Tensor

from ganzoo.errors import ConfigError

InterpolationMode = Literal["linear", "slerp"]


def lerp(start: Tensor, end: Tensor, weights: Tensor) -> Tensor:
    """Points (1 - t) * start + t * end: (P, D), (P, D), (T,) -> (P, T, D)."""
    t = rearrange(weights.to(start.dtype), "t -> 1 t 1")
    return (1 - t) * rearrange(start, "p d -> p 1 d") + t * rearrange(end, "p d -> p 1 d")


def slerp(start: Tensor, end: Tensor, weights: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the great circle between ``start`` and ``end``.

    (P, D), (P, D), (T,) -> (P, T, D). With omega the angle between the two vectors:
    sin((1 - t) omega) / sin(omega) * start + sin(t omega) / sin(omega) * end. Equal-norm
    endpoints give equal-norm points all the way; (anti)parallel pairs, where the great circle
    is undefined, fall back to ``lerp``.
    """
    start_unit = start / start.norm(dim=1, keepdim=True).clamp_min(eps)
    end_unit = end / end.norm(dim=1, keepdim=True).clamp_min(eps)
    omega = torch.acos((start_unit * end_unit).sum(dim=1).clamp(-1.0, 1.0))  # (P,)
    sin_omega = torch.sin(omega)
    t = rearrange(weights.to(start.dtype), "t -> 1 t")
    omega_, sin_omega_ = rearrange(omega, "p -> p 1"), rearrange(sin_omega, "p -> p 1")
    safe_sin = torch.where(sin_omega_.abs() > eps, sin_omega_, torch.ones_like(sin_omega_))
    start_weight = torch.sin((1 - t) * omega_) / safe_sin
    end_weight = torch.sin(t * omega_) / safe_sin
    spherical = (rearrange(start_weight, "p t -> p t 1") * rearrange(start, "p d -> p 1 d")
                 + rearrange(end_weight, "p t -> p t 1") * rearrange(end, "p d -> p 1 d"))
    degenerate = rearrange(sin_omega_.abs() <= eps, "p 1 -> p 1 1")
    return torch.where(degenerate, lerp(start, end, weights), spherical)


def interpolate(start: Tensor, end: Tensor, steps: int, mode: InterpolationMode = "slerp") -> Tensor:
    """``steps`` evenly spaced points from ``start`` to ``end`` (both included), (P, steps, D)."""
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps (got {steps}); use --steps 2 or more")
    weights = torch.linspace(0.0, 1.0, steps, device=start.device)
    return slerp(start, end, weights) if mode == "slerp" else lerp(start, end, weights)


def truncation_threshold(psi: float) -> float:
    """The bound t with P(|z| <= t) = psi for z ~ N(0, 1): t = ndtri((1 + psi) / 2)."""
    return float(torch.special.ndtri(torch.tensor((1.0 + psi) / 2.0, dtype=torch.float64)))


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
    if not 0.0 < psi <= 1.0:
        raise ConfigError(f"truncation must lie in (0, 1] (got {psi}); 1 means no truncation")
    if psi == 1.0:
        return latents
    outside = latents.abs() > truncation_threshold(psi)
    count = int(outside.sum())
    uniforms = torch.rand(count, generator=generator, dtype=torch.float64)
    redrawn = torch.special.ndtri(uniforms.sub(0.5).mul(psi).add(0.5))
    truncated = latents.clone()
    truncated[outside] = redrawn.to(device=latents.device, dtype=latents.dtype)
    return truncated
