"""The DCGAN's architecture, initialisation, size rules and real training steps."""

from __future__ import annotations

import pytest
import torch
from ganzoo_dcgan.models import DCGANDiscriminator, DCGANGenerator, DCGANOptions, upsampling_stages
from torch import nn

from ganzoo.errors import ConfigError
from ganzoo.testing import assert_finite_step, assert_learned, train_quietly

TINY = {"ngf": 4, "ndf": 4}


def widths(module: nn.Module, kind: type[nn.Module]) -> list[int]:
    return [m.out_channels for m in module.modules() if isinstance(m, kind)]


def test_the_classic_64x64_preset(registry, tiny_config):
    resolved = tiny_config("dcgan-64", data={"image_size": 64})
    assert resolved.config.optimizer.lr == 2e-4 and resolved.config.optimizer.betas == (0.5, 0.999)
    assert resolved.variant.options.latent_dim == 100
    from ganzoo.training.plan import make_plan

    preset = make_plan([{"variant": "dcgan-64"}], registry)
    assert preset.config.data.image_size == 64
    generator = DCGANGenerator(preset.variant.options, (1, 64, 64))
    discriminator = DCGANDiscriminator(preset.variant.options, (1, 64, 64))
    assert widths(generator, nn.ConvTranspose2d) == [512, 256, 128, 64, 1]
    assert widths(discriminator, nn.Conv2d) == [64, 128, 256, 512, 1]
    assert isinstance(generator.net[-1], nn.Tanh)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 4
    # BatchNorm on every discriminator stage but the first; LeakyReLU(0.2); no sigmoid
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 3
    assert isinstance(discriminator.features[1], nn.LeakyReLU) and discriminator.features[1].negative_slope == 0.2
    assert not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules())


@pytest.mark.parametrize("shape, stages", [((1, 32, 32), 3), ((3, 64, 64), 4), ((1, 128, 128), 5)])
def test_depth_follows_the_image_size(shape, stages):
    assert upsampling_stages(shape) == stages
    generator = DCGANGenerator(DCGANOptions(latent_dim=8, **TINY), shape)
    discriminator = DCGANDiscriminator(DCGANOptions(**TINY), shape)
    images = generator(torch.randn(2, 8))
    assert images.shape == (2, *shape) and images.abs().max() <= 1
    assert discriminator(images).shape == (2,)
    assert len(widths(generator, nn.ConvTranspose2d)) == stages + 1


@pytest.mark.parametrize("shape", [(1, 48, 48), (1, 16, 16), (1, 32, 64), (2, 32, 32)])
def test_unsupported_shapes_are_one_clear_error(shape):
    with pytest.raises(ConfigError, match="DCGAN needs"):
        DCGANGenerator(DCGANOptions(), shape)


def test_unsupported_size_through_training_is_a_config_error(tiny_config):
    with pytest.raises(ConfigError, match="power of two >= 32"):
        train_quietly(tiny_config("dcgan", data={"image_size": 48}))


def test_radford_initialisation():
    torch.manual_seed(0)
    generator = DCGANGenerator(DCGANOptions(), (1, 64, 64))
    discriminator = DCGANDiscriminator(DCGANOptions(), (1, 64, 64))
    for module in (generator, discriminator):
        convs = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        weights = torch.cat([m.weight.flatten() for m in convs])
        assert weights.mean().abs() < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)
        scales = torch.cat([m.weight for m in module.modules() if isinstance(m, nn.BatchNorm2d)])
        assert scales.mean().item() == pytest.approx(1.0, abs=0.01) and scales.std().item() == pytest.approx(0.02, rel=0.2)
        biases = [m.bias for m in module.modules() if getattr(m, "bias", None) is not None]
        assert biases and all((b == 0).all() for b in biases)


@pytest.mark.parametrize("loss", ["non-saturating", "minimax", "hinge", "least-squares"])
def test_one_training_step_per_loss(tiny_config, loss):
    resolved = tiny_config("dcgan", data={"image_size": 32, "limit": 32}, model=TINY, loss={"name": loss},
                           run={"batch_size": 8, "max_steps": 1})
    assert_finite_step(train_quietly(resolved), (1, 32, 32))


def test_three_channels_train(tiny_config):
    rgb = tiny_config("dcgan", data={"image_size": 32, "limit": 16, "channels": 3}, model=TINY,
                      run={"batch_size": 8, "max_steps": 1})
    assert_finite_step(train_quietly(rgb), (3, 32, 32))


def test_the_64x64_preset_trains(tiny_config):
    preset = tiny_config("dcgan-64", data={"image_size": 64, "limit": 8}, run={"batch_size": 4, "max_steps": 1})
    assert_finite_step(train_quietly(preset), (1, 64, 64))


@pytest.mark.slow
def test_brief_training_moves_the_losses_and_makes_varied_samples(tiny_config):
    resolved = tiny_config("dcgan", data={"image_size": 32, "limit": 512}, model={"ngf": 8, "ndf": 8},
                           run={"batch_size": 32, "epochs": 2, "log_every_steps": 4})
    # an untrained DCGAN G (weights N(0, 0.02)) gives a per-pixel std of ~1e-4; 32 steps give ~0.05
    assert_learned(train_quietly(resolved), min_pixel_std=0.02)
