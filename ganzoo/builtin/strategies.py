"""ganzoo's own strategy beyond the alternating template: R1 (Mescheder et al. 2018), lazy."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from ganzoo.core.interfaces import Batch, Game
from ganzoo.core.steps import AlternatingOptions, AlternatingStrategy, r1_penalty


class R1Options(AlternatingOptions):
    gamma: float = Field(10.0, ge=0, le=1e4, description="R1 weight: the penalty is gamma/2 E||grad D(x)||^2")
    every: int = Field(16, ge=1, le=1000, description="lazy regularisation: apply every k steps, times k")



class R1Strategy(AlternatingStrategy):
    """The alternating game plus R1 on real data, lazy as in StyleGAN2: applied at every k-th step
    (``game.step % every == 0``) and multiplied by k, so its average weight is gamma/2; logged
    as ``r1`` (0 on the steps in between, so the logged mean is the average weight added)."""

    def __init__(self, options: R1Options) -> None:
        super().__init__(options)
        self.gamma, self.every = options.gamma, options.every

    def discriminator_penalty(self, game: Game, real: Batch, fake: Batch) -> dict[str, Tensor]:
        if game.step % self.every:
            return {"r1": torch.zeros((), device=real.images.device)}
        return {"r1": self.every * r1_penalty(game, real, self.gamma)}
