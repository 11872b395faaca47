"""Registers the ``mlp`` variant through the ``ganzoo`` entry-point group."""

from __future__ import annotations

from ganzoo.plugin import VariantSpec, hookimpl
from ganzoo_mlp.models import MLPDiscriminator, MLPGenerator, MLPOptions


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [VariantSpec(
        name="mlp",
        family="mlp",
        build_generator=MLPGenerator,
        build_discriminator=MLPDiscriminator,
        config_model=MLPOptions,
        description="vanilla fully connected GAN (Goodfellow et al. 2014): 100-128-256-512-1024 G, 512-256 D",
        defaults={"loss": {"name": "non-saturating"}, "strategy": {"name": "alternating"},
                  "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
    )]
