"""The "standard CNN" of the SNGAN paper (Miyato et al. 2018, Table 3), for any power-of-two size.

G: latent -> linear to 4x4 x ngf*2^k - BN - ReLU -> k transposed convs 4x4 stride 2, each halving
the width, BN, ReLU (512-256-128-64 for 32x32, ngf 64) -> conv3x3 to C channels - tanh.
D: per halving, conv3x3 stride 1 and conv4x4 stride 2 at width ndf*2^i (64, 128, 256), then
conv3x3 to ndf*2^k (512), LeakyReLU(0.1) after each, and a linear logit over the 4x4 features.
Spectral norm on every D weight by default, and no normalisation layer in D, as in the paper.
"""

from __future__ import annotations

from einops import rearrange
from pydantic import Field
from torch import Tensor, nn

from ganzoo.plugin import Discriminator, Generator, ImageShape, Options, spectrally_normalised
from ganzoo_resnet.models import doublings


class SNGANOptions(Options):
    latent_dim: int = Field(128, gt=0, le=4096)
    ngf: int = Field(64, gt=0, le=1024, description="generator width of the last stage (x2 per stage back to 4x4)")
    ndf: int = Field(64, gt=0, le=1024, description="discriminator width of the first stage (x2 per stage)")
    spectral_norm: bool = Field(True, description="spectral normalisation of every discriminator weight")


class SNGANGenerator(Generator):
    def __init__(self, options: SNGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = options.latent_dim, image_shape, None
        stages = doublings(image_shape, "SNGAN", smallest=8)
        widths = [options.ngf * 2 ** index for index in reversed(range(stages + 1))]  # 512, 256, 128, 64
        self.stem = nn.Sequential(nn.Linear(options.latent_dim, 4 * 4 * widths[0]),
                                  nn.Unflatten(1, (widths[0], 4, 4)), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(width_in, width_out, 4, 2, 1), nn.BatchNorm2d(width_out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Conv2d(widths[-1], image_shape[0], 3, 1, 1), nn.Tanh())

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(self.stem(latents))


class SNGANDiscriminator(Discriminator):
    def __init__(self, options: SNGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape, self.num_classes = image_shape, None
        stages = doublings(image_shape, "SNGAN", smallest=8)
        layers: list[nn.Module] = []
        width_in = image_shape[0]
        for index in range(stages):
            width = options.ndf * 2 ** index
            layers += [nn.Conv2d(width_in, width, 3, 1, 1), nn.LeakyReLU(0.1),
                       nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(0.1)]
            width_in = width
        width = options.ndf * 2 ** stages
        self.features = nn.Sequential(*layers, nn.Conv2d(width_in, width, 3, 1, 1), nn.LeakyReLU(0.1))
        self.head = nn.Linear(width * 4 * 4, 1)
        if options.spectral_norm:
            spectrally_normalised(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return rearrange(self.head(rearrange(self.features(images), "b c h w -> b (c h w)")), "b 1 -> b")
