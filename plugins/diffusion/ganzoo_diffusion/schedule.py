"""The forward (noising) process of Ho et al. (2020), through diffusers' ``DDPMScheduler``.

x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps, with alphabar_t = prod_{s<=t} (1 - beta_s)
and eps ~ N(0, I). The denoiser learns to predict eps from (x_t, t): the "simple" loss
E ||eps - eps_theta(x_t, t)||^2 with t uniform over the training timesteps.
"""

from __future__ import annotations

from typing import Any

from diffusers import DDPMScheduler
from torch import Tensor

from ganzoo_diffusion.options import DDPMOptions


def schedule_config(options: DDPMOptions) -> dict[str, Any]:
    """The diffusers scheduler config every scheduler of this model shares (training and sampling).

    ``clip_sample`` keeps each step's x_0 estimate in [-1, 1], the data's range."""
    return {"num_train_timesteps": options.train_timesteps, "beta_schedule": options.beta_schedule,
            "beta_start": options.beta_start, "beta_end": options.beta_end, "prediction_type": "epsilon",
            "clip_sample": True}


def noise_schedule(options: DDPMOptions) -> DDPMScheduler:
    """The training scheduler: betas, alphas_cumprod and ``add_noise``."""
    return DDPMScheduler(**schedule_config(options))


def noised(schedule: DDPMScheduler, images: Tensor, noise: Tensor, timesteps: Tensor) -> tuple[Tensor, Tensor]:
    """The denoiser's input x_t for clean ``images`` and its training target (the ``noise``)."""
    return schedule.add_noise(images, noise, timesteps), noise
