"""WGAN: the wasserstein loss, weight clipping, the gradient penalty by hand, and real training steps."""

from __future__ import annotations

import math
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from ganzoo_dcgan.models import DCGANDiscriminator
from ganzoo_wgan.losses import WassersteinLoss
from ganzoo_wgan.strategies import GradientPenaltyOptions, GradientPenaltyStrategy, gradient_penalty
from torch import Tensor, nn

from ganzoo.core.interfaces import Batch, Discriminator, Game, Generator
from ganzoo.errors import ConfigError
from ganzoo.generators.weights import load_generator
from ganzoo.testing import assert_finite_step, assert_learned, logged_steps, train_quietly
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.outputs import format_stats

TINY = {"ngf": 4, "ndf": 4, "latent_dim": 8}
STEP = {"batch_size": 8, "max_steps": 1}  # n_critic = 5 batches of 8 for one step
SHAPE_32 = (1, 32, 32)


class LinearCritic(Discriminator):
    """f(x) = w . flatten(x) + b: its gradient with respect to every input is exactly w."""

    def __init__(self, weight: list[float]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([weight]))
        self.bias = nn.Parameter(torch.tensor([0.5]))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(F.linear(rearrange(images, "b ... -> b (...)"), self.weight, self.bias), "b 1 -> b")


class HalfSquaredNormCritic(nn.Module):
    """f(x) = 1/2 ||x||^2 per sample: its input gradient is x itself."""

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return 0.5 * images.square().sum(dim=(1, 2, 3))


# w = (0.3, 0.4, 1.2, 0): ||w|| = sqrt(0.09 + 0.16 + 1.44) = 1.3, so the penalty is (1.3 - 1)^2 = 0.09.
# None of these weights is exact in bf16 (0.3 -> 0.30078...), so a bf16 inner gradient would miss it.
W = [0.3, 0.4, 1.2, 0.0]
PENALTY_OF_W = 0.09


def test_wasserstein_loss_by_hand():
    real, fake = torch.tensor([2.0, 1.0, 0.0]), torch.tensor([-1.0, 0.5, -2.5])  # means 1 and -1
    loss = WassersteinLoss()
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(-2.0)  # E[D(G(z))] - E[D(x)]
    assert loss.generator_loss(fake).item() == pytest.approx(1.0)
    assert loss.statistics(real, fake) == {"wasserstein": pytest.approx(2.0)}
    assert loss.discriminator_loss(real.bfloat16(), fake.bfloat16()).dtype == torch.float32


def test_penalty_of_a_linear_critic_is_the_distance_of_its_weight_norm_from_one():
    critic = LinearCritic(W)
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    penalty = gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(PENALTY_OF_W, rel=1e-5)
    # the graph is kept for the critic's update: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    penalty.backward()
    torch.testing.assert_close(critic.weight.grad, 2 * 0.3 / 1.3 * torch.tensor([W]))


def test_penalty_is_taken_through_the_augmentation_d_sees():
    # D only ever scores augmented images, so the penalty keeps D(augment(x)) 1-Lipschitz: with
    # augment(x) = 2x the linear critic's gradient is 2w, ||2w|| = 2.6, penalty (2.6 - 1)^2 = 2.56
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    penalty = gradient_penalty(LinearCritic(W), real, fake, augment=lambda images: 2 * images)
    assert penalty.item() == pytest.approx(1.6**2, rel=1e-5)


def test_penalty_norms_are_per_sample_over_every_non_batch_dimension():
    # mixes (1, 1/2, 0) of constant images give interpolates filled with 0.25, 0.5 and 0; with
    # 2 x 2 x 4 = 16 values each, the gradients (= the interpolates) have norms 4 * fill = 1, 2, 0
    shape = (2, 2, 4)
    real = torch.stack([torch.full(shape, v) for v in (0.25, 1.0, 7.0)])
    fake = torch.stack([torch.full(shape, v) for v in (9.0, 0.0, 0.0)])
    penalty = gradient_penalty(HalfSquaredNormCritic(), real, fake, mix=torch.tensor([1.0, 0.5, 0.0]))
    assert penalty.item() == pytest.approx(((1 - 1) ** 2 + (2 - 1) ** 2 + (0 - 1) ** 2) / 3)


