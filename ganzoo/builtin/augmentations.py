"""DiffAugment (Zhao et al. 2020): differentiable augmentations of every image D sees.

With little data, D memorises the real images and G's signal degrades. DiffAugment applies the
same random, differentiable transformations to real *and* fake images, in the D update and in
the G update, so D never sees an unaugmented image and G's gradients pass through the
transformations. An augmentation is ``function(images, rng) -> images``: (B, C, H, W) in, the
same shape out, every random draw taken from ``rng``. The three of the paper, on images in [-1, 1]:

* ``translation``: shift by up to 1/8 of the image side in x and y (whole pixels), filling with 0;
* ``cutout``: zero one square of half the image side at a random centre (it may overhang the edge);
* ``color``: brightness + U(-0.5, 0.5), saturation x U(0, 2) around the pixel's channel mean,
  contrast x U(0.5, 1.5) around the image's mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor


def _uniform(images: Tensor, rng: torch.Generator, low: float, high: float) -> Tensor:
    """One U(low, high) per image, shaped (B, 1, 1, 1) to broadcast."""
    draws = torch.rand(images.shape[0], 1, 1, 1, generator=rng, device=images.device)
    return (low + (high - low) * draws).to(images.dtype)


def _offsets(images: Tensor, rng: torch.Generator, low: int, high: int) -> Tensor:
    """One integer in [low, high) per image, (B, 1)."""
    return torch.randint(low, high, (images.shape[0], 1), generator=rng, device=images.device)


def translation(images: Tensor, rng: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ``ratio`` of its side (zero padding): out[y, x] = in[y + dy, x + dx]."""
    batch, _, height, width = images.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy, dx = _offsets(images, rng, -shift_y, shift_y + 1), _offsets(images, rng, -shift_x, shift_x + 1)
    padded = F.pad(images, [1, 1, 1, 1])  # index 0 and side + 1 are the zero border
    rows = (torch.arange(height, device=images.device) + dy + 1).clamp(0, height + 1)  # (B, H)
    cols = (torch.arange(width, device=images.device) + dx + 1).clamp(0, width + 1)  # (B, W)
    index = torch.arange(batch, device=images.device)
    shifted = padded[index[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return rearrange(shifted, "b h w c -> b c h w")


def cutout(images: Tensor, rng: torch.Generator, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` of the side, centred anywhere on the image (clipped at the edges)."""
    _, _, height, width = images.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = _offsets(images, rng, 0, height + (1 - size_y % 2))
    centre_x = _offsets(images, rng, 0, width + (1 - size_x % 2))
    rows = torch.arange(height, device=images.device) - centre_y + size_y // 2  # (B, H): row inside the square?
    cols = torch.arange(width, device=images.device) - centre_x + size_x // 2
    inside_rows = (rows >= 0) & (rows < size_y)
    inside_cols = (cols >= 0) & (cols < size_x)
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])  # (B, H, W)
    return images * rearrange(keep, "b h w -> b 1 h w").to(images.dtype)


def color(images: Tensor, rng: torch.Generator) -> Tensor:
    """Random brightness, saturation and contrast, in that order (one draw of each per image)."""
    images = images + _uniform(images, rng, -0.5, 0.5)
    channel_mean = images.mean(dim=1, keepdim=True)
    images = (images - channel_mean) * _uniform(images, rng, 0.0, 2.0) + channel_mean
    image_mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - image_mean) * _uniform(images, rng, 0.5, 1.5) + image_mean
