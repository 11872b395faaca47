"""Registers the ``conv-minibatch`` variant with ganzoo.

This module is what the ``ganzoo`` entry point names, so it is what ganzoo registers with
pluggy. Hooks only return specs: no training, no files, no printing here.
"""

from __future__ import annotations

from ganzoo.plugin import VariantSpec, hookimpl
from ganzoo_minibatch.models import MinibatchDiscriminator, MinibatchGANOptions, UpsamplingGenerator


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [VariantSpec(
        name="conv-minibatch",
        build_generator=UpsamplingGenerator,
        build_discriminator=MinibatchDiscriminator,
        config_model=MinibatchGANOptions,
        description="small conv GAN whose D uses minibatch discrimination (Salimans et al. 2016) "
                    "against mode collapse",
        # Recommended settings; a user's config file and flags override them. The batch view
        # makes D strong quickly, so it is slowed down: one-sided label smoothing and half
        # the generator's learning rate (10 epochs of MNIST on these settings: varied digits).
        defaults={"loss": {"name": "non-saturating", "options": {"real_label": 0.9}},
                  "strategy": {"name": "alternating"},
                  "optimizer": {"name": "adam", "lr": 2e-4, "d_lr": 1e-4, "betas": [0.5, 0.999]}},
    )]
