"""The ResNet family: architectures, conditional BatchNorm, the projection term and ACGAN's losses
by hand, real training steps for every variant, and an exact resume."""

from __future__ import annotations

import math
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from einops import reduce
from ganzoo_resnet.acgan import ACGANOptions, ACGANStrategy
from ganzoo_resnet.blocks import ConditionalBatchNorm2d, GeneratorBlock
from ganzoo_resnet.models import (
    ACGANDiscriminator,
    ConditionalResNetGenerator,
    ProjectionResNetDiscriminator,
    ResNetDiscriminator,
    ResNetGenerator,
    ResNetOptions,
)
from ganzoo_resnet.sngan import SNGANDiscriminator, SNGANGenerator, SNGANOptions
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.plugin import Batch, ConfigError, Game, GanzooError, Loss
from ganzoo.testing import assert_finite_step, train_quietly

TINY = {"latent_dim": 8, "g_channels": 8, "d_channels": 8}
TINY_SNGAN = {"latent_dim": 8, "ngf": 4, "ndf": 4}
SHAPE = (1, 32, 32)


def test_the_papers_32x32_architectures():
    options = ResNetOptions()
    generator, discriminator = ResNetGenerator(options, (3, 32, 32)), ResNetDiscriminator(options, (3, 32, 32))
    assert generator.stem.out_features == 4 * 4 * 256 and generator.latent_dim == 128
    assert sum(isinstance(m, GeneratorBlock) for m in generator.modules()) == 3  # 4 -> 8 -> 16 -> 32
    assert isinstance(generator.head[-1], nn.Tanh)
    features = discriminator.features.blocks(torch.zeros(2, 3, 32, 32))
    assert features.shape == (2, 128, 8, 8)  # optimized block, one down block, two blocks at 8x8
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())
    weighted = [m for m in discriminator.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)  # SN by default
    sngan_d = SNGANDiscriminator(SNGANOptions(), (3, 32, 32))
    assert [m.out_channels for m in sngan_d.modules() if isinstance(m, nn.Conv2d)] == [64, 64, 128, 128, 256, 256, 512]
    sngan_g = SNGANGenerator(SNGANOptions(), (3, 32, 32))
    assert [m.out_channels for m in sngan_g.modules() if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64]


@pytest.mark.parametrize("build_g, build_d, options", [
    (ResNetGenerator, ResNetDiscriminator, ResNetOptions(**TINY)),
    (ConditionalResNetGenerator, ProjectionResNetDiscriminator, ResNetOptions(**TINY)),
    (ConditionalResNetGenerator, ACGANDiscriminator, ResNetOptions(**TINY)),
    (SNGANGenerator, SNGANDiscriminator, SNGANOptions(**TINY_SNGAN)),
], ids=["resnet", "resnet-projection", "acgan", "sngan"])
@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 32, 32), (3, 64, 64)])
def test_shapes_for_any_channels(build_g, build_d, options, shape):
    classes = 10 if getattr(build_d, "conditional", False) else None
    generator, discriminator = build_g(options, shape, classes), build_d(options, shape, classes)
    labels = torch.tensor([3, 7]) if classes else None
    images = generator(torch.randn(2, 8), labels)
    assert images.shape == (2, *shape) and images.abs().max() <= 1
    assert discriminator(images, labels).shape == (2,)


def test_unsupported_sizes_and_missing_classes_are_one_line():
    with pytest.raises(ConfigError, match="power of two >= 16"):
        ResNetGenerator(ResNetOptions(**TINY), (1, 28, 28))
    with pytest.raises(ConfigError, match="labelled dataset"):
        ProjectionResNetDiscriminator(ResNetOptions(**TINY), SHAPE, None)


def test_conditional_batch_norm_applies_each_class_gain_and_bias():
    torch.manual_seed(0)
    layer = ConditionalBatchNorm2d(2, num_classes=3).train()
    with torch.no_grad():
        layer.gain.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 3.0], [0.5, 1.0]]))
        layer.bias.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [0.0, 4.0]]))
    features, labels = torch.randn(4, 2, 3, 3), torch.tensor([0, 1, 2, 1])
    mean = features.mean(dim=(0, 2, 3), keepdim=True)
    variance = features.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normalised = (features - mean) / torch.sqrt(variance + layer.norm.eps)
    gain = layer.gain.weight[labels][:, :, None, None]
    bias = layer.bias.weight[labels][:, :, None, None]
    torch.testing.assert_close(layer(features, labels), gain * normalised + bias)


