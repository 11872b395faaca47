"""Pictures as PNG bytes: a sample grid, or a latent walk as one strip.

Inputs are drawn exactly as ``ganzoo sample`` and ``ganzoo interpolate`` draw them (each
request its own seeded CPU ``torch.Generator``, nothing shared between requests), so a grid
is the very image ``ganzoo sample --seed S --num N --truncation T`` writes, and two
generators with the same latent size see the same latents. These functions block; the app
runs them in the worker pool.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from einops import rearrange
from torch import Tensor

from ganzoo.core.interfaces import Generator
from ganzoo.core.sampling import seeded_inputs
from ganzoo.generators.latent import InterpolationMode, interpolate
from ganzoo.generators.sampling import check_finite_images, check_sampling_memory
from ganzoo.io.images import GridLayout, SampleGrid

GRID_COLUMNS = 8
"""As ``ganzoo sample``'s default ``--nrow``."""
FEWER = "ask for fewer samples"


def grid_png(generator: Generator, source: Path, *, num: int, seed: int, label: int | None,
             truncation: float) -> bytes:
    """``num`` samples from ``seed`` (one class for all, or seeded random ones) as a PNG grid."""
    latents, labels = seeded_inputs(generator, num, seed, label, truncation)
    return _render(generator, source, latents, labels, columns=GRID_COLUMNS)


def walk_png(generator: Generator, source: Path, *, seed: int, to_seed: int, steps: int, mode: InterpolationMode,
             label: int | None, truncation: float) -> bytes:
    """``steps`` images along the path from ``seed``'s latent to ``to_seed``'s, as one row.

    The class is ``label``, or the one ``seed`` draws for a conditional generator, all the way.
    """
    start, start_label = seeded_inputs(generator, 1, seed, label, truncation)
    end, _ = seeded_inputs(generator, 1, to_seed, label, truncation)
    path = interpolate(rearrange(start, "1 ... -> 1 (...)"), rearrange(end, "1 ... -> 1 (...)"), steps, mode)
    labels = None if start_label is None else start_label.expand(steps)
    latents = rearrange(path, "1 t d -> t d").reshape(steps, *generator.latent_shape)  # image-shaped ones too
    return _render(generator, source, latents, labels, columns=steps)


@torch.no_grad()
def _render(generator: Generator, source: Path, latents: Tensor, labels: Tensor | None, *, columns: int) -> bytes:
    layout = GridLayout(len(latents), generator.image_shape, columns)
    check_sampling_memory(len(latents), generator.image_shape, layout.nbytes, fix=FEWER)
    images = generator.sample(len(latents), latents=latents, labels=labels)
    check_finite_images(images, source)  # never a black picture that looks like a result
    grid = SampleGrid(layout)
    grid.paste(0, images)
    return png_bytes(grid.pixels)


def png_bytes(pixels: Tensor) -> bytes:
    """A uint8 (H, W, C) image as PNG, encoded exactly as ``ganzoo sample`` writes it."""
    from PIL import Image

    array = pixels.numpy()
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()
