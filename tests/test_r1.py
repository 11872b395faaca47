"""The built-in ``r1`` strategy: on a linear discriminator D(x) = w.x + b the penalty is
gamma/2 ||w||^2 exactly, times k on lazy steps and zero between them, in fp32 under autocast;
and it trains a real run."""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import pytest
import torch

from ganzoo.builtin.strategies import R1Options, R1Strategy
from ganzoo.core.steps import r1_penalty
from ganzoo.plugin import Batch, Discriminator, Game


class Linear(Discriminator):
    """D(x) = <w, x> + b, so grad_x D = w for every image."""

    def __init__(self) -> None:
        super().__init__()
        self.image_shape = (1, 2, 2)
        self.weight = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0]))
        self.bias = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return images.flatten(start_dim=1) @ self.weight + self.bias


def game_at(step: int) -> Game:
    return Game(generator=None, discriminator=Linear(), loss=None, g_optimizer=None,  # type: ignore[arg-type]
                d_optimizer=None, autocast=nullcontext, optimize=lambda loss, optimizer: None, step=step)


def test_r1_of_a_linear_discriminator_is_gamma_over_two_times_the_squared_weight_norm() -> None:
    game, real = game_at(0), Batch(torch.randn(5, 1, 2, 2))
    squared_norm = 1 + 4 + 0.25 + 9
    assert float(r1_penalty(game, real, gamma=4.0).detach()) == pytest.approx(4.0 / 2 * squared_norm, rel=1e-6)


def test_lazy_steps_multiply_by_k_and_the_others_add_zero() -> None:
    strategy, real = R1Strategy(R1Options(gamma=4.0, every=3)), Batch(torch.randn(5, 1, 2, 2))
    values = []
    for step in range(7):
        game = game_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the penalty must not inherit the run's precision
            term = strategy.discriminator_penalty(game, real, real)["r1"]
        assert term.dtype == torch.float32
        values.append(float(term.detach()))
    lazy = 3 * 4.0 / 2 * (1 + 4 + 0.25 + 9)
    assert values == pytest.approx([lazy, 0, 0, lazy, 0, 0, lazy], rel=1e-6)


def test_the_penalty_reaches_the_discriminator_weights() -> None:
    game = game_at(0)
    r1_penalty(game, Batch(torch.randn(3, 1, 2, 2)), gamma=2.0).backward()
    torch.testing.assert_close(game.discriminator.weight.grad, 2.0 * game.discriminator.weight.detach())  # d/dw ||w||^2


def test_r1_trains_a_real_run_and_logs_r1(tiny_config: Any) -> None:
    from ganzoo.training.loop import train

    result = train(tiny_config("mlp", strategy={"name": "r1", "options": {"every": 2}}, run={"max_steps": 4}))
    assert result.progress.global_step == 4
    assert math.isfinite(result.last_stats["r1"]) and result.last_stats["r1"] > 0
