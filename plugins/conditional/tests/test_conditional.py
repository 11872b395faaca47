"""Conditional GANs: labels in G and D, the projection discriminator, real steps and class sampling."""

from __future__ import annotations

import pytest
import torch
from einops import reduce
from ganzoo_conditional.models import (
    ConditionalDCGANGenerator,
    ConditionalDCGANOptions,
    ConditionalMLPGenerator,
    ConditionalMLPOptions,
    ProjectionDiscriminator,
)
from PIL import Image
from torch import nn

from ganzoo.cli import main
from ganzoo.testing import assert_finite_step, assert_learned, train_quietly

MLP = {"latent_dim": 8, "embedding_dim": 4, "generator_widths": [32, 32], "discriminator_widths": [32]}
DCGAN = {"latent_dim": 8, "ngf": 4, "ndf": 4}
SHAPE_16, SHAPE_32 = (1, 16, 16), (1, 32, 32)


@pytest.mark.parametrize("build, options, shape", [
    (ConditionalMLPGenerator, ConditionalMLPOptions(**MLP), SHAPE_16),
    (ConditionalDCGANGenerator, ConditionalDCGANOptions(**DCGAN), SHAPE_32),
], ids=["cgan-mlp", "cgan-dcgan"])
def test_the_generator_reads_the_one_hot_label_concatenated_with_the_latent(build, options, shape):
    torch.manual_seed(0)
    generator = build(options, shape, 10).eval()
    first_layer = next(m for m in generator.net.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d)))
    inputs = first_layer.in_features if isinstance(first_layer, nn.Linear) else first_layer.in_channels
    assert inputs == 8 + 10  # latent_dim + one entry per class
    assert not any("embedding" in name for name, _ in generator.named_parameters())  # nothing learnt about y in G's input
    seen = []
    first_layer.register_forward_hook(lambda module, args, output: seen.append(args[0].flatten(1)))
    latents, labels = torch.randn(1, 8).expand(2, 8), torch.tensor([3, 7])
    images = generator(latents, labels)
    torch.testing.assert_close(seen[0], torch.cat([latents, torch.eye(10)[[3, 7]]], dim=1))
    assert images.shape == (2, *shape)
    # same latent, classes 3 and 7: different images (relative: an untrained DCGAN G outputs ~1e-5)
    assert (images[0] - images[1]).abs().max() > 0.1 * images.abs().max()
    torch.testing.assert_close(generator(latents[:1], labels[:1]), images[:1])


def class_share_of_variance(generator: nn.Module, latent_dim: int) -> float:
    """How much of G's output variance the class alone explains: the same 20 latents for each of
    the 10 classes, between-class variance of the per-class means over the total."""
    torch.manual_seed(1)
    latents = torch.randn(20, latent_dim).repeat(10, 1)
    labels = torch.arange(10).repeat_interleave(20)
    with torch.no_grad():
        images = generator(latents, labels).flatten(1).view(10, 20, -1)
    total = images.var(dim=(0, 1), unbiased=False).sum()
    return float(images.mean(dim=1).var(dim=0, unbiased=False).sum() / total)


@pytest.mark.parametrize("build, options", [(ConditionalMLPGenerator, ConditionalMLPOptions()),
                                            (ConditionalDCGANGenerator, ConditionalDCGANOptions(ngf=32))],
                         ids=["cgan-mlp", "cgan-dcgan"])
def test_an_untrained_generator_varies_with_the_latent_far_more_than_with_the_class(build, options):
    """The within-class collapse of round one: with a learnt N(0, 1) label embedding the class alone
    made 7% (MLP) and 18% (DCGAN) of an untrained G's output variance at the registered sizes, and
    trained Gs ignored the latent within a class (recall 0.00). One-hot labels make it under 1%."""
    generator = build(options, (1, 32, 32), 10).train()
    assert class_share_of_variance(generator, options.latent_dim) < 0.03


