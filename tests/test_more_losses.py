"""The hinge and least-squares losses against values worked out by hand."""

from __future__ import annotations

import pytest
import torch

from ganzoo.builtin.losses import HingeLoss, LeastSquaresLoss, LeastSquaresOptions

REAL = torch.tensor([2.0, 0.5, -1.0])
FAKE = torch.tensor([-3.0, 0.0, 1.0])


def test_hinge_by_hand():
    loss = HingeLoss()
    # real: relu(1 - [2, 0.5, -1]) = [0, 0.5, 2] -> mean 5/6; fake: relu(1 + [-3, 0, 1]) = [0, 1, 2] -> mean 1
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(5 / 6 + 1)
    assert loss.generator_loss(FAKE).item() == pytest.approx(2 / 3)  # -mean([-3, 0, 1])
    stats = loss.statistics(REAL, FAKE)
    assert stats["d_real"].item() == pytest.approx(0.5) and stats["d_fake"].item() == pytest.approx(-2 / 3)


def test_least_squares_by_hand():
    loss = LeastSquaresLoss(LeastSquaresOptions())
    # D: 1/2 mean((real - 1)^2) + 1/2 mean(fake^2) = 1/2 (1 + 0.25 + 4)/3 + 1/2 (9 + 0 + 1)/3
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(0.5 * 5.25 / 3 + 0.5 * 10 / 3)
    # G: 1/2 mean((fake - 1)^2) = 1/2 (16 + 1 + 0)/3
    assert loss.generator_loss(FAKE).item() == pytest.approx(0.5 * 17 / 3)


def test_least_squares_targets_are_options():
    loss = LeastSquaresLoss(LeastSquaresOptions(fake_target=-1, real_target=1, generator_target=0))
    assert loss.discriminator_loss(torch.ones(4), -torch.ones(4)).item() == 0
    assert loss.generator_loss(torch.zeros(4)).item() == 0


@pytest.mark.parametrize("loss", [HingeLoss(), LeastSquaresLoss(LeastSquaresOptions())])
def test_fp32_under_half_precision_inputs(loss):
    real, fake = REAL.to(torch.bfloat16), FAKE.to(torch.bfloat16)
    assert loss.discriminator_loss(real, fake).dtype == torch.float32
    assert loss.generator_loss(fake).dtype == torch.float32


@pytest.mark.parametrize("name", ["hinge", "least-squares"])
def test_any_variant_can_use_them_through_config(tiny_config, name):
    from ganzoo.testing import assert_finite_step, train_quietly

    result = train_quietly(tiny_config("mlp", loss={"name": name}, run={"max_steps": 2}))
    assert_finite_step(result, (1, 16, 16))
    assert result.last_stats["d_loss"] > 0
