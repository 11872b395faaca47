"""Registers ``dcgan`` (any power-of-two size, 32x32 by default) and ``dcgan-64``, the classic
64x64 MNIST tutorial preset (latent 100, generator widths 512-256-128-64)."""

from __future__ import annotations

from ganzoo.plugin import VariantSpec, hookimpl
from ganzoo_dcgan.models import DCGANDiscriminator, DCGANGenerator, DCGANOptions

RADFORD_TRAINING = {"loss": {"name": "non-saturating"}, "strategy": {"name": "alternating"},
                    "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [
        VariantSpec(
            name="dcgan",
            family="dcgan",
            build_generator=DCGANGenerator,
            build_discriminator=DCGANDiscriminator,
            config_model=DCGANOptions,
            description="deep convolutional GAN (Radford et al. 2015); image size 32, 64, 128, ...",
            defaults=RADFORD_TRAINING,
        ),
        VariantSpec(
            name="dcgan-64",
            family="dcgan",
            build_generator=DCGANGenerator,
            build_discriminator=DCGANDiscriminator,
            config_model=DCGANOptions,
            description="the classic 64x64 DCGAN tutorial preset: latent 100, G widths 512-256-128-64",
            defaults={**RADFORD_TRAINING, "data": {"image_size": 64},
                      "model": {"latent_dim": 100, "ngf": 64, "ndf": 64}},
        ),
    ]
