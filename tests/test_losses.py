"""Loss values against hand-computed ones."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.builtin.losses import BCEOptions, MinimaxLoss, NonSaturatingLoss

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def expected_d_loss(real_label: float = 1.0) -> float:
    real = sum(-(real_label * math.log(sigmoid(r)) + (1 - real_label) * math.log(1 - sigmoid(r)))
               for r in REAL.tolist()) / 2
    fake = sum(-math.log(1 - sigmoid(f)) for f in FAKE.tolist()) / 2
    return real + fake


@pytest.mark.parametrize("loss_class", [MinimaxLoss, NonSaturatingLoss])
@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_discriminator_loss_is_binary_cross_entropy(loss_class, real_label):
    loss = loss_class(BCEOptions(real_label=real_label))
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(expected_d_loss(real_label), rel=1e-6)


def test_minimax_generator_minimises_log_one_minus_d():
    value = MinimaxLoss(BCEOptions()).generator_loss(FAKE).item()
    assert value == pytest.approx(sum(math.log(1 - sigmoid(f)) for f in FAKE.tolist()) / 2, rel=1e-6)


def test_non_saturating_generator_minimises_minus_log_d():
    value = NonSaturatingLoss(BCEOptions()).generator_loss(FAKE).item()
    assert value == pytest.approx(sum(-math.log(sigmoid(f)) for f in FAKE.tolist()) / 2, rel=1e-6)


def test_non_saturating_gradient_does_not_vanish_where_minimax_does():
    """When D confidently rejects a fake (logit -10), minimax barely moves G; non-saturating does."""
    logits = torch.tensor([-10.0], requires_grad=True)
    MinimaxLoss(BCEOptions()).generator_loss(logits).backward()
    minimax_grad = logits.grad.abs().item()
    logits.grad = None
    NonSaturatingLoss(BCEOptions()).generator_loss(logits).backward()
    assert minimax_grad < 1e-4 < 0.9 < logits.grad.abs().item()


def test_losses_stay_finite_for_extreme_and_half_precision_logits():
    extreme = torch.tensor([1e4, -1e4], dtype=torch.bfloat16)
    loss = NonSaturatingLoss(BCEOptions())
    assert torch.isfinite(loss.discriminator_loss(extreme, extreme)) and torch.isfinite(loss.generator_loss(extreme))
    assert loss.generator_loss(extreme).dtype == torch.float32
