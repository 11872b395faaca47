"""Paths through latent space: linear and spherical interpolation between latents (the truncation
trick is ``ganzoo.core.sampling.truncate_latents``, what ``Generator.sample`` uses).

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
