"""The ResNet GANs for 32x32 images (Gulrajani et al. 2017, Miyato et al. 2018), any channels.

G: latent -> linear -> 4x4 x g_channels -> one up-sampling ``GeneratorBlock`` per doubling (three
for 32x32) -> BN - ReLU - conv3x3 to C channels - tanh. D: the "optimized" first block and
down-sampling blocks to 8x8, two blocks at 8x8, ReLU, global **sum** pooling -> phi(x), and a
linear logit. Spectral norm on every D weight by default (SNGAN's D has no normalisation layer).

The conditional versions share those stacks:

* ``ConditionalResNetGenerator``: every block's BatchNorm is conditional (per-class gain and bias);
* ``ProjectionResNetDiscriminator``: logit = linear(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018);
* ``ACGANDiscriminator``: the unconditional logit plus an auxiliary classifier head on phi(x)
  (Odena et al. 2017), read by the ``acgan`` strategy.
"""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange, reduce
from pydantic import Field
from torch import Tensor, nn

from ganzoo.plugin import (
    ConfigError,
    Discriminator,
    Generator,
    ImageShape,
    Options,
    required_classes,
    required_labels,
    spectrally_normalised,
)
from ganzoo_resnet.blocks import DiscriminatorBlock, GeneratorBlock, xavier_conv


class ResNetOptions(Options):
    latent_dim: int = Field(128, gt=0, le=4096)
    g_channels: int = Field(256, gt=0, le=2048, description="generator width (every block)")
    d_channels: int = Field(128, gt=0, le=2048, description="discriminator width (every block)")
    spectral_norm: bool = Field(True, description="spectral normalisation of every discriminator weight")


def doublings(image_shape: ImageShape, family: str, smallest: int = 16) -> int:
    """How many doublings take 4x4 to the image size; square powers of two >= ``smallest`` fit."""
    channels, height, width = image_shape
    if channels not in (1, 3):
        raise ConfigError(f"{family} needs 1 or 3 channels, the data has {channels}; set data.channels to 1 or 3")
    if height != width or height < smallest or height & (height - 1):
        raise ConfigError(f"{family} needs square images whose size is a power of two >= {smallest}, "
                          f"got {height}x{width}; set --image-size 32")
    return height.bit_length() - 3  # 32 -> 3


class ResNetGenerator(Generator):
    conditional = False

    def __init__(self, options: ResNetOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = options.latent_dim, image_shape
        self.num_classes = required_classes(num_classes) if self.conditional else None
        width = options.g_channels
        self.stem = nn.Linear(options.latent_dim, 4 * 4 * width)
        nn.init.xavier_uniform_(self.stem.weight)
        nn.init.zeros_(self.stem.bias)
        self.blocks = nn.ModuleList(GeneratorBlock(width, width, self.num_classes)
                                    for _ in range(doublings(image_shape, "the ResNet generator")))
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), xavier_conv(width, image_shape[0], 3, gain=1.0),
                                  nn.Tanh())

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = required_labels(labels) if self.conditional else None
        features = rearrange(self.stem(latents), "b (c h w) -> b c h w", h=4, w=4)
        for block in self.blocks:
            features = block(features, labels)
        return self.head(features)


class ConditionalResNetGenerator(ResNetGenerator):
    """The ResNet generator with conditional BatchNorm in every block (the final BN stays plain)."""

    conditional = True


class ResNetFeatures(nn.Module):
    """phi(x): (B, C, H, W) -> (B, width), the sum over positions of the last block's ReLU."""

    def __init__(self, image_shape: ImageShape, width: int) -> None:
        super().__init__()
        down_blocks = doublings(image_shape, "the ResNet discriminator") - 2  # to 8x8 after the first block
        self.blocks = nn.Sequential(
            DiscriminatorBlock(image_shape[0], width, downsample=True, first=True),
            *(DiscriminatorBlock(width, width, downsample=True) for _ in range(down_blocks)),
            DiscriminatorBlock(width, width, downsample=False),
            DiscriminatorBlock(width, width, downsample=False),
        )

    def forward(self, images: Tensor) -> Tensor:
        return reduce(F.relu(self.blocks(images)), "b f h w -> b f", "sum")


class ResNetDiscriminator(Discriminator):
    conditional = False

    def __init__(self, options: ResNetOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.num_classes = required_classes(num_classes) if self.conditional else None
        self.features = ResNetFeatures(image_shape, options.d_channels)
        self.head = nn.Linear(options.d_channels, 1)
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.add_heads(options.d_channels)
        if options.spectral_norm:
            spectrally_normalised(self)

    def add_heads(self, width: int) -> None:
        """Where conditional subclasses add their layers, before spectral norm is applied."""

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(self.head(self.features(images)), "b 1 -> b")


class ProjectionResNetDiscriminator(ResNetDiscriminator):
    """logit = linear(phi(x)) + <class_embedding[y], phi(x)> (Miyato & Koyama 2018)."""

    conditional = True

    def add_heads(self, width: int) -> None:
        self.class_embedding = nn.Embedding(self.num_classes, width)
        nn.init.xavier_uniform_(self.class_embedding.weight)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        phi = self.features(images)
        projection = (self.class_embedding(required_labels(labels)).to(phi.dtype) * phi).sum(dim=1)
        return rearrange(self.head(phi), "b 1 -> b") + projection


class ACGANDiscriminator(ResNetDiscriminator):
    """An unconditional real/fake logit and an auxiliary classifier over phi(x) (Odena et al. 2017).

    ``forward(images, labels)`` keeps the ``Discriminator`` contract (labels are ignored: the
    logit does not depend on them); ``forward(images, with_class_logits=True)`` also returns the
    class logits (B, num_classes) from the same features, one pass for both. That keyword goes
    through ``forward`` rather than a method of its own so that a DDP-wrapped D still
    synchronises the classifier's gradients.
    """

    conditional = True
    has_classifier_head = True

    def add_heads(self, width: int) -> None:
        self.classifier = nn.Linear(width, self.num_classes)
        nn.init.xavier_uniform_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, images: Tensor, labels: Tensor | None = None, *,
                with_class_logits: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        phi = self.features(images)
        logits = rearrange(self.head(phi), "b 1 -> b")
        return (logits, self.classifier(phi)) if with_class_logits else logits

    def classify(self, images: Tensor) -> Tensor:
        """Class logits (B, num_classes) of ``images``."""
        return self(images, with_class_logits=True)[1]
