"""Differentiable augmentation of every image the discriminator sees (DiffAugment, Zhao et al. 2020).

With little data, D memorises the real images and G's signal degrades. DiffAugment applies the
same random, differentiable transformations to real *and* fake images, in the D update and in
the G update, so D never sees an unaugmented image and G's gradients pass through the
transformations. A run selects a policy with ``augment.policy`` (``"translation,cutout,color"``);
each name is an ``AugmentationSpec`` registered through ``ganzoo_register_augmentations``, so a
plugin adds its own. An augmentation is ``function(images, rng) -> images``: (B, C, H, W) in,
the same shape out, every random draw taken from ``rng`` (a ``torch.Generator`` on the images'
device) so that the run's own RNG is untouched and the ``Augmenter``'s state, saved in the
checkpoint, makes a resumed run exact.

The three of the paper, on images in [-1, 1]:

* ``translation``: shift by up to 1/8 of the image side in x and y (whole pixels), filling with 0;
* ``cutout``: zero one square of half the image side at a random centre (it may overhang the edge);
* ``color``: brightness + U(-0.5, 0.5), saturation x U(0, 2) around the pixel's channel mean,
  contrast x U(0.5, 1.5) around the image's mean.

By default every augmentation transforms every image. ``augment.probability`` applies each one
to each image with probability p instead, and ``augment.target`` adapts p as ADA does (Karras
et al. 2020): it starts at 0, and every ``adjust_every`` steps it moves by
sign(r_t - target) x (images in those steps) / ``adjust_images``, clamped to [0, 1], where
r_t = E[sign(D(augmented real) - threshold)] over the reals D scored since the last adjustment:
near 1 when D is sure of every training image (it is overfitting), near 0 when it cannot tell.
``threshold`` is the loss's ``real_fake_threshold``. The augmenter learns which images are
augmented reals by identity (it is handed the step's real batches), and reads D's outputs on
them with a forward hook, so it works with any strategy that shows D ``game.augment(real.images)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ganzoo.errors import PluginError

Augmentation = Callable[[Tensor, torch.Generator], Tensor]


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


def augmentation_seed(seed: int) -> int:
    """The augmentation RNG's seed, derived from the run's so that its stream is not the one the
    run's own torch RNG (seeded with ``seed`` itself) draws latents from."""
    return (seed * 6364136223846793005 + 1442695040888963407) % 2**63


class Augmenter:
    """A run's policy: its augmentations in order, the probability each is applied with, and the
    RNG they draw from; with ``target``, also ADA's controller of that probability.

    Calling it augments a batch; with no augmentations it returns the images themselves. With
    probability 1 (the default) no per-image draws are made. The RNG lives on the run's device and
    is seeded from the run's seed; ``state_dict`` (RNG, probability, the signs counted since the
    last adjustment) is what the checkpoint keeps, so a resumed adaptive run is exact.
    The probability stays a device tensor, so adapting it never waits for the device.
    """

    def __init__(self, augmentations: Sequence[Augmentation], device: torch.device, seed: int, *,
                 probability: float = 1.0, target: float | None = None, adjust_every: int = 4,
                 adjust_images: int = 500_000) -> None:
        self.augmentations = list(augmentations)
        self.device = device
        self.rng = torch.Generator(device=device).manual_seed(seed)
        self.every_image = probability == 1.0 and target is None
        self.probability = torch.tensor(float(probability), device=device)
        self.target, self.adjust_every, self.adjust_images = target, adjust_every, adjust_images
        self.signs = torch.zeros(2, device=device)  # sum of sign(D(augmented real) - threshold), count
        self.last_rt = torch.zeros((), device=device)  # r_t at the last adjustment
        self.threshold = 0.0
        self._reals: tuple[Tensor, ...] = ()
        self._augmented_reals: list[weakref.ref[Tensor]] = []
        self._seen_reals = False

    def __call__(self, images: Tensor) -> Tensor:
        out = images
        for augmentation in self.augmentations:
            if self.every_image:
                out = augmentation(out, self.rng)
                continue
            augmented = augmentation(out, self.rng)
            chosen = torch.rand(out.shape[0], generator=self.rng, device=out.device) < self.probability
            out = torch.where(chosen[:, None, None, None], augmented, out)
        if self._reals and any(images is real for real in self._reals):
            self._augmented_reals.append(weakref.ref(out))
        return out

    def __bool__(self) -> bool:
        return bool(self.augmentations)

    @property
    def adaptive(self) -> bool:
        return self.target is not None

    def watch(self, discriminator: nn.Module, threshold: float) -> None:
        """Count the signs of ``discriminator``'s outputs on augmented reals (ADA's r_t)."""
        self.threshold = threshold
        discriminator.register_forward_hook(self._count_signs)

    def begin_step(self, reals: Sequence[Tensor]) -> None:
        """The real images of the step about to run: what comes back out of augmenting them is counted."""
        self._reals = tuple(reals) if self.adaptive else ()

    def _count_signs(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not args or not any(ref() is args[0] for ref in self._augmented_reals):
            return
        scores = (output[0] if isinstance(output, (tuple, list)) else output).detach().float()
        signs = torch.sign(scores - self.threshold)
        self.signs += torch.stack([signs.sum(), torch.tensor(float(signs.numel()), device=signs.device)])
        self._seen_reals = True

    def end_step(self, step: int, images_per_step: int, all_sum: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
        """After step ``step`` (1-based): every ``adjust_every`` steps move the probability by
        sign(r_t - target) x images / ``adjust_images``. ``all_sum`` adds a tensor over the ranks.
        Returns what the log shows: the probability this step used and the last r_t."""
        self._reals, self._augmented_reals = (), []
        if not self.adaptive:
            return {}
        used = self.probability.clone()
        if step % self.adjust_every == 0:
            if not self._seen_reals:
                raise PluginError("augment.target adapts to D's outputs on augmented real images, and in "
                                  f"{self.adjust_every} steps the strategy showed D none (it must call "
                                  "game.discriminator(game.augment(real.images), ...)); drop augment.target or "
                                  "fix the strategy")
            signs = all_sum(self.signs)
            self.last_rt = signs[0] / signs[1].clamp(min=1)
            adjustment = torch.sign(self.last_rt - self.target) * images_per_step * self.adjust_every / self.adjust_images
            self.probability = (self.probability + adjustment).clamp(0.0, 1.0)
            self.signs = torch.zeros_like(self.signs)
        return {"augment_p": used, "augment_rt": self.last_rt.clone()}

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": self.rng.get_state()}
        if not self.every_image:
            state.update(probability=self.probability, signs=self.signs, last_rt=self.last_rt)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        if not self.every_image:
            self.probability = state["probability"].to(self.device)
            self.signs, self.last_rt = state["signs"].to(self.device), state["last_rt"].to(self.device)
