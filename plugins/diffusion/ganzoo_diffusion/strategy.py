"""The ``denoising`` strategy: one step of Ho et al.'s simple loss, on the run loop's ``SoloGame``.

For each real image x_0: draw t uniformly from the training timesteps and eps ~ N(0, I), noise
the image to x_t, and regress the denoiser's output on eps (mean squared error, in fp32). The
noise and timesteps are drawn through ``game.draw``, so DDP ranks stay in lock-step, and from
the run's global RNG, which checkpoints carry, so a resumed run is bit-for-bit the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.plugin import Batch, ConfigError, NoOptions, SoloGame, TrainingStrategy


class DenoisingStrategy(TrainingStrategy):
    """One denoiser update per real batch; reports the noise-prediction MSE as ``g_loss``."""

    def __init__(self, options: NoOptions) -> None:
        self.batches_per_step = 1

    def step(self, game: SoloGame, batches: Sequence[Batch]) -> dict[str, Tensor]:
        from ganzoo_diffusion.models import DDPMGenerator  # here: registering the plugin must not import diffusers
        from ganzoo_diffusion.schedule import noised

        generator = game.generator
        if not isinstance(generator, DDPMGenerator):
            raise ConfigError(f"strategy 'denoising' trains the ddpm variants (ganzoo-diffusion); this generator is a "
                              f"{type(generator).__name__}: use that variant's own strategy")
        real = batches[0]
        images, device = real.images, real.images.device
        timesteps = game.draw(lambda n: torch.randint(generator.options.train_timesteps, (n,), device=device), len(real))
        noise = game.draw(lambda n: torch.randn(n, *images.shape[1:], device=device), len(real))
        noisy, target = noised(generator.schedule, images, noise, timesteps)
        with game.autocast():
            predicted = game.network(noisy, timesteps, real.labels)
        loss = F.mse_loss(predicted.float(), target.float())
        game.optimize(loss, game.g_optimizer)
        return {"g_loss": loss.detach()}
