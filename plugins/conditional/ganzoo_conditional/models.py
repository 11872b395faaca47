"""Conditional versions of the MLP GAN and the DCGAN, built from those plugins' own layer stacks.

Labels enter the generator the same way in both: the one-hot label concatenated with the latent
(Mirza & Osindero 2014). Not a learnt N(0, 1) embedding: a code that large (norm ~7 for 50
dimensions, against the latent's ~10) taking only ten values let the class alone make a large
share of G's output, and both variants collapsed within each class (recall 0.00;
docs/pages/variants.md says how that was found). The discriminators differ: the MLP one reads a
learnt label embedding concatenated with the flattened image; the DCGAN one is a projection
discriminator (Miyato & Koyama 2018), logit = w . phi(x) + embed(y) . phi(x) with phi(x) the
sum-pooled conv features, which conditions D through an inner product instead of an extra input.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange, reduce
from ganzoo_dcgan.models import DCGANOptions, discriminator_features, feature_width, init_dcgan_weights
from ganzoo_dcgan.models import generator_net as dcgan_generator_net
from ganzoo_mlp.models import MLPOptions
from ganzoo_mlp.models import discriminator_net as mlp_discriminator_net
from ganzoo_mlp.models import generator_net as mlp_generator_net
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from ganzoo.plugin import (
    Discriminator,
    Generator,
    ImageShape,
    required_classes,
    required_labels,
    spectrally_normalised,
)


class ConditionalMLPOptions(MLPOptions):
    embedding_dim: int = Field(10, gt=0, le=1024, description="size of the discriminator's learnt label embedding")


class ConditionalDCGANOptions(DCGANOptions):
    """The DCGAN's options: G reads one-hot labels and D learns its own class embedding, so
    there is no width to choose."""


def with_one_hot_labels(latents: Tensor, labels: Tensor | None, num_classes: int) -> Tensor:
    """Concatenate each latent with its one-hot label: (B, D) + (B,) -> (B, D + classes).

    A unit-norm code beside the latent's ~sqrt(D): the class starts as a small part of G's input
    and G must use the latent to vary its images within a class."""
    one_hot = F.one_hot(required_labels(labels), num_classes).to(latents.dtype)
    return torch.cat([latents, one_hot], dim=1)


def with_embedded_labels(inputs: Tensor, labels: Tensor | None, embedding: nn.Embedding) -> Tensor:
    """Concatenate each input with its label's learnt embedding: (B, D) + (B,) -> (B, D + E)."""
    return torch.cat([inputs, embedding(required_labels(labels)).to(inputs.dtype)], dim=1)


class ConditionalMLPGenerator(Generator):
    def __init__(self, options: ConditionalMLPOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = options.latent_dim, image_shape
        self.num_classes = required_classes(num_classes)
        self.net = mlp_generator_net(options, options.latent_dim + self.num_classes, image_shape)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        channels, height, width = self.image_shape
        flat = self.net(with_one_hot_labels(latents, labels, self.num_classes))
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
        return rearrange(self.net(with_embedded_labels(flat, labels, self.label_embedding)), "b 1 -> b")


class ConditionalDCGANGenerator(Generator):
    def __init__(self, options: ConditionalDCGANOptions, image_shape: ImageShape, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = options.latent_dim, image_shape
        self.num_classes = required_classes(num_classes)
        self.net = dcgan_generator_net(options.latent_dim + self.num_classes, image_shape, options.ngf)
        init_dcgan_weights(self.net)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(rearrange(with_one_hot_labels(latents, labels, self.num_classes), "b d -> b d 1 1"))


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
        phi = reduce(self.features(images), "b f h w -> b f", "sum")
        projection = (self.class_embedding(required_labels(labels)).to(phi.dtype) * phi).sum(dim=1)
        return rearrange(self.head(phi), "b 1 -> b") + projection
