"""Mode coverage and conditional accuracy, judged by the MNIST classifier.

Mode collapse shows directly in the class histogram of generated samples: how many classes
appear in a fair share, and how far the histogram is from the real class distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

COVERED_SHARE = 0.2
"""A class counts as covered when it receives at least this fraction of its real share of samples
(for 10 balanced classes: at least 2% of the samples). The classifier's own mistakes, about 1%,
spread over the other classes, so a one-digit generator is not credited with covering them."""
KL_EPSILON = 1e-6


@dataclass(frozen=True)
class Coverage:
    histogram: list[float]
    classes_covered: int
    kl_to_real: float
    confidence: float


def class_histogram(labels: Tensor, num_classes: int) -> Tensor:
    """Share of each class among ``labels``, float64, summing to one."""
    return torch.bincount(labels.flatten().cpu(), minlength=num_classes).double() / max(labels.numel(), 1)


def mode_coverage(logits: Tensor, real_labels: Tensor) -> Coverage:
    """Class histogram of the classifier's verdicts, classes covered, KL(generated || real), confidence.

    KL is taken in the generated-to-real direction (as in VEEGAN and PacGAN): it stays finite when
    the generator misses classes entirely, and grows as the samples pile onto a few of them.
    """
    num_classes = logits.shape[1]
    generated = class_histogram(logits.argmax(dim=1), num_classes)
    real = class_histogram(real_labels, num_classes)
    covered = int(((generated >= COVERED_SHARE * real) & (real > 0)).sum())
    smoothed_generated = (generated + KL_EPSILON) / (1 + num_classes * KL_EPSILON)
    smoothed_real = (real + KL_EPSILON) / (1 + num_classes * KL_EPSILON)
    kl = float((smoothed_generated * (smoothed_generated / smoothed_real).log()).sum())
    confidence = float(logits.float().softmax(dim=1).max(dim=1).values.mean())
    return Coverage([round(float(p), 5) for p in generated], covered, max(kl, 0.0), confidence)


def conditional_accuracy(logits: Tensor, requested: Tensor) -> float:
    """How often the classifier agrees with the label the generator was asked for."""
    return float((logits.argmax(dim=1).cpu() == requested.cpu()).float().mean())
