"""The classic fully connected GAN.

G: latent -> 128 -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU(0.2), BatchNorm on every hidden layer
but the first, Tanh out. D: C*H*W -> 512 -> 256 -> 1 logit, LeakyReLU(0.2), optional dropout.

The two stacks are also built by ``generator_net`` and ``discriminator_net`` so the conditional
MLP GAN (plugin ``ganzoo-conditional``) reuses exactly these layers with wider inputs.
"""

from __future__ import annotations

import math
from typing import Annotated

from einops import rearrange
from pydantic import Field
from torch import Tensor, nn

from ganzoo.plugin import Discriminator, Generator, ImageShape, Options, spectrally_normalised

Width = Annotated[int, Field(gt=0, le=65_536)]
"""One hidden layer's size: a zero width would build an empty layer (torch only warns), a negative one fails."""


class MLPOptions(Options):
    latent_dim: int = Field(100, gt=0, le=4096)
    generator_widths: list[Width] = Field(default_factory=lambda: [128, 256, 512, 1024], min_length=1, max_length=32)
    discriminator_widths: list[Width] = Field(default_factory=lambda: [512, 256], min_length=1, max_length=32)
    batch_norm: bool = Field(True, description="BatchNorm1d in the generator's hidden layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each discriminator hidden layer")
    spectral_norm: bool = Field(False, description="spectral normalisation of every discriminator weight "
                                                   "(Miyato et al. 2018)")


def generator_net(options: MLPOptions, in_features: int, image_shape: ImageShape) -> nn.Sequential:
    """The generator's layers: ``in_features`` -> hidden widths -> flattened image in [-1, 1]."""
    layers: list[nn.Module] = []
    width_in = in_features
    for index, width in enumerate(options.generator_widths):
        layers.append(nn.Linear(width_in, width))
        if options.batch_norm and index > 0:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        width_in = width
    layers += [nn.Linear(width_in, math.prod(image_shape)), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator_net(options: MLPOptions, in_features: int) -> nn.Sequential:
    """The discriminator's layers: ``in_features`` -> hidden widths -> one logit, shape (B, 1)."""
    layers: list[nn.Module] = []
    width_in = in_features
    for width in options.discriminator_widths:
        layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2, inplace=True)]
        if options.dropout:
            layers.append(nn.Dropout(options.dropout))
        width_in = width
    layers.append(nn.Linear(width_in, 1))
    return nn.Sequential(*layers)


class MLPGenerator(Generator):
    def __init__(self, options: MLPOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = options.latent_dim, image_shape, None
        self.net = generator_net(options, options.latent_dim, image_shape)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        channels, height, width = self.image_shape
        return rearrange(self.net(latents), "b (c h w) -> b c h w", c=channels, h=height, w=width)


class MLPDiscriminator(Discriminator):
    def __init__(self, options: MLPOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, None
        self.net = discriminator_net(options, math.prod(image_shape))
        if options.spectral_norm:
            spectrally_normalised(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(self.net(rearrange(images, "b c h w -> b (c h w)")), "b 1 -> b")