def test_penalty_is_fp32_under_bf16_autocast_and_half_precision_inputs():
    critic = LinearCritic(W)
    real, fake = torch.randn(4, 1, 2, 2).bfloat16(), torch.randn(4, 1, 2, 2).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, real, fake)
    assert penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(PENALTY_OF_W, rel=1e-5)  # bf16 would give 0.0919


class TinyGenerator(Generator):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = 3, (1, 2, 2)
        self.net = nn.Linear(3, 4)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(torch.tanh(self.net(latents)), "b (c h w) -> b c h w", c=1, h=2, w=2)


def test_gradient_penalty_strategy_adds_lambda_times_the_penalty_to_the_critic_loss():
    torch.manual_seed(0)
    generator, critic = TinyGenerator(), LinearCritic(W)

    def optimize(loss: Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    game = Game(generator, critic, WassersteinLoss(), torch.optim.SGD(generator.parameters(), lr=0.1),
                torch.optim.SGD(critic.parameters(), lr=0.1), autocast=nullcontext, optimize=optimize)
    strategy = GradientPenaltyStrategy(GradientPenaltyOptions(n_critic=1, gp_lambda=10))
    stats = strategy.step(game, [Batch(torch.rand(8, 1, 2, 2) * 2 - 1)])
    # one critic update, its loss taken before the update: -(E[D(x)] - E[D(G(z))]) + 10 * 0.09;
    # the penalty is logged as it enters the loss, weighted
    assert stats["gradient_penalty"].item() == pytest.approx(10 * PENALTY_OF_W, rel=1e-5)
    assert stats["d_loss"].item() == pytest.approx(-stats["wasserstein"].item() + 10 * PENALTY_OF_W, rel=1e-5)
    assert not torch.equal(critic.weight.detach(), torch.tensor([W]))  # and the critic did move


def test_variants_carry_the_papers_settings(tiny_config):
    clip = tiny_config("wgan-clip", data={"image_size": 32})
    assert clip.config.loss.name == "wasserstein" and clip.config.strategy.name == "wgan-clip"
    assert (clip.strategy.options.n_critic, clip.strategy.options.clip) == (5, 0.01)
    assert clip.config.optimizer.name == "rmsprop" and clip.config.optimizer.lr == 5e-5
    gp = tiny_config("wgan-gp", data={"image_size": 32})
    assert gp.config.loss.name == "wasserstein" and gp.config.strategy.name == "wgan-gp"
    assert (gp.strategy.options.n_critic, gp.strategy.options.gp_lambda) == (5, 10.0)
    assert gp.config.optimizer.name == "adam" and gp.config.optimizer.lr == 1e-4
    assert tuple(gp.config.optimizer.betas) == (0.0, 0.9)


def test_the_gradient_penalty_critic_has_no_batchnorm_and_no_sigmoid(tiny_config):
    for norm in ({}, {"discriminator_norm": "layer"}):
        critic = DCGANDiscriminator(tiny_config("wgan-gp", model=norm).variant.options, SHAPE_32)
        assert not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Sigmoid)) for m in critic.modules())


