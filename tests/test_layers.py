"""Spectral normalisation (``ganzoo.plugin.spectrally_normalised``) and the ``spectral_norm``
option of the built-in discriminators."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganzoo.plugin import spectrally_normalised
from ganzoo.testing import assert_finite_step, train_quietly


def largest_singular_value(weight: torch.Tensor, dim: int = 0) -> float:
    """The spectral norm of ``weight`` as the matrix SN normalises: ``dim`` first, the rest flattened."""
    matrix = weight.detach().movedim(dim, 0).flatten(start_dim=1)
    return float(torch.linalg.matrix_norm(matrix, 2))


def test_every_weight_ends_with_a_largest_singular_value_of_about_one() -> None:
    torch.manual_seed(0)
    linear, conv, transposed = nn.Linear(20, 30), nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 4, 4)
    embedding, norm = nn.Embedding(10, 16), nn.BatchNorm2d(8)
    for layer in (linear, conv, transposed, embedding):
        layer.weight.data *= 7  # far from 1 before normalisation
    assert largest_singular_value(linear.weight) > 2
    model = spectrally_normalised(nn.ModuleList([linear, conv, transposed, embedding, norm])).train()
    assert not parametrize.is_parametrized(norm)
    for _ in range(20):  # each forward pass in train mode is one power iteration per layer
        linear(torch.randn(2, 20)), conv(torch.randn(2, 3, 5, 5)), transposed(torch.randn(2, 8, 3, 3))
        embedding(torch.tensor([1, 2]))
    for layer, dim in ((linear, 0), (conv, 0), (transposed, 1), (embedding, 0)):
        assert parametrize.is_parametrized(layer, "weight")
        assert largest_singular_value(layer.weight, dim) == pytest.approx(1.0, abs=1e-2)
    # the original weight is kept (and learnt); only the effective one is divided by sigma
    assert largest_singular_value(linear.parametrizations.weight.original) > 2
    assert model[0] is linear  # returns the module it was given


def test_eval_mode_reuses_the_estimate_and_applying_twice_changes_nothing() -> None:
    torch.manual_seed(0)
    layer = spectrally_normalised(nn.Linear(6, 4))
    layer.eval()
    first = layer.weight.detach().clone()
    torch.testing.assert_close(layer.weight.detach(), first, rtol=0, atol=0)  # no power iteration in eval
    spectrally_normalised(layer)
    assert len(layer.parametrizations.weight) == 1
    assert {"parametrizations.weight.0._u", "parametrizations.weight.0._v"} <= set(layer.state_dict())


@pytest.mark.parametrize("variant, shape", [("mlp", (1, 16, 16)), ("dcgan", (1, 32, 32)),
                                            ("cgan-mlp", (1, 16, 16)), ("cgan-dcgan", (1, 32, 32))])
def test_the_spectral_norm_option_normalises_every_discriminator_weight(registry, variant, shape) -> None:
    from ganzoo.training.plan import make_plan

    plan = make_plan([{"variant": variant, "model": {"spectral_norm": True}}], registry)
    spec = plan.variant.spec
    num_classes = 10 if spec.conditional else None
    discriminator = spec.build_discriminator(plan.variant.options, shape, num_classes)
    layers = [m for m in discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())  # dropped, as in SNGAN
    plain = make_plan([{"variant": variant}], registry)  # the default is unchanged: no SN
    unnormalised = spec.build_discriminator(plain.variant.options, shape, num_classes)
    assert not any(parametrize.is_parametrized(m) for m in unnormalised.modules())


def test_an_explicit_discriminator_norm_is_kept_under_spectral_norm(registry) -> None:
    from ganzoo.training.plan import make_plan

    plan = make_plan([{"variant": "dcgan", "model": {"spectral_norm": True, "discriminator_norm": "layer"}}], registry)
    assert plan.variant.options.discriminator_norm == "layer"
    assert make_plan([{"variant": "dcgan"}], registry).variant.options.discriminator_norm == "batch"


def test_a_spectrally_normalised_dcgan_trains(tiny_config) -> None:
    plan = tiny_config("dcgan", data={"image_size": 32, "limit": 16}, model={"ngf": 4, "ndf": 4, "spectral_norm": True},
                       loss={"name": "hinge"}, run={"batch_size": 8, "max_steps": 2})
    assert_finite_step(train_quietly(plan), (1, 32, 32))
