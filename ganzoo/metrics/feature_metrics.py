"""Metrics over feature vectors and class logits, computed with torchmetrics.

Backbones turn images into features once; these functions take the features, so one set of
real features (cached on disk) serves Fréchet distance, KID and precision/recall alike. The
torchmetrics classes are fed through ``FeaturesAsInput``, an identity "feature extractor": the
statistics and the formulas are torchmetrics' own, nothing is re-implemented. Precision and
recall (Kynkäänniemi et al. 2019) have no torchmetrics image version and are written out in
``precision_recall.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
IS_SPLITS = 10


class FeaturesAsInput(nn.Module):
    """The identity, posing as a torchmetrics feature extractor so metrics accept features directly."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """KID and IS draw random subsets with the global RNG; fix it, and leave the caller's alone."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        torch.manual_seed(seed)
        yield


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID when they are Inception's)."""
    metric = FrechetInceptionDistance(feature=FeaturesAsInput(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return max(float(metric.compute()), 0.0)


def kernel_distance(real: Tensor, fake: Tensor, *, seed: int = 0, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE) -> tuple[float, float]:
    """KID: mean and std of the unbiased polynomial-kernel MMD² over ``subsets`` random subsets."""
    subset_size = min(subset_size, len(real), len(fake))
    with _seeded(seed):
        metric = KernelInceptionDistance(feature=FeaturesAsInput(real.shape[1]), subsets=subsets,
                                         subset_size=subset_size)
        metric.update(real.double(), real=True)
        metric.update(fake.double(), real=False)
        mean, std = metric.compute()
    return float(mean), float(std)


def inception_score(logits: Tensor, *, seed: int = 0) -> tuple[float, float]:
    """Inception Score, exp(E KL(p(y|x) || p(y))), over ``IS_SPLITS`` splits: mean and std."""
    with _seeded(seed):
        metric = InceptionScore(feature=FeaturesAsInput(logits.shape[1]), splits=min(IS_SPLITS, len(logits)))
        metric.update(logits.double())
        mean, std = metric.compute()
    return float(mean), float(std)