N_CRITIC_2 = {kind: {"strategy": {"name": f"wgan-{kind}", "options": {"n_critic": 2}}} for kind in ("clip", "gp")}
COMBINATIONS = {  # the two variants with their papers' n_critic = 5; the rest with 2, to stay fast
    "wgan-clip": ("wgan-clip", {}),
    "wgan-gp": ("wgan-gp", {}),
    "wgan-gp-layernorm": ("wgan-gp", {"model": {**TINY, "discriminator_norm": "layer"}, **N_CRITIC_2["gp"]}),
    "wgan-gp-bf16": ("wgan-gp", {"run": {**STEP, "precision": "bf16"}, **N_CRITIC_2["gp"]}),
    "dcgan-wasserstein-clip": ("dcgan", {"loss": {"name": "wasserstein"}, **N_CRITIC_2["clip"]}),
    "dcgan-wasserstein-gp": ("dcgan", {"model": {**TINY, "discriminator_norm": "none"}, "loss": {"name": "wasserstein"},
                                       **N_CRITIC_2["gp"]}),
}


@pytest.mark.parametrize("variant, sections", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_one_training_step_logs_the_wasserstein_estimate(tiny_config, variant, sections):
    layers = {"data": {"image_size": 32, "limit": 40}, "model": TINY, "run": STEP, **sections}
    result = train_quietly(tiny_config(variant, **layers))
    assert_finite_step(result, SHAPE_32)
    row = logged_steps(result)[-1]
    assert math.isfinite(row["wasserstein"])
    assert "W " in format_stats(result.last_stats)  # what the progress display shows
    if "gradient_penalty" in row:
        assert row["gradient_penalty"] >= 0


def test_mlp_with_the_wasserstein_loss_and_gradient_penalty(tiny_config):
    resolved = tiny_config("mlp", model={"latent_dim": 8, "generator_widths": [16, 16], "discriminator_widths": [16]},
                           loss={"name": "wasserstein"}, strategy={"name": "wgan-gp", "options": {"n_critic": 2}},
                           run={"max_steps": 1})
    assert_finite_step(train_quietly(resolved), (1, 16, 16))


def test_weight_clipping_clips_every_critic_parameter_and_nothing_else(tiny_config):
    resolved = tiny_config("wgan-clip", data={"image_size": 32, "limit": 16}, model=TINY,
                           strategy={"name": "wgan-clip", "options": {"n_critic": 2, "clip": 0.05}}, run=STEP)
    result = train_quietly(resolved)
    state, _, _ = load_checkpoint(result.checkpoint_path)
    critic = DCGANDiscriminator(resolved.variant.options, SHAPE_32)
    critic.load_state_dict(state["discriminator"])
    values = torch.cat([p.detach().flatten() for p in critic.parameters()])
    assert values.abs().max().item() == pytest.approx(0.05)  # BatchNorm scales start near 1: clipped to the bound
    assert (values.abs() <= 0.05).all()
    generator_values = torch.cat([p.flatten() for p in load_generator(result.generator_path, "cpu").parameters()])
    assert generator_values.abs().max() > 0.5  # the generator is not clipped


def test_a_batchnorm_critic_is_refused_by_the_gradient_penalty(tiny_config):
    resolved = tiny_config("dcgan", data={"image_size": 32, "limit": 16}, model=TINY, loss={"name": "wasserstein"},
                           strategy={"name": "wgan-gp", "options": {"n_critic": 1}}, run=STEP)
    with pytest.raises(ConfigError, match="without BatchNorm"):
        train_quietly(resolved)


@pytest.mark.slow
def test_brief_wgan_gp_training_moves_the_losses_and_makes_varied_samples(tiny_config):
    # the critic starts near-constant (weights N(0, 0.02)), so at the paper's lr 1e-4 it takes many
    # steps to reach gradient norm 1; at 1e-3 the 16 steps here move W from ~0 to ~15
    resolved = tiny_config("wgan-gp", data={"image_size": 32, "limit": 512}, model={"ngf": 8, "ndf": 8},
                           optimizer={"lr": 1e-3}, **N_CRITIC_2["gp"],
                           run={"batch_size": 32, "epochs": 2, "log_every_steps": 2})
    assert_learned(train_quietly(resolved), keys=("d_loss", "g_loss", "wasserstein"), min_pixel_std=0.02)
