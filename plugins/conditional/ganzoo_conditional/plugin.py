"""Registers ``cgan-mlp`` and ``cgan-dcgan``, the class-conditional MLP GAN and DCGAN."""

from __future__ import annotations

from ganzoo.plugin import VariantSpec, hookimpl
from ganzoo_conditional.models import (
    ConditionalDCGANGenerator,
    ConditionalDCGANOptions,
    ConditionalMLPDiscriminator,
    ConditionalMLPGenerator,
    ConditionalMLPOptions,
    ProjectionDiscriminator,
)

ADAM_GAN = {"loss": {"name": "non-saturating"}, "strategy": {"name": "alternating"},
            "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [
        VariantSpec(
            name="cgan-mlp",
            family="mlp",
            build_generator=ConditionalMLPGenerator,
            build_discriminator=ConditionalMLPDiscriminator,
            config_model=ConditionalMLPOptions,
            description="conditional MLP GAN (Mirza & Osindero 2014): one-hot label beside the latent in G, "
                        "a learnt label embedding beside the image in D",
            defaults=ADAM_GAN,
            conditional=True,
        ),
        VariantSpec(
            name="cgan-dcgan",
            family="dcgan",
            build_generator=ConditionalDCGANGenerator,
            build_discriminator=ProjectionDiscriminator,
            config_model=ConditionalDCGANOptions,
            description="conditional DCGAN: one-hot label beside the latent in G, projection discriminator "
                        "(Miyato & Koyama 2018)",
            defaults=ADAM_GAN,
            conditional=True,
        ),
    ]