def test_the_projection_term_is_the_inner_product_of_class_embedding_and_pooled_features():
    torch.manual_seed(0)
    critic = ProjectionDiscriminator(ConditionalDCGANOptions(**DCGAN), SHAPE_32, 10).eval()
    nn.init.normal_(critic.class_embedding.weight)  # larger than the N(0, 0.02) start, so the term shows
    images = torch.rand(2, *SHAPE_32) * 2 - 1
    features = reduce(critic.features(images), "b f h w -> b f", "sum")
    threes, sevens = critic(images, torch.tensor([3, 3])), critic(images, torch.tensor([7, 7]))
    assert (threes - sevens).abs().min() > 1e-3  # the label changes D's output
    unconditional = critic.head(features).squeeze(1)
    embedding = critic.class_embedding.weight
    torch.testing.assert_close(threes, unconditional + features @ embedding[3])
    torch.testing.assert_close(threes - sevens, features @ (embedding[3] - embedding[7]))


STEPS = {
    "cgan-mlp": ("cgan-mlp", {"model": MLP}, SHAPE_16),
    "cgan-dcgan": ("cgan-dcgan", {"model": DCGAN, "data": {"image_size": 32, "limit": 32}}, SHAPE_32),
    "cgan-dcgan-hinge": ("cgan-dcgan", {"model": DCGAN, "data": {"image_size": 32, "limit": 32},
                                        "loss": {"name": "hinge"}}, SHAPE_32),
    "cgan-dcgan-wgan-gp": ("cgan-dcgan", {"model": {**DCGAN, "discriminator_norm": "none"},
                                          "data": {"image_size": 32, "limit": 32}, "loss": {"name": "wasserstein"},
                                          "strategy": {"name": "wgan-gp", "options": {"n_critic": 2}}}, SHAPE_32),
}


@pytest.mark.parametrize("variant, sections, shape", STEPS.values(), ids=STEPS.keys())
def test_one_training_step(tiny_config, registry, variant, sections, shape):
    if "strategy" in sections and sections["strategy"]["name"] not in registry.names("strategy"):
        pytest.skip("needs the ganzoo-wgan plugin")
    result = train_quietly(tiny_config(variant, **sections, run={"batch_size": 8, "max_steps": 1}))
    assert_finite_step(result, shape)


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def grid_size(rows: int, columns: int, side: int) -> tuple[int, int]:
    """(width, height) of a make_grid PNG: 2 pixels of padding around every image."""
    return columns * (side + 2) + 2, rows * (side + 2) + 2


@pytest.fixture
def trained_cgan_mlp(tiny_config):
    return train_quietly(tiny_config("cgan-mlp", model=MLP, run={"max_steps": 2})).generator_path


def test_sample_one_class_and_a_grid_by_class_from_the_command_line(trained_cgan_mlp, run_cli, tmp_path):
    one_class = run_cli("sample", str(trained_cgan_mlp), "--label", "7", "--num", "8", "--out", "sevens.png")
    assert one_class.returncode == 0, one_class.stderr
    assert png_size(tmp_path / "sevens.png") == grid_size(1, 8, 16)
    by_class = run_cli("sample", str(trained_cgan_mlp), "--grid-by-class", "--nrow", "4", "--out", "classes.png")
    assert by_class.returncode == 0, by_class.stderr
    assert png_size(tmp_path / "classes.png") == grid_size(10, 4, 16)  # one row per digit


def refusal(capsys, *argv: str) -> str:
    """Run ``ganzoo ARGV`` in this process; it must exit 2 with one line on stderr, no traceback."""
    assert main(list(argv)) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    return message


def test_labels_out_of_range_and_labels_for_unconditional_models_are_refused(trained_cgan_mlp, tiny_config,
                                                                              capsys, tmp_path):
    out = str(tmp_path / "x.png")
    assert "0..9" in refusal(capsys, "sample", str(trained_cgan_mlp), "--label", "10", "--out", out)
    assert "0..9" in refusal(capsys, "sample", str(trained_cgan_mlp), "--label", "-1", "--out", out)
    unconditional = train_quietly(tiny_config("mlp", model={"latent_dim": 8}, run={"max_steps": 1,
                                                                                   "out_dir": str(tmp_path / "mlp")}))
    assert "unconditional" in refusal(capsys, "sample", str(unconditional.generator_path), "--label", "3", "--out", out)
    assert "unconditional" in refusal(capsys, "sample", str(unconditional.generator_path), "--grid-by-class",
                                      "--out", out)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_brief_training_moves_the_losses_and_makes_varied_samples(tiny_config):
    resolved = tiny_config("cgan-mlp", data={"limit": 512}, run={"epochs": 2, "log_every_steps": 4})
    assert_learned(train_quietly(resolved))
