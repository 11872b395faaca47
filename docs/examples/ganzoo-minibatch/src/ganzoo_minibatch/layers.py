"""Minibatch discrimination (Salimans et al., "Improved Techniques for Training GANs", 2016).

A discriminator that judges each image on its own cannot see mode collapse: one convincing
digit repeated 64 times looks real image by image. This layer gives every sample a view of
its batch. Each sample's features ``f(x_i)`` (A numbers) are projected by a learnt tensor
``T`` to ``B`` rows of ``C`` numbers, ``M_i`` (B x C). For every row ``b`` and every other
sample ``j`` the closeness ``c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1)`` is summed::

    o(x_i)_b = sum over j != i of c_b(x_i, x_j)

and ``o(x_i)`` (B numbers) is appended to ``f(x_i)``. A collapsed batch has near-identical
samples, so ``o`` is large (up to n - 1); a diverse real batch has small ``o``. The
discriminator learns to use that difference, and the generator is pushed to spread out.

The paper sums over all ``j`` including ``i``, which adds the constant 1; it is left out here
so that a batch of one image gets ``o = 0`` rather than an arbitrary offset.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """``(n, A)`` features -> ``(n, A + B)``: the features and their batch closeness ``o``."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.in_features, self.kernels, self.kernel_dim = in_features, kernels, kernel_dim
        # The paper's reference code draws T from N(0, 0.05^2): small, so early L1 distances
        # are moderate and exp(-distance) does not start out saturated at 0.
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.05)

    @property
    def out_features(self) -> int:
        return self.in_features + self.kernels

    def forward(self, features: Tensor) -> Tensor:
        # fp32 on purpose: exp(-L1) of bf16 differences loses the small closeness values the
        # layer is there to measure, and the cost is tiny next to the convolutions.
        rows = rearrange(features.float() @ self.T.float(), "n (b c) -> n b c", b=self.kernels)
        l1 = (rearrange(rows, "i b c -> i 1 b c") - rearrange(rows, "j b c -> 1 j b c")).abs().sum(dim=-1)
        closeness = torch.exp(-l1).sum(dim=1) - 1.0  # drop c_b(x_i, x_i) = 1
        return torch.cat([features, closeness.to(features.dtype)], dim=1)
