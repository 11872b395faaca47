"""Images to PNG files: sample grids and single samples, written atomically.

A grid is a preallocated uint8 array in torchvision's ``make_grid`` layout (``nrow`` images per
row, 2 pixels of black padding around each; one image alone has no padding), filled chunk by
chunk, so that a grid of many images costs one byte per pixel and never a float copy of all
of them. Pixels are rounded exactly as ``torchvision.utils.save_image`` rounds them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from einops import rearrange
from torch import Tensor

from ganzoo.io.files import atomic_write_png

PADDING = 2


def to_pixels(images: Tensor) -> Tensor:
    """Images (B, C, H, W) in [-1, 1] as uint8 (B, H, W, C) on the CPU, rounded like ``save_image``."""
    scaled = images.detach().float().clamp(-1, 1).add(1).div(2).mul(255).add(0.5).clamp(0, 255)
    return rearrange(scaled.to("cpu", torch.uint8), "b c h w -> b h w c")


@dataclass(frozen=True)
class GridLayout:
    """Where each of ``count`` images of ``image_shape`` goes in a grid of ``nrow`` columns."""

    count: int
    image_shape: tuple[int, int, int]
    nrow: int = 8

    @property
    def padding(self) -> int:
        return 0 if self.count == 1 else PADDING

    @property
    def columns(self) -> int:
        return min(self.nrow, self.count)

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the whole grid."""
        channels, height, width = self.image_shape
        return (self.rows * (height + self.padding) + self.padding,
                self.columns * (width + self.padding) + self.padding, channels)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape)

    def origin(self, index: int) -> tuple[int, int]:
        """Top-left pixel (row, column) of image ``index``."""
        _, height, width = self.image_shape
        row, column = divmod(index, self.columns)
        return (row * (height + self.padding) + self.padding, column * (width + self.padding) + self.padding)


class SampleGrid:
    """A uint8 grid image, pasted into chunk by chunk and written as one PNG."""

    def __init__(self, layout: GridLayout) -> None:
        self.layout = layout
        self.pixels = torch.zeros(layout.shape, dtype=torch.uint8)

    def paste(self, start: int, images: Tensor) -> None:
        """Images (B, C, H, W) in [-1, 1] into places ``start .. start + B - 1``."""
        _, height, width = self.layout.image_shape
        for offset, image in enumerate(to_pixels(images)):
            top, left = self.layout.origin(start + offset)
            self.pixels[top:top + height, left:left + width] = image

    def write(self, path: Path) -> None:
        write_pixels(self.pixels, path)


def write_pixels(pixels: Tensor, path: Path) -> None:
    """A uint8 (H, W, C) image as a PNG (grey when C is 1), atomically."""
    array = pixels.numpy()
    atomic_write_png(array[..., 0] if array.shape[-1] == 1 else array, path)


def write_grid(chunks: Iterable[Tensor], layout: GridLayout, path: Path) -> None:
    """Paste each chunk of images into one uint8 grid as it comes, then write the grid once."""
    grid, start = SampleGrid(layout), 0
    for images in chunks:
        grid.paste(start, images)
        start += len(images)
    grid.write(path)


def save_sample_grid(images: Tensor, path: Path, nrow: int = 8) -> None:
    """Images in [-1, 1] as one PNG grid (torchvision's ``make_grid`` layout; one image is saved
    as itself, with no padding)."""
    grid = SampleGrid(GridLayout(len(images), tuple(images.shape[1:]), nrow))  # type: ignore[arg-type]
    grid.paste(0, images)
    grid.write(path)
