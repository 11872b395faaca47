"""An exponential moving average (EMA) of the generator's weights (Karras et al. 2018; Yazici et
al. 2019), the copy that is sampled, evaluated and saved when ``ema.enabled``.

After every generator update, each parameter of the copy moves towards the live generator's:
``ema = decay_t * ema + (1 - decay_t) * g``, and buffers (BatchNorm running statistics) are
copied as they are. Before ``ema.start_step`` the copy *is* the generator (decay 0). With
``ema.rampup`` the decay warms up as in the Mean Teacher / TF ``ExponentialMovingAverage``
schedule, ``decay_t = min(decay, (1 + t) / (10 + t))`` with ``t`` the number of updates since
``start_step`` (0.1, 0.18, 0.25, ... towards ``decay``), so early weights, far from anything
good, are forgotten quickly. The update is a few ``torch._foreach`` calls on the device, with
the decay a Python float from the step counter: no host sync.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ganzoo.config import EMAConfig
from ganzoo.core.interfaces import Generator


def ema_decay(step: int, config: EMAConfig) -> float:
    """The decay of the update made after step ``step`` (0-based: the step counter before it)."""
    if step < config.start_step:
        return 0.0
    if not config.rampup:
        return config.decay
    updates = step - config.start_step
    return min(config.decay, (1 + updates) / (10 + updates))


class GeneratorEMA:
    """The averaged copy of ``generator`` (same class, same device), kept in eval mode."""

    def __init__(self, generator: Generator, config: EMAConfig) -> None:
        self.config = config
        self.module: Generator = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: Generator, step: int) -> None:
        """Move the copy towards ``generator`` after the G update of step ``step``."""
        decay = ema_decay(step, self.config)
        averaged = list(self.module.parameters())
        live = [parameter.detach() for parameter in generator.parameters()]
        if decay == 0.0:
            torch._foreach_copy_(averaged, live)
        else:
            torch._foreach_lerp_(averaged, live, 1.0 - decay)
        for mine, theirs in zip(self.module.buffers(), generator.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state)
