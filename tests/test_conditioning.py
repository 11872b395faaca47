"""A conditional model's checks are one building block: every plugin's says the same line."""

from __future__ import annotations

import pytest
import torch
from ganzoo_conditional.models import (
    ConditionalDCGANOptions,
    ConditionalMLPGenerator,
    ConditionalMLPOptions,
    ProjectionDiscriminator,
)
from ganzoo_resnet.models import ConditionalResNetGenerator, ProjectionResNetDiscriminator, ResNetOptions

from ganzoo.plugin import ConfigError, required_classes, required_labels

NO_CLASSES = "a conditional variant needs a labelled dataset with at least 2 classes"
NO_LABELS = "this model is conditional and needs labels; pass --label or sample labels"


@pytest.mark.parametrize("num_classes", [None, 0, 1])
def test_a_conditional_model_needs_two_classes_or_more(num_classes):
    with pytest.raises(ConfigError, match=NO_CLASSES):
        required_classes(num_classes)
    assert required_classes(2) == 2


def test_a_conditional_forward_pass_needs_labels():
    labels = torch.tensor([0, 1])
    assert required_labels(labels) is labels
    with pytest.raises(ConfigError, match=NO_LABELS):
        required_labels(None)


@pytest.mark.parametrize("build, options, shape", [
    (ConditionalMLPGenerator, ConditionalMLPOptions(latent_dim=4, generator_widths=[8]), (1, 8, 8)),
    (ProjectionDiscriminator, ConditionalDCGANOptions(latent_dim=4, ngf=4, ndf=4), (1, 32, 32)),
    (ConditionalResNetGenerator, ResNetOptions(latent_dim=4, g_channels=8, d_channels=8), (1, 32, 32)),
    (ProjectionResNetDiscriminator, ResNetOptions(latent_dim=4, g_channels=8, d_channels=8), (1, 32, 32)),
], ids=["cgan-mlp G", "cgan-dcgan D", "resnet-projection G", "resnet-projection D"])
def test_both_plugins_refuse_with_the_same_lines(build, options, shape):
    with pytest.raises(ConfigError, match=NO_CLASSES):
        build(options, shape, None)
    model = build(options, shape, 3).eval()
    inputs = torch.zeros(2, *shape) if "Discriminator" in build.__name__ else torch.zeros(2, options.latent_dim)
    with pytest.raises(ConfigError, match=NO_LABELS):
        model(inputs, None)
