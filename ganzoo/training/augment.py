"""The run's augmentation of every image the discriminator sees, and ADA's controller of it.

A run selects a policy with ``augment.policy`` (``"translation,cutout,color"``); each name is an
``AugmentationSpec`` registered through ``ganzoo_register_augmentations`` (DiffAugment's three
are ``ganzoo.builtin.augmentations``), so a plugin adds its own. Every random draw is taken from
the ``Augmenter``'s own ``torch.Generator`` on the images' device, so that the run's own RNG is
untouched and the augmenter's state, saved in the checkpoint, makes a resumed run exact.

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
from torch import Tensor, nn

from ganzoo.errors import PluginError

Augmentation = Callable[[Tensor, torch.Generator], Tensor]


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
