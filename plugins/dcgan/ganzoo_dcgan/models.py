"""The DCGAN architecture of Radford et al. (2015), for any power-of-two image size from 32 up.

G: latent (1x1) -> ConvTranspose2d to 4x4 -> doubling ConvTranspose2d stages, each BatchNorm +
ReLU -> Tanh at full size. D: strided Conv2d stages halving to 4x4, LeakyReLU(0.2), BatchNorm on
every stage but the first -> one 4x4 Conv2d logit (no sigmoid: the loss owns it). The number of
stages follows the image size: 32x32 has three widths (ngf*4, ngf*2, ngf), 64x64 four
(ngf*8 ... ngf, i.e. 512-256-128-64 for ngf = 64, the classic tutorial).

The stacks are public (``generator_net``, ``discriminator_features``) so the WGAN critic and the
conditional DCGAN reuse exactly these layers.
"""

from __future__ import annotations

from typing import Any, Literal

from einops import rearrange
from pydantic import Field, model_validator
from torch import Tensor, nn

from ganzoo.plugin import ConfigError, Discriminator, Generator, ImageShape, Options, spectrally_normalised

Norm = Literal["batch", "layer", "none"]


class DCGANOptions(Options):
    latent_dim: int = Field(100, gt=0, le=4096)
    ngf: int = Field(64, gt=0, le=1024, description="generator base width (the last hidden stage)")
    ndf: int = Field(64, gt=0, le=1024, description="discriminator base width (the first stage)")
    discriminator_norm: Norm = Field("batch", description="normalisation after each D stage but the first; "
                                                          "'none' by default under spectral_norm")
    spectral_norm: bool = Field(False, description="spectral normalisation of every discriminator weight "
                                                   "(Miyato et al. 2018)")

    @model_validator(mode="before")
    @classmethod
    def _no_batch_norm_under_spectral_norm(cls, data: Any) -> Any:
        """The SNGAN paper's discriminators have no BatchNorm, so ``spectral_norm`` alone also means
        ``discriminator_norm = "none"``; a ``discriminator_norm`` given explicitly is kept."""
        if isinstance(data, dict) and data.get("spectral_norm") is True and "discriminator_norm" not in data:
            return {**data, "discriminator_norm": "none"}
        return data


def upsampling_stages(image_shape: ImageShape) -> int:
    """How many doublings take 4x4 to the image size; only square powers of two >= 32 fit."""
    channels, height, width = image_shape
    if channels not in (1, 3):
        raise ConfigError(f"DCGAN needs 1 or 3 channels, the data has {channels}; set data.channels to 1 or 3")
    if height != width or height < 32 or height & (height - 1):
        raise ConfigError(f"DCGAN needs square images whose size is a power of two >= 32 (32, 64, 128, ...), "
                          f"got {height}x{width}; set --image-size 32 or 64")
    return height.bit_length() - 3  # 32 -> 3, 64 -> 4


def stage_widths(base: int, stages: int) -> list[int]:
    """Widths of the hidden stages from the 4x4 end: base * 2^(stages-1), ..., base * 2, base."""
    return [base * 2 ** index for index in reversed(range(stages))]


def generator_net(in_channels: int, image_shape: ImageShape, ngf: int) -> nn.Sequential:
    """Maps (B, in_channels, 1, 1) to (B, C, H, W) images in [-1, 1]."""
    widths = stage_widths(ngf, upsampling_stages(image_shape))
    layers: list[nn.Module] = [nn.ConvTranspose2d(in_channels, widths[0], 4, 1, 0, bias=False),
                               nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
    for width_in, width_out in zip(widths, widths[1:]):
        layers += [nn.ConvTranspose2d(width_in, width_out, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(width_out), nn.ReLU(inplace=True)]
    layers += [nn.ConvTranspose2d(widths[-1], image_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator_features(image_shape: ImageShape, ndf: int, norm: Norm = "batch") -> nn.Sequential:
    """Maps (B, C, H, W) to (B, ndf * 2^(stages-1), 4, 4) features, ending in a LeakyReLU."""
    widths = list(reversed(stage_widths(ndf, upsampling_stages(image_shape))))
    layers: list[nn.Module] = [nn.Conv2d(image_shape[0], widths[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for width_in, width_out in zip(widths, widths[1:]):
        layers += [nn.Conv2d(width_in, width_out, 4, 2, 1, bias=norm == "none"), *_norm(norm, width_out),
                   nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


def feature_width(image_shape: ImageShape, ndf: int) -> int:
    """Channels of ``discriminator_features``' 4x4 output."""
    return stage_widths(ndf, upsampling_stages(image_shape))[0]


def _norm(norm: Norm, width: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(width)]
    if norm == "layer":  # LayerNorm over (C, H, W), the gradient-penalty-safe choice of Gulrajani et al.
        return [nn.GroupNorm(1, width)]
    return []


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)


class DCGANGenerator(Generator):
    def __init__(self, options: DCGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = options.latent_dim, image_shape, None
        self.net = generator_net(options.latent_dim, image_shape, options.ngf)
        init_dcgan_weights(self)

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(rearrange(latents, "b d -> b d 1 1"))


class DCGANDiscriminator(Discriminator):
    def __init__(self, options: DCGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, None
        self.features = discriminator_features(image_shape, options.ndf, options.discriminator_norm)
        self.head = nn.Conv2d(feature_width(image_shape, options.ndf), 1, 4, 1, 0)
        init_dcgan_weights(self)
        if options.spectral_norm:
            spectrally_normalised(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(self.head(self.features(images)), "b 1 1 1 -> b")
