"""Registers ``ddpm`` and ``ddpm-conditional`` (a class embedding in the UNet) and the
``denoising`` strategy that trains them. Nothing here imports diffusers: building a model does."""

from __future__ import annotations

from typing import Any

from ganzoo.plugin import Generator, ImageShape, NoOptions, StrategySpec, VariantSpec, hookimpl
from ganzoo_diffusion.options import DDPMOptions
from ganzoo_diffusion.strategy import DenoisingStrategy

DDPM_TRAINING: dict[str, Any] = {
    "loss": None, "strategy": {"name": "denoising"},
    "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.9, 0.999]},
    "ema": {"enabled": True, "decay": 0.999, "rampup": True},
}
"""Ho et al. (2020): Adam at 2e-4 and an EMA of the weights, which is what samples (the rampup
lets a short CPU run's average forget its first steps quickly)."""


def build_ddpm_generator(options: DDPMOptions, image_shape: ImageShape, num_classes: int | None) -> Generator:
    from ganzoo_diffusion.models import DDPMGenerator

    return DDPMGenerator(options, image_shape, num_classes)


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [
        VariantSpec(name="ddpm", family="ddpm", build_generator=build_ddpm_generator, config_model=DDPMOptions,
                    description="denoising diffusion (Ho et al. 2020) on diffusers' UNet2DModel; no discriminator; "
                                "samples with DDIM (model.steps, default 50) or the full DDPM chain",
                    defaults=DDPM_TRAINING),
        VariantSpec(name="ddpm-conditional", family="ddpm", build_generator=build_ddpm_generator, config_model=DDPMOptions,
                    description="class-conditional ddpm: a class embedding added to the UNet's timestep embedding",
                    defaults=DDPM_TRAINING, conditional=True),
    ]


@hookimpl
def ganzoo_register_strategies() -> list[StrategySpec]:
    return [StrategySpec("denoising", DenoisingStrategy, NoOptions,
                         "DDPM's simple loss: predict the noise added at a uniform timestep (variants without a D)",
                         adversarial=False)]
