"""The ``conv-minibatch`` variant: a small upsampling conv generator and a strided conv
discriminator whose last hidden layer is minibatch discrimination.

G: latent -> Linear -> (4w, H/4, W/4) -> [nearest x2, 3x3 conv, BatchNorm, ReLU] x 2 -> 3x3 conv -> Tanh.
D: [4x4 stride-2 conv, LeakyReLU(0.2)] x 2 -> Linear -> ``features`` -> LeakyReLU(0.2)
   -> MinibatchDiscrimination -> Linear -> one logit per image.

The discriminator has no BatchNorm: its output for one image should depend on the rest of
the batch only through the minibatch layer, where that dependence is the point.
"""

from __future__ import annotations

from einops import rearrange
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from ganzoo.plugin import Discriminator, Generator, ImageShape
from ganzoo_minibatch.layers import MinibatchDiscrimination


class MinibatchGANOptions(BaseModel):
    """What a user may set under ``[model]`` or with ``--set model.KEY=VALUE``.

    ganzoo validates these before anything is built, so a typo or a bad value is one clear
    error rather than a crash inside a constructor.
    """

    model_config = ConfigDict(extra="forbid")

    latent_dim: int = Field(64, gt=0, le=4096, description="size of the noise vector z")
    width: int = Field(32, gt=0, le=1024, description="channels of the first D conv; G uses 4x, 2x")
    features: int = Field(128, gt=0, le=8192, description="D features fed to minibatch discrimination")
    kernels: int = Field(16, gt=0, le=1024, description="B: number of closeness rows per sample")
    kernel_dim: int = Field(4, gt=0, le=256, description="C: length of each row compared in L1")


def _check_size(image_shape: ImageShape) -> None:
    _, height, width = image_shape
    if height % 4 or width % 4:
        # A ValueError from a factory reaches the user as one line naming the variant.
        raise ValueError(f"conv-minibatch needs an image size divisible by 4, got {height}x{width}; "
                         "use --image-size 16, 28, 32 ...")


class UpsamplingGenerator(Generator):
    """Nearest-neighbour upsampling plus 3x3 convs: no checkerboard artefacts of strided
    transposed convolutions, and any size divisible by 4 works."""

    def __init__(self, options: MinibatchGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        _check_size(image_shape)
        self.latent_dim, self.image_shape, self.num_classes = options.latent_dim, image_shape, None
        channels, height, width = image_shape
        self.start = (4 * options.width, height // 4, width // 4)
        self.project = nn.Sequential(
            nn.Linear(options.latent_dim, 4 * options.width * (height // 4) * (width // 4)),
            nn.BatchNorm1d(4 * options.width * (height // 4) * (width // 4)),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(4 * options.width, 2 * options.width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * options.width),
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(2 * options.width, options.width, 3, padding=1, bias=False),
            nn.BatchNorm2d(options.width),
            nn.ReLU(inplace=True),
            nn.Conv2d(options.width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        channels, height, width = self.start
        grid = rearrange(self.project(latents), "b (c h w) -> b c h w", c=channels, h=height, w=width)
        return self.upsample(grid)


class MinibatchDiscriminator(Discriminator):
    """Strided convs to per-image features, then minibatch discrimination, then one logit."""

    def __init__(self, options: MinibatchGANOptions, image_shape: ImageShape, num_classes: int | None = None) -> None:
        super().__init__()
        _check_size(image_shape)
        self.image_shape, self.num_classes = image_shape, None
        channels, height, width = image_shape
        self.convs = nn.Sequential(
            nn.Conv2d(channels, options.width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(options.width, 2 * options.width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.features = nn.Sequential(
            nn.Linear(2 * options.width * (height // 4) * (width // 4), options.features),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.minibatch = MinibatchDiscrimination(options.features, options.kernels, options.kernel_dim)
        self.logit = nn.Linear(self.minibatch.out_features, 1)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        features = self.features(rearrange(self.convs(images), "b c h w -> b (c h w)"))
        return rearrange(self.logit(self.minibatch(features)), "b 1 -> b")
