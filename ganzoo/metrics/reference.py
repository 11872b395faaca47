"""Reference statistics of the real data: embedded once, cached on disk, reused by every evaluation.

The cache file is keyed by the dataset, split, resolution, backbone (and its weights'
fingerprint), the number of real samples and a digest of the images themselves, so a retrained
classifier or a different subset never reuses stale features. Files live in
``$GANZOO_CACHE/reference/`` (default ``~/.cache/ganzoo``) as safetensors, with the real-vs-real
baseline numbers beside them in JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.data import ImageDataset
from ganzoo.errors import WeightsError
from ganzoo.metrics.backbones import Backbone, Embedding, cache_dir
from ganzoo.safe_state import atomic_write_bytes, read_safetensors, save_safetensors

REFERENCE_SUBSET_SEED = 0
"""The real subset (when fewer real samples than the dataset holds are asked for) and the split
into two halves for the baseline are fixed, independent of the evaluation seed."""


@dataclass(frozen=True)
class Reference:
    """Real features/logits of the reference subset, its labels, and whether the cache had it."""

    key: str
    embedding: Embedding
    labels: Tensor | None
    path: Path
    cache: str  # "hit" or "miss"

    def halves(self) -> tuple[Reference, Reference]:
        """Two disjoint halves of the reference set, for the real-vs-real baseline."""
        order = torch.randperm(len(self.embedding.features), generator=torch.Generator().manual_seed(1))
        middle = len(order) // 2
        return self._subset(order[:middle]), self._subset(order[middle:])

    def _subset(self, index: Tensor) -> Reference:
        logits = None if self.embedding.logits is None else self.embedding.logits[index]
        labels = None if self.labels is None else self.labels[index]
        return Reference(self.key, Embedding(self.embedding.features[index], logits), labels, self.path, self.cache)

    @property
    def baseline_path(self) -> Path:
        return self.path.with_suffix(".baseline.json")

    def read_baseline(self) -> dict[str, Any]:
        try:
            return json.loads(self.baseline_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    def write_baseline(self, values: dict[str, Any]) -> None:
        atomic_write_bytes(json.dumps(values, indent=2, sort_keys=True).encode(), self.baseline_path)


def reference_subset(dataset: ImageDataset, num_real: int | None) -> tuple[Tensor, Tensor | None]:
    """The real images (uint8) and labels evaluated against: all of them, or a fixed random subset."""
    if num_real is None or num_real >= len(dataset):
        return dataset.images, dataset.labels
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(REFERENCE_SUBSET_SEED))[:num_real]
    index = index.to(dataset.images.device)
    return dataset.images[index], None if dataset.labels is None else dataset.labels[index]


def reference_key(dataset_name: str, split: str, images: Tensor, backbone: Backbone) -> str:
    channels, height, width = images.shape[1:]
    digest = hashlib.sha256(images.cpu().contiguous().numpy().tobytes()).hexdigest()[:10]
    raw = f"{dataset_name}-{split}-{channels}x{height}x{width}-{backbone.name}-{backbone.fingerprint}-n{len(images)}-{digest}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)


def load_reference(dataset: ImageDataset, split: str, backbone: Backbone, *, num_real: int | None = None,
                   batch_size: int = 500, root: Path | None = None) -> Reference:
    """The reference embedding from the cache, or computed now and written to it."""
    images, labels = reference_subset(dataset, num_real)
    key = reference_key(dataset.name, split, images, backbone)
    path = (root or cache_dir()) / "reference" / f"{key}.safetensors"
    labels = None if labels is None else labels.cpu()
    if path.is_file():
        try:
            tensors, _ = read_safetensors(path, "reference statistics")
            embedding = Embedding(tensors["features"], tensors.get("logits"))
            return Reference(key, embedding, labels, path, "hit")
        except (WeightsError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache entry is recomputed, never trusted
    embedding = backbone.embed(images, batch_size)
    tensors = {"features": embedding.features}
    if embedding.logits is not None:
        tensors["logits"] = embedding.logits
    save_safetensors(tensors, {"format": "ganzoo.reference.v1", "key": key}, path)
    path.with_suffix(".baseline.json").unlink(missing_ok=True)
    return Reference(key, embedding, labels, path, "miss")

