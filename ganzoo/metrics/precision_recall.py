"""Improved precision and recall (Kynkäänniemi et al. 2019) over feature vectors.

Each set's manifold is the union of balls around its points, each ball reaching the point's
k-th nearest neighbour in the same set. Precision is the share of generated points inside the
real manifold (are the samples realistic?); recall is the share of real points inside the
generated manifold (is the real variety covered?). Distances are computed in chunks so 10,000 x
10,000 pairs never sit in memory at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_K = 3
CHUNK = 1024


def kth_neighbour_radii(points: Tensor, k: int = DEFAULT_K) -> Tensor:
    """Distance from each point to its k-th nearest other point of the same set."""
    if len(points) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set, got {len(points)}")
    radii = []
    for chunk in points.split(CHUNK):
        distances = torch.cdist(chunk, points)
        # the smallest distance is the point itself (0); the (k+1)-th smallest is the k-th neighbour
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def share_inside_manifold(queries: Tensor, points: Tensor, radii: Tensor) -> float:
    """Share of ``queries`` within ``radii[j]`` of some ``points[j]``."""
    inside = []
    for chunk in queries.split(CHUNK):
        inside.append((torch.cdist(chunk, points) <= radii.unsqueeze(0)).any(dim=1))
    return float(torch.cat(inside).float().mean())


def precision_recall(real: Tensor, fake: Tensor, k: int = DEFAULT_K) -> tuple[float, float]:
    """(precision, recall) of ``fake`` against ``real`` features."""
    real, fake = real.float(), fake.float()
    precision = share_inside_manifold(fake, real, kth_neighbour_radii(real, k))
    recall = share_inside_manifold(real, fake, kth_neighbour_radii(fake, k))
    return precision, recall
