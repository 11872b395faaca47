"""The ``ddpm`` generator: diffusers' ``UNet2DModel`` as the denoiser, plus its reverse process.

ganzoo's ``Generator`` contract maps a latent to an image. Here the latent is x_T, Gaussian
noise shaped like an image (``latent_shape = image_shape``), and ``forward`` runs the reverse
process on it (DDIM with eta = 0 by default), so sampling, evaluation, interpolation, serving
and benchmarking work exactly as for a GAN. Training does not go through ``forward``: the
denoising strategy runs ``training_network``, the denoiser, on noised real images.
"""

from __future__ import annotations

import copy
import math

from diffusers import UNet2DModel
from torch import Tensor, nn

from ganzoo.plugin import ConfigError, Generator, ImageShape
from ganzoo_diffusion.options import DDPMOptions, Sampler
from ganzoo_diffusion.reverse import ReverseProcess
from ganzoo_diffusion.schedule import noise_schedule, schedule_config

BENCH_DDIM_STEPS = (10, 50)
"""The DDIM step counts ``ganzoo bench`` times besides the model's own sampler and the full chain."""


class Denoiser(nn.Module):
    """(x_t, t, labels) to the predicted noise eps, same shape as x_t: the network that trains."""

    def __init__(self, options: DDPMOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        channels, height, width = image_shape
        levels = len(options.widths)
        if min(height, width) < 2 ** levels:
            raise ConfigError(f"ddpm with {levels} resolution levels needs images of at least {2 ** levels} px, got "
                              f"{height}x{width}; use fewer model.widths or a larger --image-size")
        down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D" if options.attention else "DownBlock2D"]
        up = ["AttnUpBlock2D" if options.attention else "UpBlock2D"] + ["UpBlock2D"] * (levels - 1)
        self.num_classes = num_classes
        self.unet = UNet2DModel(sample_size=(height, width), in_channels=channels, out_channels=channels,
                                layers_per_block=options.layers_per_block, block_out_channels=tuple(options.widths),
                                down_block_types=tuple(down), up_block_types=tuple(up),
                                norm_num_groups=options.norm_groups, num_class_embeds=num_classes)

    def forward(self, noisy: Tensor, timesteps: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.unet(noisy, timesteps, class_labels=labels if self.num_classes else None).sample


class DDPMGenerator(Generator):
    """x_T to images through the reverse process of a trained denoiser."""

    def __init__(self, options: DDPMOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, num_classes
        self.latent_dim = math.prod(image_shape)
        self.options = options
        self.denoiser = Denoiser(options, image_shape, num_classes)
        self.schedule = noise_schedule(options)
        self.process = ReverseProcess(options.sampler, options.steps, schedule_config(options))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return tuple(self.image_shape)

    @property
    def training_network(self) -> nn.Module:
        return self.denoiser

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.process.run(self.denoiser, latents, labels)

    def with_sampler(self, sampler: Sampler, steps: int | None = None) -> DDPMGenerator:
        """The same weights (shared, not copied) sampled another way: DDIM in ``steps`` steps, or
        the full DDPM chain."""
        view = copy.copy(self)  # shares the denoiser's parameters; only the reverse process differs
        view.process = ReverseProcess(sampler, steps or self.options.steps, schedule_config(self.options))
        return view

    def samplers(self) -> dict[str, Generator]:
        """Its own sampler, DDIM at ``BENCH_DDIM_STEPS`` and the full DDPM chain, fewest steps first."""
        views = [self.with_sampler("ddim", steps) for steps in BENCH_DDIM_STEPS
                 if steps <= self.options.train_timesteps]
        views += [self.with_sampler("ddpm"), self]
        unique = {view.process.label: view for view in sorted(views, key=lambda view: view.process.steps)}
        return dict(unique)
