"""Registers ``resnet``, ``sngan``, ``resnet-projection`` and ``acgan``, and the ``acgan`` strategy.

Every variant's D is spectrally normalised and trained with the hinge loss (Miyato et al. 2018).
The ResNets use the optimiser of the WGAN-GP and SNGAN ResNet experiments: Adam 2e-4,
betas (0, 0.9), five D updates per G update. The standard-CNN ``sngan`` uses the paper's
setting C, the DCGAN one: Adam 2e-4, betas (0.5, 0.999), one D update per G update.
"""

from __future__ import annotations

from ganzoo.plugin import StrategySpec, VariantSpec, hookimpl
from ganzoo_resnet.acgan import ACGANOptions, ACGANStrategy
from ganzoo_resnet.models import (
    ACGANDiscriminator,
    ConditionalResNetGenerator,
    ProjectionResNetDiscriminator,
    ResNetDiscriminator,
    ResNetGenerator,
    ResNetOptions,
)
from ganzoo_resnet.sngan import SNGANDiscriminator, SNGANGenerator, SNGANOptions

RESNET_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]}
RESNET_TRAINING = {"loss": {"name": "hinge"}, "strategy": {"name": "alternating", "options": {"d_steps": 5}},
                   "optimizer": RESNET_ADAM}


@hookimpl
def ganzoo_register_strategies() -> list[StrategySpec]:
    return [StrategySpec("acgan", ACGANStrategy, ACGANOptions,
                         "alternating updates plus the auxiliary classifier's cross-entropy: real and fake "
                         "images in D's loss, fake ones in G's (Odena et al. 2017)")]


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [
        VariantSpec(
            name="resnet",
            family="resnet",
            build_generator=ResNetGenerator,
            build_discriminator=ResNetDiscriminator,
            config_model=ResNetOptions,
            description="ResNet G and D of WGAN-GP/SNGAN for 32x32 (Gulrajani et al. 2017; Miyato et al. 2018): "
                        "SN D, hinge, Adam 2e-4 (0, 0.9), 5 D steps",
            defaults=RESNET_TRAINING,
        ),
        VariantSpec(
            name="sngan",
            family="dcgan",
            build_generator=SNGANGenerator,
            build_discriminator=SNGANDiscriminator,
            config_model=SNGANOptions,
            description="SNGAN's standard CNN (Miyato et al. 2018): SN D, hinge, Adam 2e-4 (0.5, 0.999)",
            defaults={"loss": {"name": "hinge"}, "strategy": {"name": "alternating"},
                      "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
        ),
        VariantSpec(
            name="resnet-projection",
            family="resnet",
            build_generator=ConditionalResNetGenerator,
            build_discriminator=ProjectionResNetDiscriminator,
            config_model=ResNetOptions,
            description="class-conditional ResNet (Miyato & Koyama 2018): conditional BatchNorm in G, "
                        "SN projection D, hinge",
            defaults=RESNET_TRAINING,
            conditional=True,
        ),
        VariantSpec(
            name="acgan",
            family="resnet",
            build_generator=ConditionalResNetGenerator,
            build_discriminator=ACGANDiscriminator,
            config_model=ResNetOptions,
            description="ACGAN (Odena et al. 2017) on the ResNets: conditional-BN G, SN D with an auxiliary "
                        "classifier, hinge",
            defaults={**RESNET_TRAINING, "strategy": {"name": "acgan", "options": {"d_steps": 5}}},
            conditional=True,
        ),
    ]
