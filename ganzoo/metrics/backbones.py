"""Feature backbones: images in [-1, 1] -> (features, class logits), each with a name and fingerprint.

``mnist-classifier`` ships with ganzoo and always works. ``inception`` is the InceptionV3 of
torch-fidelity/torchmetrics with the FID weights converted from TensorFlow; they cannot be
downloaded by ganzoo, so ``load_backbone`` looks for them where a user can put them and, when
they are absent, raises ``BackboneUnavailable`` with one line saying how to provide them.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ganzoo.data.dataset import to_uint8, to_unit_range
from ganzoo.errors import GanzooError
from ganzoo.io.inputs import check_input
from ganzoo.metrics.classifier import load_classifier

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                         + INCEPTION_WEIGHTS_FILE)
BACKBONES = ("mnist-classifier", "inception")


class BackboneUnavailable(GanzooError):
    """A backbone's weights or code are not installed; evaluation goes on without it."""


def cache_dir() -> Path:
    """Where ganzoo keeps reference statistics and optional weights: $GANZOO_CACHE or ~/.cache/ganzoo."""
    return Path(os.environ.get("GANZOO_CACHE") or Path.home() / ".cache" / "ganzoo").expanduser()


@dataclass(frozen=True)
class Embedding:
    """Per-image features (N, D) and class logits (N, K) or ``None``, float32 on the CPU."""

    features: Tensor
    logits: Tensor | None


class Backbone(ABC):
    """Turns images into features; ``has_classes`` when its logits are MNIST digit classes."""

    name: str
    fingerprint: str
    device: torch.device
    has_classes: bool = False

    @abstractmethod
    def _embed_batch(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """(features, logits) of one batch of images in [-1, 1] already on the backbone's device."""

    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 500) -> Embedding:
        """Embed images in [-1, 1], or uint8 images (converted batch by batch), in batches."""
        features, logits = [], []
        for batch in images.split(batch_size):
            batch = batch.to(self.device)
            if batch.dtype == torch.uint8:
                batch = to_unit_range(batch)
            batch_features, batch_logits = self._embed_batch(batch)
            features.append(batch_features.float().cpu())
            if batch_logits is not None:
                logits.append(batch_logits.float().cpu())
        return Embedding(torch.cat(features), torch.cat(logits) if logits else None)


class MnistClassifierBackbone(Backbone):
    """The shipped digit classifier: 128-d penultimate features, 10 digit logits."""

    name = "mnist-classifier"
    has_classes = True

    def __init__(self, device: torch.device, weights: Path | None = None) -> None:
        self.device = device
        self.model, self.fingerprint = load_classifier(weights, device)

    def _embed_batch(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.model.embed(images)


class InceptionBackbone(Backbone):
    """FID's InceptionV3: 2048-d pool features and 1008 logits, from uint8 RGB at any size.

    ``network`` takes uint8 (B, 3, H, W) and returns (features, logits); it resizes to 299x299
    itself, the torch-fidelity way (bilinear like TensorFlow 1, no antialiasing), which is what
    makes the numbers comparable with the original TensorFlow FID. Grey images are tiled to three
    channels first.
    """

    name = "inception"

    def __init__(self, network: nn.Module, device: torch.device, fingerprint: str) -> None:
        self.network = network.to(device).eval()
        self.device, self.fingerprint = device, fingerprint

    def _embed_batch(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        pixels = to_uint8(images)
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        features, logits = self.network(pixels)
        return features, logits


def find_inception_weights(explicit: Path | None = None) -> Path | None:
    """The FID Inception weights file: ``explicit`` when given (checked, never replaced by another
    file found elsewhere), else the first existing one among the places a user can put one."""
    if explicit is not None:
        try:
            check_input(explicit, "Inception weights file", error=BackboneUnavailable)
        except BackboneUnavailable as exc:
            raise BackboneUnavailable(f"inception skipped: {exc}") from None
        return Path(explicit)
    candidates = [os.environ.get("GANZOO_INCEPTION_WEIGHTS"), cache_dir() / "weights" / INCEPTION_WEIGHTS_FILE,
                  Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_inception(device: torch.device, weights: Path | None = None) -> InceptionBackbone:
    path = find_inception_weights(weights)
    if path is None:
        raise BackboneUnavailable(
            f"inception skipped: the FID InceptionV3 weights are not here (no network); download "
            f"{INCEPTION_WEIGHTS_URL} to {cache_dir() / 'weights'}/ (or set GANZOO_INCEPTION_WEIGHTS / "
            "--inception-weights PATH) and `pip install torch-fidelity`")
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError:  # pragma: no cover - torchmetrics always ships it
        raise BackboneUnavailable("inception skipped: this torchmetrics has no NoTrainInceptionV3") from None
    try:
        torch.load(path, map_location="cpu", weights_only=True)  # refuse anything but plain tensors
    except Exception as exc:
        raise BackboneUnavailable(f"inception skipped: {str(path)!r} is not a plain state dict "
                                  f"({type(exc).__name__}); use the torch-fidelity weights file") from None
    try:
        network = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                     feature_extractor_weights_path=str(path), antialias=False)
    except ModuleNotFoundError:
        raise BackboneUnavailable("inception skipped: it needs torch-fidelity; `pip install torch-fidelity` "
                                  f"(weights found at {path})") from None
    from ganzoo.metrics.classifier import weights_fingerprint

    return InceptionBackbone(network, device, weights_fingerprint(path))


def load_backbone(name: str, device: torch.device, *, inception_weights: Path | None = None) -> Backbone:
    """Build a backbone by name; ``BackboneUnavailable`` when its weights are missing."""
    if name == "mnist-classifier":
        return MnistClassifierBackbone(device)
    if name == "inception":
        return load_inception(device, inception_weights)
    from ganzoo.errors import UnknownNameError

    raise UnknownNameError("backbone", name, BACKBONES)
