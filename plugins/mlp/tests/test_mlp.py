"""The MLP GAN's architecture and one real training step."""

from __future__ import annotations

import pytest
import torch
from ganzoo_mlp.models import MLPDiscriminator, MLPGenerator, MLPOptions
from torch import nn


def test_classic_layer_sizes():
    generator = MLPGenerator(MLPOptions(), (1, 28, 28))
    widths = [m.out_features for m in generator.modules() if isinstance(m, nn.Linear)]
    assert widths == [128, 256, 512, 1024, 784]
    assert isinstance(generator.net[-1], nn.Tanh)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in generator.modules()) == 3
    discriminator = MLPDiscriminator(MLPOptions(dropout=0.3), (1, 28, 28))
    assert [m.out_features for m in discriminator.modules() if isinstance(m, nn.Linear)] == [512, 256, 1]
    assert sum(isinstance(m, nn.Dropout) for m in discriminator.modules()) == 2


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 32, 32)])
def test_shapes_and_ranges(shape):
    generator, discriminator = MLPGenerator(MLPOptions(latent_dim=8), shape), MLPDiscriminator(MLPOptions(), shape)
    images = generator(generator.sample_latents(5, device="cpu"))
    assert images.shape == (5, *shape) and images.abs().max() <= 1
    assert discriminator(images).shape == (5,)


def test_one_training_step_moves_both_players(tiny_config):
    from ganzoo.training.loop import train

    result = train(tiny_config("mlp", run={"max_steps": 3}))
    assert result.progress.global_step == 3
    assert all(torch.isfinite(torch.tensor(v)) for v in result.last_stats.values())
