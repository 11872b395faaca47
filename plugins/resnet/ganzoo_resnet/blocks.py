"""The residual blocks of the WGAN-GP and SNGAN ResNets, and conditional BatchNorm.

Plain torch modules that know nothing about ganzoo. The layouts follow Miyato et al.'s
``sngan_projection`` code (the CIFAR-10 ResNets of Gulrajani et al. 2017 and Miyato et al. 2018):

* ``GeneratorBlock``: BN - ReLU - 2x nearest up-sampling - conv3x3 - BN - ReLU - conv3x3, plus a
  shortcut of up-sampling and conv1x1. Given ``num_classes``, both BNs are ``ConditionalBatchNorm2d``.
* ``DiscriminatorBlock``: ReLU - conv3x3 - ReLU - conv3x3 (- 2x2 average pooling), plus a conv1x1
  (- pooling) shortcut when the shape changes. The ``first`` block (the paper's "optimized
  block") sees the image itself: no ReLU before its first conv, and its shortcut pools first.

Residual convolutions start Xavier-uniform with gain sqrt(2), shortcuts with gain 1, biases at 0,
as in that code.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


def xavier_conv(in_channels: int, out_channels: int, kernel_size: int, gain: float = math.sqrt(2)) -> nn.Conv2d:
    """A same-size convolution (padding kernel_size // 2), Xavier-uniform weights, zero bias."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are per class: y = gain[c] * BN(x) + bias[c] (de Vries et al.
    2017; the generator of Miyato & Koyama 2018). Gains start at 1 and biases at 0, so an untrained
    layer is plain BatchNorm for every class."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        gain = rearrange(self.gain(labels), "b c -> b c 1 1")
        bias = rearrange(self.bias(labels), "b c -> b c 1 1")
        return self.norm(features) * gain + bias


class GeneratorNorm(nn.Module):
    """BatchNorm2d, or ConditionalBatchNorm2d when there are classes: one call either way."""

    def __init__(self, channels: int, num_classes: int | None) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels) if num_classes is None else ConditionalBatchNorm2d(channels, num_classes)

    def forward(self, features: Tensor, labels: Tensor | None) -> Tensor:
        return self.norm(features) if labels is None else self.norm(features, labels)


class GeneratorBlock(nn.Module):
    """Doubles the resolution: (B, in, H, W) -> (B, out, 2H, 2W)."""

    def __init__(self, in_channels: int, out_channels: int, num_classes: int | None = None) -> None:
        super().__init__()
        self.norm1 = GeneratorNorm(in_channels, num_classes)
        self.conv1 = xavier_conv(in_channels, out_channels, 3)
        self.norm2 = GeneratorNorm(out_channels, num_classes)
        self.conv2 = xavier_conv(out_channels, out_channels, 3)
        self.shortcut = xavier_conv(in_channels, out_channels, 1, gain=1.0)

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        residual = F.relu(self.norm1(features, labels))
        residual = self.conv1(F.interpolate(residual, scale_factor=2, mode="nearest"))
        residual = self.conv2(F.relu(self.norm2(residual, labels)))
        return residual + self.shortcut(F.interpolate(features, scale_factor=2, mode="nearest"))


class DiscriminatorBlock(nn.Module):
    """(B, in, H, W) -> (B, out, H/2, W/2) with ``downsample``, else the same size."""

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool, first: bool = False) -> None:
        super().__init__()
        self.downsample, self.first = downsample, first
        self.conv1 = xavier_conv(in_channels, out_channels, 3)
        self.conv2 = xavier_conv(out_channels, out_channels, 3)
        learnt = first or downsample or in_channels != out_channels
        self.shortcut = xavier_conv(in_channels, out_channels, 1, gain=1.0) if learnt else None

    def forward(self, features: Tensor) -> Tensor:
        residual = self.conv1(features if self.first else F.relu(features))
        residual = self._pool(self.conv2(F.relu(residual)))
        return residual + self._shortcut(features)

    def _shortcut(self, features: Tensor) -> Tensor:
        if self.shortcut is None:
            return features
        if self.first:  # pool, then conv: the same maths as the other order, on a quarter of the pixels
            return self.shortcut(self._pool(features))
        return self._pool(self.shortcut(features))

    def _pool(self, features: Tensor) -> Tensor:
        return F.avg_pool2d(features, 2) if self.downsample else features
