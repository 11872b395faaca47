"""Conditional versions of the MLP GAN and the DCGAN, built from those plugins' own layer stacks.

Labels enter the generator the same way in both: a learnt embedding concatenated with the
latent. The discriminators differ: the MLP one reads the embedding concatenated with the
flattened image (Mirza & Osindero 2014); the DCGAN one is a projection discriminator (Miyato &
Koyama 2018), logit = w . phi(x) + embed(y) . phi(x) with phi(x) the sum-pooled conv features,
which conditions D through an inner product instead of an extra input channel.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange, reduce
from pydantic import Field
from torch import Tensor, nn

from ganzoo.plugin import ConfigError, Discriminator, Generator, ImageShape, spectrally_normalised
from ganzoo_dcgan.models import (DCGANOptions, discriminator_features, feature_width, generator_net as dcgan_generator_net,
                                 init_dcgan_weights)
from ganzoo_mlp.models import MLPOptions, discriminator_net as mlp_discriminator_net, generator_net as mlp_generator_net


class ConditionalMLPOptions(MLPOptions):
    embedding_dim: int = Field(10, gt=0, le=1024, description="size of the learnt label embedding")


class ConditionalDCGANOptions(DCGANOptions):
    embedding_dim: int = Field(50, gt=0, le=1024, description="size of the generator's label embedding")


def required_classes(num_classes: int | None) -> int:
    if num_classes is None or num_classes < 2:
        raise ConfigError("a conditional variant needs a labelled dataset with at least 2 classes; "
                          "use mnist-embedded, mnist or an image folder with class subfolders")
    return num_classes


def with_labels(latents: Tensor, labels: Tensor | None, embedding: nn.Embedding) -> Tensor:
    """Concatenate each latent with its label's embedding: (B, D) + (B,) -> (B, D + E)."""
    if labels is None:
        raise ConfigError("this model is conditional and needs labels; pass --label or sample labels")
    return torch.cat([latents, embedding(labels).to(latents.dtype)], dim=1)


class ConditionalMLPGenerator(Generator):
    def __init__(self, options: ConditionalMLPOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = options.latent_dim, image_shape
        self.num_classes = required_classes(num_classes)
        self.label_embedding = nn.Embedding(self.num_classes, options.embedding_dim)
        self.net = mlp_generator_net(options, options.latent_dim + options.embedding_dim, image_shape)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        channels, height, width = self.image_shape
        flat = self.net(with_labels(latents, labels, self.label_embedding))
        return rearrange(flat, "b (c h w) -> b c h w", c=channels, h=height, w=width)


class ConditionalMLPDiscriminator(Discriminator):
    def __init__(self, options: ConditionalMLPOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, required_classes(num_classes)
        self.label_embedding = nn.Embedding(self.num_classes, options.embedding_dim)
        self.net = mlp_discriminator_net(options, math.prod(image_shape) + options.embedding_dim)
        if options.spectral_norm:
            spectrally_normalised(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        flat = rearrange(images, "b c h w -> b (c h w)")
        return rearrange(self.net(with_labels(flat, labels, self.label_embedding)), "b 1 -> b")


class ConditionalDCGANGenerator(Generator):
    def __init__(self, options: ConditionalDCGANOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = options.latent_dim, image_shape
        self.num_classes = required_classes(num_classes)
        self.label_embedding = nn.Embedding(self.num_classes, options.embedding_dim)  # N(0, 1), like the latent
        self.net = dcgan_generator_net(options.latent_dim + options.embedding_dim, image_shape, options.ngf)
        init_dcgan_weights(self.net)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(rearrange(with_labels(latents, labels, self.label_embedding), "b d -> b d 1 1"))


class ProjectionDiscriminator(Discriminator):
    """DCGAN features phi(x); logit = linear(phi) + <class_embedding[y], phi> (Miyato & Koyama 2018)."""

    def __init__(self, options: ConditionalDCGANOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, required_classes(num_classes)
        self.features = discriminator_features(image_shape, options.ndf, options.discriminator_norm)
        width = feature_width(image_shape, options.ndf)
        self.head = nn.Linear(width, 1)
        self.class_embedding = nn.Embedding(self.num_classes, width)
        init_dcgan_weights(self)
        if options.spectral_norm:
            spectrally_normalised(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            raise ConfigError("the projection discriminator is conditional and needs labels")
        phi = reduce(self.features(images), "b f h w -> b f", "sum")
        projection = (self.class_embedding(labels).to(phi.dtype) * phi).sum(dim=1)
        return rearrange(self.head(phi), "b 1 -> b") + projection
