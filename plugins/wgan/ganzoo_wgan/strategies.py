"""The two ways of keeping the critic (roughly) 1-Lipschitz, as training strategies.

Both train the critic ``n_critic`` times per generator update, each time on its own real batch
(the engine hands over ``n_critic`` batches per step), as in Algorithm 1 of both papers.

* ``wgan-clip`` (Arjovsky et al. 2017) clamps every critic parameter to [-c, c] after each update.
* ``wgan-gp`` (Gulrajani et al. 2017) adds lambda * E[(||grad D(x_hat)||_2 - 1)^2] on random
  interpolates x_hat between real and fake images. The penalty is computed in fp32 with autocast
  switched off: its inner gradient would otherwise be taken in bf16/fp16, and under an fp16
  GradScaler an unscaled half-precision inner gradient can underflow. Computed this way the
  scaler only ever sees the final loss, which is exactly what ``Game.optimize`` scales.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from einops import rearrange
from pydantic import Field
from torch import Tensor, nn

from ganzoo.plugin import (
    AlternatingOptions,
    AlternatingStrategy,
    Batch,
    ConfigError,
    Discriminator,
    Game,
    Options,
    unaugmented,
)


class ClipOptions(Options):
    n_critic: int = Field(5, ge=1, le=100, description="critic updates per generator update")
    clip: float = Field(0.01, gt=0, le=10, description="critic parameters are clamped to [-clip, clip]")


class GradientPenaltyOptions(Options):
    n_critic: int = Field(5, ge=1, le=100, description="critic updates per generator update")
    gp_lambda: float = Field(10.0, ge=0, le=1e4, description="weight of the gradient penalty")


class WeightClippingStrategy(AlternatingStrategy):
    """The alternating template with every critic parameter clamped after each critic update."""

    def __init__(self, options: ClipOptions) -> None:
        super().__init__(AlternatingOptions(d_steps=options.n_critic))
        self.clip = options.clip

    def after_discriminator_update(self, game: Game) -> None:
        with torch.no_grad():
            for parameter in game.discriminator.parameters():
                parameter.clamp_(-self.clip, self.clip)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None,
                     *, mix: Tensor | None = None, augment: Callable[[Tensor], Tensor] = unaugmented) -> Tensor:
    """E[(||grad_x D(augment(x_hat))||_2 - 1)^2] over x_hat = mix * real + (1 - mix) * fake, in fp32.

    ``mix`` holds one weight per sample (uniform in [0, 1) when not given); the norm runs over
    every non-batch dimension of each sample's gradient. ``augment`` is the run's DiffAugment
    policy (``game.augment``): the critic only ever scores augmented images, so the function kept
    1-Lipschitz is D after the augmentation, as R1 does for its real images. The graph is kept so
    the penalty can be backpropagated into the critic's weights.
    """
    real, fake = real.detach().float(), fake.detach().float()
    if mix is None:
        mix = torch.rand(real.shape[0], device=real.device)
    mix = mix.float().reshape(-1, *([1] * (real.ndim - 1)))
    interpolates = (mix * real + (1 - mix) * fake).requires_grad_(True)
    with torch.autocast(real.device.type, enabled=False):
        scores = critic(augment(interpolates), labels).float()
        (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    norms = rearrange(gradients, "b ... -> b (...)").norm(2, dim=1)
    return (norms - 1).square().mean()


class GradientPenaltyStrategy(AlternatingStrategy):
    """The alternating template with lambda x the gradient penalty added to every critic loss
    (logged, weighted, as ``gradient_penalty``)."""

    def __init__(self, options: GradientPenaltyOptions) -> None:
        super().__init__(AlternatingOptions(d_steps=options.n_critic))
        self.gp_lambda = options.gp_lambda
        self._checked: int | None = None

    def discriminator_penalty(self, game: Game, real: Batch, fake: Batch) -> dict[str, Tensor]:
        self._check_critic(game.discriminator)
        penalty = gradient_penalty(game.discriminator, real.images, fake.images, fake.labels, augment=game.augment)
        return {"gradient_penalty": self.gp_lambda * penalty}

    def _check_critic(self, critic: Discriminator) -> None:
        """BatchNorm couples the samples of a batch, so per-sample gradient norms are meaningless."""
        if self._checked == id(critic):
            return
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules()):
            raise ConfigError("strategy 'wgan-gp' needs a critic without BatchNorm (the penalty is per sample); "
                              "use variant wgan-gp or set model.discriminator_norm to 'layer' or 'none'")
        self._checked = id(critic)
