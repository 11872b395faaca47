"""Tests of the installed plugin: the layer's values by hand, what it buys the discriminator,
registration through the real entry point, and one real training step through ganzoo."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from ganzoo_minibatch.layers import MinibatchDiscrimination
from ganzoo_minibatch.models import MinibatchDiscriminator, MinibatchGANOptions, UpsamplingGenerator

import ganzoo
from ganzoo.plugin import ConfigError

torch.set_num_threads(1)


def test_layer_matches_hand_computed_closeness() -> None:
    # One row (B=1) of two numbers (C=2), T = identity: M_i is f(x_i) itself.
    layer = MinibatchDiscrimination(in_features=2, kernels=1, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.eye(2))
    features = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    out = layer(features)
    # L1 distances: |0-1|+|0-1| = 2, |0-0|+|0-3| = 3, |1-0|+|1-3| = 3
    expected = torch.tensor([math.exp(-2) + math.exp(-3), math.exp(-2) + math.exp(-3), 2 * math.exp(-3)])
    assert out.shape == (3, 3)
    torch.testing.assert_close(out[:, :2], features)
    torch.testing.assert_close(out[:, 2], expected)


def test_collapsed_batch_is_visible_to_the_layer() -> None:
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=16, kernels=8, kernel_dim=4)
    diverse = torch.randn(10, 16) * 5
    collapsed = diverse[:1].expand(10, 16)
    closeness_diverse = layer(diverse)[:, 16:]
    closeness_collapsed = layer(collapsed)[:, 16:]
    torch.testing.assert_close(closeness_collapsed, torch.full((10, 8), 9.0))  # n - 1 identical neighbours
    assert closeness_diverse.max() < 1.0
    assert layer(diverse[:1])[:, 16:].abs().max() == 0  # a batch of one has no neighbours


def test_discriminator_judges_an_image_by_its_batch() -> None:
    torch.manual_seed(0)
    options = MinibatchGANOptions()
    discriminator = MinibatchDiscriminator(options, (1, 16, 16)).eval()
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    alone = discriminator(images[:1])
    with_copies = discriminator(images[:1].expand(8, -1, -1, -1))
    with_others = discriminator(images)
    assert with_others.shape == (8,)
    assert not torch.allclose(alone, with_copies[:1])  # same image, different verdict in a collapsed batch
    assert not torch.allclose(with_copies[:1], with_others[:1])


def test_models_shapes_and_gradients() -> None:
    options = MinibatchGANOptions(latent_dim=16, width=8, features=32, kernels=4, kernel_dim=3)
    generator = UpsamplingGenerator(options, (1, 28, 28))
    discriminator = MinibatchDiscriminator(options, (1, 28, 28))
    images = generator.sample(6, seed=0)
    assert images.shape == (6, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    generator.train()
    discriminator(generator(torch.randn(6, 16))).sum().backward()
    assert discriminator.minibatch.T.grad is not None and discriminator.minibatch.T.grad.abs().sum() > 0


def test_registered_through_the_entry_point() -> None:
    entry = ganzoo.get_registry().get("variant", "conv-minibatch")
    assert entry.plugin.distribution == "ganzoo-minibatch"
    assert "conv-minibatch" in ganzoo.list_variants("conv-*")


def _tiny_run(tmp_path: Path, **model: object):  # -> the run's RunResult
    layers = [{
        "variant": "conv-minibatch",
        "model": {"width": 8, "features": 32, "kernels": 8, "kernel_dim": 4, **model},
        "data": {"name": "mnist-embedded", "image_size": 16, "limit": 64},
        "run": {"out_dir": str(tmp_path / "run"), "epochs": 1, "max_steps": 2, "batch_size": 16,
                "device": "cpu", "log_every_steps": 1, "num_fixed_samples": 8},
    }]
    return ganzoo.train(ganzoo.make_plan(layers))


def test_one_real_training_step_through_ganzoo(tmp_path: Path) -> None:
    result = _tiny_run(tmp_path)
    assert result.progress.global_step == 2
    assert all(math.isfinite(value) for value in result.last_stats.values())
    generator = ganzoo.load_generator(result.generator_path, device="cpu")
    assert generator.sample(4, seed=1).shape == (4, 1, 16, 16)


def test_bad_options_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kernels"):
        _tiny_run(tmp_path, kernels=0)
