"""The Wasserstein objective: the critic's outputs are scores, not logits of a probability.

The critic maximises E[D(x)] - E[D(G(z))], an estimate of the Wasserstein-1 distance when D is
1-Lipschitz (enforced by the strategy: weight clipping or a gradient penalty); the generator
maximises E[D(G(z))]. That estimate is what training should watch, so ``statistics`` reports it
as ``wasserstein`` (shown as "W" in the progress display and written to metrics.jsonl).
"""

from __future__ import annotations

from torch import Tensor

from ganzoo.plugin import Loss


class WassersteinLoss(Loss):
    real_fake_threshold = None  # the critic's scores have no fixed zero: E[D] can drift by any constant

    def __init__(self, options: object = None) -> None:
        pass

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.float().mean() - real_logits.float().mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.float().mean()

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"wasserstein": (real_logits.detach().float().mean() - fake_logits.detach().float().mean())}
