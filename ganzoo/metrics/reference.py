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
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.core.interfaces import TrainingImages
from ganzoo.errors import GanzooError, WeightsError
from ganzoo.io.files import atomic_write_bytes
from ganzoo.io.inputs import TEXT_MAX_BYTES, check_input, read_input_bytes
from ganzoo.io.safe_state import read_safetensors, save_safetensors
from ganzoo.io.structured import load_json
from ganzoo.metrics.backbones import Backbone, Embedding, cache_dir
from ganzoo.metrics.catalogue import METRIC_GROUPS, METRICS

REFERENCE_FORMAT = "ganzoo.reference.v1"
REMOVE_CACHE_ENTRY = "remove it; ganzoo computes the cache entry again"
CONTENT_KEY = "content_sha256"
"""The digest a cache entry and a baseline file carry over all they hold, checked on every read:
an entry edited on disk (a row past the spot check, one baseline value) is computed again."""
BASELINE_DEPTH = 5
"""``{"baselines": {"seed0": {"values": {"fid": [value, std]}}}, "content_sha256": ...}``: anything deeper is
not a baseline."""
SPOT_CHECK_IMAGES = 2
SPOT_CHECK_TOLERANCE = 1e-2
"""A cached embedding's first rows must be this close (relative) to a fresh embedding of the same
images: loose enough for another device's rounding, far tighter than another dataset's features."""
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
        """The cached baseline numbers; ``{}`` when there are none, or when they are damaged (not
        UTF-8 JSON, nested deeper than a baseline, numbers out of range, another shape: they are
        then computed again and rewritten, never shown)."""
        if not os.path.lexists(self.baseline_path):
            return {}
        data = read_input_bytes(self.baseline_path, "cached real-vs-real baseline", max_bytes=TEXT_MAX_BYTES,
                                fix=REMOVE_CACHE_ENTRY)
        try:
            cached = load_json(data, "cached real-vs-real baseline", max_depth=BASELINE_DEPTH)
        except GanzooError:
            return {}
        if not (isinstance(cached, dict) and cached.get(CONTENT_KEY) == content_digest(cached.get("baselines"))):
            return {}  # edited on disk, or from before the digest: computed again, never shown
        values = cached["baselines"]
        return values if _valid_baseline(values) else {}

    def write_baseline(self, values: dict[str, Any]) -> None:
        record = {"baselines": values, CONTENT_KEY: content_digest(values)}
        atomic_write_bytes(json.dumps(record, indent=2, sort_keys=True).encode(), self.baseline_path)


def reference_subset(dataset: TrainingImages, num_real: int | None) -> tuple[Tensor, Tensor | None]:
    """The real images (uint8) and labels evaluated against: all of them, or a fixed random subset."""
    if num_real is None or num_real >= len(dataset):
        return dataset.uint8_images(), dataset.labels
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(REFERENCE_SUBSET_SEED))[:num_real]
    labels = None if dataset.labels is None else dataset.labels[index.to(dataset.labels.device)]
    return dataset.uint8_images(index), labels


def reference_key(dataset_name: str, split: str, images: Tensor, backbone: Backbone) -> str:
    channels, height, width = images.shape[1:]
    digest = hashlib.sha256(images.cpu().contiguous().numpy().tobytes()).hexdigest()[:10]
    raw = f"{dataset_name}-{split}-{channels}x{height}x{width}-{backbone.name}-{backbone.fingerprint}-n{len(images)}-{digest}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)


def load_reference(dataset: TrainingImages, split: str, backbone: Backbone, *, num_real: int | None = None,
                   batch_size: int = 500, root: Path | None = None) -> Reference:
    """The reference embedding from the cache, or computed now and written to it."""
    images, labels = reference_subset(dataset, num_real)
    key = reference_key(dataset.name, split, images, backbone)
    path = (root or cache_dir()) / "reference" / f"{key}.safetensors"
    labels = None if labels is None else labels.cpu()
    cached = read_cached_embedding(path, key, images, backbone)
    if cached is not None:
        return Reference(key, cached, labels, path, "hit")
    embedding = backbone.embed(images, batch_size)
    tensors = {"features": embedding.features}
    if embedding.logits is not None:
        tensors["logits"] = embedding.logits
    save_safetensors(tensors, {"format": REFERENCE_FORMAT, "key": key, CONTENT_KEY: tensors_digest(tensors)}, path)
    path.with_suffix(".baseline.json").unlink(missing_ok=True)
    return Reference(key, embedding, labels, path, "miss")


def read_cached_embedding(path: Path, key: str, images: Tensor, backbone: Backbone) -> Embedding | None:
    """The embedding cached at ``path`` when it is exactly the one ``key`` names, else ``None``.

    A cache entry that is damaged, truncated, from another key, of the wrong size, holds NaN/Inf,
    or does not match a fresh embedding of its first images (a file copied or renamed from
    another dataset, resolution or backbone) is recomputed, never used. One that is not a
    readable regular file (a directory, a FIFO) is refused: it is not ganzoo's to remove.
    """
    if not os.path.lexists(path):
        return None
    check_input(path, "cached reference statistics", fix=REMOVE_CACHE_ENTRY)
    try:
        tensors, metadata = read_safetensors(path, "cached reference statistics")
    except WeightsError:
        return None
    if metadata.get("format") != REFERENCE_FORMAT or metadata.get("key") != key:
        return None
    if metadata.get(CONTENT_KEY) != tensors_digest(tensors):  # a row changed anywhere, not only where spot-checked
        return None
    fresh = backbone.embed(images[:SPOT_CHECK_IMAGES])
    features, logits = tensors.get("features"), tensors.get("logits")
    if not _matches(features, len(images), fresh.features):
        return None
    if fresh.logits is None:
        return Embedding(features, None) if logits is None else None
    return Embedding(features, logits) if _matches(logits, len(images), fresh.logits) else None


def tensors_digest(tensors: dict[str, Tensor]) -> str:
    """SHA-256 over every row of every cached tensor (names, shapes, dtypes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def content_digest(values: Any) -> str:
    """SHA-256 over a JSON value as ganzoo writes it (sorted keys)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, allow_nan=False).encode()).hexdigest()


def _matches(cached: Tensor | None, count: int, fresh: Tensor) -> bool:
    """Right dtype and shape, finite, and its first rows equal (to rounding across devices) ``fresh``."""
    if cached is None or cached.dtype != torch.float32 or tuple(cached.shape) != (count, fresh.shape[1]):
        return False
    if not bool(torch.isfinite(cached).all()):
        return False
    head = cached[:len(fresh)]
    return bool((head - fresh).norm() <= SPOT_CHECK_TOLERANCE * (fresh.norm() + 1e-6))


def _valid_baseline(cached: Any) -> bool:
    """``{"seed0": {"groups": [...], "values": {"fid": [value, std or null]}}}`` with finite numbers
    (every test safe on any JSON value: a list among the groups is not hashable)."""
    if not isinstance(cached, dict):
        return False
    for entry in cached.values():
        if not (isinstance(entry, dict) and isinstance(entry.get("groups"), list)
                and all(isinstance(group, str) and group in METRIC_GROUPS for group in entry["groups"])
                and isinstance(entry.get("values"), dict)):
            return False
        for name, value in entry["values"].items():
            if name not in METRICS or not (isinstance(value, list) and len(value) == 2):
                return False
            if not _is_number(value[0]) or not (value[1] is None or _is_number(value[1])):
                return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

