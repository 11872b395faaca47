"""Linear and spherical interpolation between latents."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.errors import ConfigError
from ganzoo.generators.latent import interpolate, lerp, slerp


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_paths_start_and_end_at_the_endpoints(mode):
    start, end = torch.randn(3, 16), torch.randn(3, 16)
    path = interpolate(start, end, 7, mode)
    assert path.shape == (3, 7, 16)
    torch.testing.assert_close(path[:, 0], start)
    torch.testing.assert_close(path[:, -1], end)


def test_slerp_between_orthogonal_unit_vectors_is_a_quarter_circle():
    start, end = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    middle = slerp(start, end, torch.tensor([0.5]))[0, 0]
    torch.testing.assert_close(middle, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    third = slerp(start, end, torch.tensor([1 / 3]))[0, 0]
    torch.testing.assert_close(third, torch.tensor([math.cos(math.pi / 6), math.sin(math.pi / 6)]))


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    start = torch.randn(4, 128)
    end = torch.randn(4, 128)
    end = end / end.norm(dim=1, keepdim=True) * start.norm(dim=1, keepdim=True)  # equal norms
    weights = torch.linspace(0, 1, 9)
    spherical, linear = slerp(start, end, weights), lerp(start, end, weights)
    torch.testing.assert_close(spherical.norm(dim=2), start.norm(dim=1, keepdim=True).expand(4, 9))
    # independent Gaussian latents are nearly orthogonal: the straight midpoint is ~1/sqrt(2) as long
    ratio = linear[:, 4].norm(dim=1) / start.norm(dim=1)
    assert (ratio < 0.85).all()


def test_parallel_latents_fall_back_to_a_straight_line():
    start = torch.tensor([[1.0, 2.0]])
    path = slerp(start, 3 * start, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(path[0], torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]))
    assert torch.isfinite(slerp(start, -start, torch.tensor([0.5]))).all()


def test_lerp_midpoint_by_hand():
    path = lerp(torch.tensor([[0.0, 2.0]]), torch.tensor([[4.0, 0.0]]), torch.tensor([0.25]))
    torch.testing.assert_close(path[0, 0], torch.tensor([1.0, 1.5]))


def test_too_few_steps_is_a_config_error():
    with pytest.raises(ConfigError, match="at least 2 steps"):
        interpolate(torch.zeros(1, 2), torch.ones(1, 2), 1)
