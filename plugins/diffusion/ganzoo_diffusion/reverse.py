"""The reverse process: x_T (the generator's latent) to an image, a deterministic function of x_T.

* DDIM (Song et al. 2021) with eta = 0 in ``steps`` steps: no noise is added on the way, so the
  same x_T always gives the same image, and nearby x_T give nearby images (interpolation works).
* DDPM's ancestral chain (Ho et al. 2020) over every training timestep, which adds fresh noise
  at each step. That noise is drawn per image from a CPU generator seeded by a hash of the
  image's own x_T, so the chain too is a function of x_T alone, whatever the batch around it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from torch import Tensor, nn

from ganzoo_diffusion.options import Sampler


class ReverseProcess:
    """One way of sampling: the sampler, its number of denoiser evaluations, its scheduler.

    The scheduler's timesteps are set once here; ``run`` only reads it, so one process may serve
    several threads (``ganzoo serve``)."""

    def __init__(self, sampler: Sampler, steps: int, config: dict[str, Any]) -> None:
        self.sampler = sampler
        self.steps = steps if sampler == "ddim" else int(config["num_train_timesteps"])
        self.scheduler = DDIMScheduler(**config) if sampler == "ddim" else DDPMScheduler(**config)
        self.scheduler.set_timesteps(self.steps)

    @property
    def label(self) -> str:
        """``DDIM 50 steps``: how ``ganzoo bench`` names its sampling-cost row."""
        return f"{self.sampler.upper()} {self.steps} step{'s' if self.steps != 1 else ''}"

    def run(self, denoiser: nn.Module, latents: Tensor, labels: Tensor | None) -> Tensor:
        """Images in [-1, 1] from x_T = ``latents``."""
        generators = chain_generators(latents) if self.sampler == "ddpm" else None
        sample = latents
        for timestep in self.scheduler.timesteps:
            predicted_noise = denoiser(sample, timestep, labels).float()
            if generators is None:
                sample = self.scheduler.step(predicted_noise, timestep, sample, eta=0.0).prev_sample
            else:
                sample = self.scheduler.step(predicted_noise, timestep, sample, generator=generators).prev_sample
        return sample.clamp(-1.0, 1.0)


def chain_generators(latents: Tensor) -> list[torch.Generator]:
    """One CPU generator per image, seeded from the bytes of its x_T (see the module docstring)."""
    rows = latents.detach().float().cpu().flatten(start_dim=1).numpy()
    return [torch.Generator().manual_seed(int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(),
                                                         "little") >> 1) for row in rows]
