"""Registers the ``wasserstein`` loss, the ``wgan-clip`` and ``wgan-gp`` strategies, and two
variants that select them with the papers' optimisers.

Both variants use the DCGAN generator and a DCGAN critic (no sigmoid: it outputs raw scores).
``wgan-clip`` keeps the critic's BatchNorm as in Arjovsky et al.; ``wgan-gp`` has none, since
the gradient penalty is defined per sample (``layer`` normalisation may be chosen instead).
"""

from __future__ import annotations

from typing import Literal

from ganzoo_dcgan.models import DCGANDiscriminator, DCGANGenerator, DCGANOptions
from pydantic import Field

from ganzoo.plugin import LossSpec, StrategySpec, VariantSpec, hookimpl
from ganzoo_wgan.losses import WassersteinLoss
from ganzoo_wgan.strategies import ClipOptions, GradientPenaltyOptions, GradientPenaltyStrategy, WeightClippingStrategy


class GradientPenaltyCriticOptions(DCGANOptions):
    discriminator_norm: Literal["layer", "none"] = Field(
        "none", description="critic normalisation; BatchNorm is not allowed with a per-sample penalty")


@hookimpl
def ganzoo_register_losses() -> list[LossSpec]:
    return [LossSpec("wasserstein", WassersteinLoss,
                     description="critic maximises E[D(x)] - E[D(G(z))]; logs the Wasserstein estimate W")]


@hookimpl
def ganzoo_register_strategies() -> list[StrategySpec]:
    return [
        StrategySpec("wgan-clip", WeightClippingStrategy, ClipOptions,
                     "n_critic (5) critic updates, weights clipped to [-0.01, 0.01], then one G update"),
        StrategySpec("wgan-gp", GradientPenaltyStrategy, GradientPenaltyOptions,
                     "n_critic (5) critic updates with gradient penalty lambda 10 (fp32), then one G update"),
    ]


@hookimpl
def ganzoo_register_variants() -> list[VariantSpec]:
    return [
        VariantSpec(
            name="wgan-clip",
            family="dcgan",
            build_generator=DCGANGenerator,
            build_discriminator=DCGANDiscriminator,
            config_model=DCGANOptions,
            description="WGAN with weight clipping (Arjovsky et al. 2017): DCGAN G and critic, RMSprop 5e-5",
            defaults={"loss": {"name": "wasserstein"}, "strategy": {"name": "wgan-clip"},
                      "optimizer": {"name": "rmsprop", "lr": 5e-5}},
        ),
        VariantSpec(
            name="wgan-gp",
            family="dcgan",
            build_generator=DCGANGenerator,
            build_discriminator=DCGANDiscriminator,
            config_model=GradientPenaltyCriticOptions,
            description="WGAN-GP (Gulrajani et al. 2017): DCGAN G, critic without BatchNorm, Adam 1e-4 (0, 0.9)",
            defaults={"loss": {"name": "wasserstein"}, "strategy": {"name": "wgan-gp"},
                      "optimizer": {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}},
        ),
    ]