@torch.no_grad()
def test_the_projection_term_is_the_inner_product_of_class_embedding_and_features():
    torch.manual_seed(0)
    critic = ProjectionResNetDiscriminator(ResNetOptions(**TINY, spectral_norm=False), SHAPE, 10).eval()
    images = torch.rand(2, *SHAPE) * 2 - 1
    phi = reduce(F.relu(critic.features.blocks(images)), "b f h w -> b f", "sum")  # global sum pooling
    threes, sevens = critic(images, torch.tensor([3, 3])), critic(images, torch.tensor([7, 7]))
    embedding, head = critic.class_embedding.weight, critic.head
    by_hand = [float(head.bias + sum(head.weight[0, f] * phi[b, f] for f in range(8))
                     + sum(embedding[3, f] * phi[b, f] for f in range(8))) for b in range(2)]
    torch.testing.assert_close(threes, torch.tensor(by_hand), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(threes - sevens, phi @ (embedding[3] - embedding[7]))


class HingeByHand(Loss):
    def discriminator_loss(self, real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()


def acgan_game(recorded: list[torch.Tensor]) -> Game:
    """A real ACGAN G and D (no SN, G in eval: every pass is deterministic) whose optimiser steps
    are replaced by recording the loss, so the hand computation sees the same weights."""
    options = ResNetOptions(**TINY, spectral_norm=False)
    generator = ConditionalResNetGenerator(options, SHAPE, 10).eval()
    discriminator = ACGANDiscriminator(options, SHAPE, 10)
    sgd = torch.optim.SGD(discriminator.parameters(), lr=0.0)
    return Game(generator=generator, discriminator=discriminator, loss=HingeByHand(), g_optimizer=sgd,
                d_optimizer=sgd, autocast=nullcontext, optimize=lambda loss, optimizer: recorded.append(loss.detach()))


def test_the_acgan_losses_are_adversarial_plus_weighted_cross_entropy_by_hand():
    recorded: list[torch.Tensor] = []
    game = acgan_game(recorded)
    strategy = ACGANStrategy(ACGANOptions(real_class_weight=0.5, fake_class_weight=2.0, generator_class_weight=3.0))
    real = Batch(torch.rand(4, *SHAPE) * 2 - 1, torch.tensor([0, 1, 2, 3]))
    torch.manual_seed(1)
    stats = strategy.step(game, [real])
    torch.manual_seed(1)  # the same latents again, for the hand computation
    fake = game.fake_batch(4, real.labels)
    with torch.no_grad():
        d, logsoftmax = game.discriminator, torch.log_softmax
        real_logits, real_classes = d(real.images, with_class_logits=True)
        fake_logits, fake_classes = d(fake.images, with_class_logits=True)
        ce_real = -logsoftmax(real_classes, 1)[range(4), real.labels].mean()
        ce_fake = -logsoftmax(fake_classes, 1)[range(4), real.labels].mean()
        d_by_hand = (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean() + 0.5 * ce_real + 2.0 * ce_fake)
        second_fake = game.fake_batch(4, real.labels)  # the G update's fresh batch
        g_logits, g_classes = d(second_fake.images, with_class_logits=True)
        g_ce = -logsoftmax(g_classes, 1)[range(4), real.labels].mean()
    torch.testing.assert_close(recorded[0], d_by_hand)
    torch.testing.assert_close(stats["class_real"], 0.5 * ce_real)
    torch.testing.assert_close(recorded[1], -g_logits.mean() + 3.0 * g_ce)
    torch.testing.assert_close(stats["g_loss"], recorded[1])


def test_the_acgan_strategy_refuses_a_discriminator_without_a_classifier(tiny_config):
    plan = tiny_config("resnet-projection", data={"image_size": 16, "limit": 16}, model=TINY,
                       strategy={"name": "acgan"}, run={"batch_size": 8, "max_steps": 1})
    with pytest.raises(GanzooError, match="classifier head; use variant acgan"):
        train_quietly(plan)


def test_the_papers_training_settings_are_the_defaults(tiny_config):
    for variant in ("resnet", "resnet-projection", "acgan"):
        plan = tiny_config(variant)
        assert plan.loss.entry.spec.name == "hinge"
        assert plan.config.optimizer.lr == 2e-4 and plan.config.optimizer.betas == (0.0, 0.9)
        assert plan.strategy.options.d_steps == 5
    assert tiny_config("acgan").strategy.entry.spec.name == "acgan"
    sngan = tiny_config("sngan")
    assert sngan.loss.entry.spec.name == "hinge" and sngan.config.optimizer.betas == (0.5, 0.999)


@pytest.mark.parametrize("variant", ["resnet", "sngan", "resnet-projection", "acgan"])
@pytest.mark.parametrize("channels", [1, 3])
def test_three_real_steps_with_finite_losses(tiny_config, variant, channels):
    model = TINY_SNGAN if variant == "sngan" else TINY
    # the variant's own loss, strategy and optimiser, with 2 D updates per step (not 5) to stay quick
    plan = tiny_config(variant, data={"image_size": 32, "limit": 24, "channels": channels}, model=model,
                       strategy={"options": {"d_steps": 2}}, run={"batch_size": 4, "max_steps": 3, "log_every_steps": 1})
    result = train_quietly(plan)
    assert result.progress.global_step == 3
    assert_finite_step(result, (channels, 32, 32))
    if variant == "acgan":
        assert {"class_real", "class_fake", "class_generator"} <= set(result.last_stats)
        assert all(math.isfinite(result.last_stats[key]) for key in ("class_real", "class_generator"))
    generator = ganzoo.load_generator(result.generator_path, device="cpu")
    assert generator.num_classes == (10 if variant in ("resnet-projection", "acgan") else None)


def test_resume_continues_to_the_same_weights(tiny_config, tmp_path):
    """Spectral norm's power-iteration vectors are buffers: they must resume too."""
    def plan(out: str, epochs: int):
        return tiny_config("resnet", data={"image_size": 16, "limit": 16}, model=TINY,
                           strategy={"options": {"d_steps": 2}},
                           run={"out_dir": str(tmp_path / out), "epochs": epochs, "batch_size": 4,
                                "sample_every_epochs": 0})

    straight = train_quietly(plan("straight", 2))
    train_quietly(plan("split", 1))
    resumed = ganzoo.train(plan("split", 2), resume=True)
    assert resumed.progress.global_step == straight.progress.global_step == 4
    a, b = load_file(straight.checkpoint_path), load_file(resumed.checkpoint_path)
    keys = [k for k in a if k.startswith(("state.generator", "state.discriminator", "state.g_optimizer",
                                          "state.d_optimizer"))]
    assert any("_u" in k for k in keys)
    assert keys and all(torch.equal(a[k], b[k]) for k in keys)
