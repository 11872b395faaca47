"""The metric functions on constructed cases whose answers are known exactly."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.metrics.coverage import COVERED_SHARE, conditional_accuracy, mode_coverage
from ganzoo.metrics.feature_metrics import frechet_distance, inception_score, kernel_distance
from ganzoo.metrics.precision_recall import kth_neighbour_radii, precision_recall


def gaussian(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_identical_sets_have_zero_frechet_distance_and_full_precision_recall() -> None:
    features = gaussian(600, 8, seed=0)
    assert frechet_distance(features, features.clone()) == pytest.approx(0.0, abs=1e-6)
    precision, recall = precision_recall(features, features.clone())
    assert precision == 1.0 and recall == 1.0


def test_shifted_gaussian_gives_the_analytic_frechet_distance() -> None:
    real = gaussian(4000, 6, seed=1)
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, -1.0], dtype=torch.float64)
    # same covariance: FD = |shift|^2 exactly, whatever the sample covariance is
    assert frechet_distance(real, real + shift) == pytest.approx(float(shift.square().sum()), rel=1e-6)
    # covariance scaled by 4: sqrt(S1 S2) = 2 S1, so Tr(S1 + 4 S1 - 4 S1) = Tr(S1); the means differ by m + shift
    trace = float(torch.cov(real.T).trace())
    mean_gap = float((real.mean(0) + shift).square().sum())
    assert frechet_distance(real, 2 * real + shift) == pytest.approx(mean_gap + trace, rel=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_another() -> None:
    real, same, other = gaussian(300, 8, 2), gaussian(300, 8, 3), gaussian(300, 8, 4) + 1.5
    same_mean, _ = kernel_distance(real, same, seed=0, subsets=20)
    other_mean, other_std = kernel_distance(real, other, seed=0, subsets=20)
    assert abs(same_mean) < 0.05
    assert other_mean > 1.0 and other_mean > 10 * other_std
    assert kernel_distance(real, other, seed=0, subsets=20) == (other_mean, other_std)  # seeded: reproducible


def test_inception_score_counts_confidently_predicted_classes() -> None:
    confident = torch.full((10_000, 10), -20.0)
    confident[torch.arange(10_000), torch.arange(10_000) % 10] = 20.0
    assert inception_score(confident)[0] == pytest.approx(10.0, rel=0.01)  # splits are random subsets
    one_class = torch.full((1000, 10), -20.0)
    one_class[:, 3] = 20.0
    assert inception_score(one_class)[0] == pytest.approx(1.0, rel=1e-3)


def test_precision_and_recall_separate_realism_from_variety() -> None:
    real = gaussian(800, 4, seed=5)
    far_away = gaussian(800, 4, seed=6) + 100.0
    assert precision_recall(real, far_away) == (0.0, 0.0)
    # samples from one corner of the real distribution: realistic (high precision), little variety
    corner = real[real[:, 0] > 1.0]
    precision, recall = precision_recall(real, corner)
    assert precision == 1.0 and recall < 0.5


def test_kth_neighbour_radius_skips_the_point_itself() -> None:
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert kth_neighbour_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="more than 3 points"):
        kth_neighbour_radii(points[:3], k=3)


def one_hot_logits(classes: torch.Tensor) -> torch.Tensor:
    logits = torch.full((len(classes), 10), -10.0)
    logits[torch.arange(len(classes)), classes] = 10.0
    return logits


def test_mode_coverage_of_a_collapsed_and_a_balanced_generator() -> None:
    real_labels = torch.arange(1000) % 10
    collapsed = mode_coverage(one_hot_logits(torch.full((500,), 7)), real_labels)
    assert collapsed.classes_covered == 1
    assert collapsed.kl_to_real == pytest.approx(math.log(10), rel=1e-3)
    assert collapsed.histogram[7] == 1.0
    balanced = mode_coverage(one_hot_logits(torch.arange(500) % 10), real_labels)
    assert balanced.classes_covered == 10 and balanced.kl_to_real == pytest.approx(0.0, abs=1e-6)
    assert balanced.confidence == pytest.approx(1.0, abs=1e-6)


def test_a_class_below_its_fair_share_is_not_covered() -> None:
    real_labels = torch.arange(1000) % 10
    rare = int(500 * 0.1 * COVERED_SHARE) - 1  # just under the threshold for class 9
    generated = torch.cat([torch.arange(500 - rare) % 9, torch.full((rare,), 9)])
    assert mode_coverage(one_hot_logits(generated), real_labels).classes_covered == 9


def test_conditional_accuracy_compares_verdicts_with_requested_labels() -> None:
    requested = torch.arange(100) % 10
    verdicts = requested.clone()
    verdicts[:25] = (verdicts[:25] + 1) % 10
    assert conditional_accuracy(one_hot_logits(verdicts), requested) == pytest.approx(0.75)
