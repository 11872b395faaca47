"""Images to PNG files: sample grids and single samples."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor


def save_sample_grid(images: Tensor, path: Path, nrow: int = 8) -> None:
    """Images in [-1, 1] as one PNG grid (torchvision's ``make_grid`` layout; one image is saved
    as itself, with no padding)."""
    from torchvision.utils import save_image  # imported on use: torchvision takes seconds to import

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.detach().float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
