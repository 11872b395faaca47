"""ganzoo's own losses, all computed from logits in fp32: the two of the original GAN paper, hinge,
least squares and relativistic average.

With D(x) = sigmoid(l):  -log D(x) = softplus(-l)  and  -log(1 - D(x)) = softplus(l),
which is what ``binary_cross_entropy_with_logits`` evaluates without overflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from ganzoo.core.interfaces import Loss
from ganzoo.core.options import StrictModel


class BCEOptions(StrictModel):
    real_label: float = Field(1.0, gt=0.5, le=1.0,
                              description="target for real images; 0.9 is one-sided label smoothing")


def _discriminator_bce(real_logits: Tensor, fake_logits: Tensor, real_label: float) -> Tensor:
    """-[t log D(x) + (1-t) log(1-D(x))] - log(1 - D(G(z))), averaged over each batch."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    real_targets = torch.full_like(real_logits, real_label)
    return (F.binary_cross_entropy_with_logits(real_logits, real_targets)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


class MinimaxLoss(Loss):
    """The saturating game of Goodfellow et al. (2014): G minimises log(1 - D(G(z))).

    Kept for teaching: its generator gradient vanishes when D confidently rejects fakes,
    which is exactly the situation early in training.
    """

    def __init__(self, options: BCEOptions) -> None:
        self.real_label = options.real_label

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _discriminator_bce(real_logits, fake_logits, self.real_label)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -F.softplus(fake_logits.float()).mean()  # log(1 - sigmoid(l)) = -softplus(l)


class NonSaturatingLoss(Loss):
    """The practical default: G maximises log D(G(z)) instead, same fixed point, strong gradients."""

    def __init__(self, options: BCEOptions) -> None:
        self.real_label = options.real_label

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _discriminator_bce(real_logits, fake_logits, self.real_label)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        fake_logits = fake_logits.float()
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class HingeLoss(Loss):
    """The hinge game of SAGAN/BigGAN: D minimises relu(1 - D(x)) + relu(1 + D(G(z))), G minimises -D(G(z)).

    The discriminator's outputs are margins, not logits of a probability, so ``statistics``
    reports their raw means as ``d_real``/``d_fake``.
    """

    def __init__(self, options: object = None) -> None:
        pass

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.float().mean()

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return _raw_means(real_logits, fake_logits)


class LeastSquaresOptions(StrictModel):
    fake_target: float = Field(0.0, description="a: D's target for generated images")
    real_target: float = Field(1.0, description="b: D's target for real images")
    generator_target: float = Field(1.0, description="c: the value G wants D to output for its images")

    @model_validator(mode="after")
    def _a_game(self) -> LeastSquaresOptions:
        if self.real_target == self.fake_target:
            raise ValueError(f"real_target and fake_target are both {self.real_target:g}: D could not tell real "
                             "from generated; use distinct targets such as 1 and 0")
        return self


class LeastSquaresLoss(Loss):
    """LSGAN (Mao et al. 2017) with the 0-1-1 coding: D minimises 1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2,
    G minimises 1/2 (D(G(z)) - c)^2. Outputs are regression scores, reported raw like the hinge loss's."""

    def __init__(self, options: LeastSquaresOptions) -> None:
        self.a, self.b, self.c = options.fake_target, options.real_target, options.generator_target
        self.real_fake_threshold = (self.a + self.b) / 2 if self.b > self.a else None  # reals are above it

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * ((real_logits.float() - self.b).square().mean() + (fake_logits.float() - self.a).square().mean())

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return 0.5 * (fake_logits.float() - self.c).square().mean()

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return _raw_means(real_logits, fake_logits)


def _raw_means(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """Mean discriminator outputs, for losses whose outputs are not logits of a probability."""
    return {"d_real": real_logits.detach().float().mean(), "d_fake": fake_logits.detach().float().mean()}


class RelativisticAverageLoss(Loss):
    """RaGAN (Jolicoeur-Martineau 2018), non-saturating form: each player judges whether real data
    is more realistic than the average fake, and the reverse.

    D minimises BCE(D(x) - mean D(G(z)), 1) + BCE(D(G(z)) - mean D(x), 0); G minimises the same
    with the targets swapped, which is why G's loss needs the real logits.
    """

    generator_needs_real_logits = True
    real_fake_threshold = None  # only differences between D's outputs mean anything

    def __init__(self, options: object = None) -> None:
        pass

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _relativistic(real_logits.float(), fake_logits.float())

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("the relativistic loss needs the real logits in the generator step")
        return _relativistic(fake_logits.float(), real_logits.float())

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return _raw_means(real_logits, fake_logits)


def _relativistic(winners: Tensor, losers: Tensor) -> Tensor:
    """BCE(winners - mean(losers), 1) + BCE(losers - mean(winners), 0)."""
    return (F.binary_cross_entropy_with_logits(winners - losers.mean(), torch.ones_like(winners))
            + F.binary_cross_entropy_with_logits(losers - winners.mean(), torch.zeros_like(losers)))
