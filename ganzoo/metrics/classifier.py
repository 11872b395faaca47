"""The MNIST digit classifier behind the ``mnist-classifier`` backbone, and its shipped weights.

A LeNet-like CNN trained by ``python -m ganzoo.metrics.train_classifier`` on a fixed part of the
embedded MNIST test split; the rest is held out and its accuracy is recorded in the JSON file
beside the weights. Its penultimate layer (128 values, before the ReLU, scaled to unit RMS) gives the features for
Fréchet distance, KID and precision/recall; its logits give the MNIST Inception Score, the class
histogram and conditional accuracy.

The network takes images in [-1, 1] of any size and channel count: colour is averaged to grey
and the image is resized (bilinear, antialiased) to 28x28 inside ``forward``, so the classifier
works at whatever resolution a generator produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.errors import WeightsError
from ganzoo.io.inputs import check_input, read_input_bytes, read_input_text
from ganzoo.io.safe_state import read_safetensors
from ganzoo.io.structured import load_json

CLASSIFIER_SIZE = 28
FEATURE_DIM = 128
NUM_CLASSES = 10
SHIPPED_WEIGHTS = resources.files("ganzoo") / "assets" / "mnist_classifier.safetensors"
SHIPPED_CARD = resources.files("ganzoo") / "assets" / "mnist_classifier.json"


class MnistClassifier(nn.Module):
    """conv5-32, pool, conv5-64, pool, fc-128 (the feature layer), fc-10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.features = nn.Linear(64 * 5 * 5, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        # 1 / RMS of the features on the training digits, fixed after training: keeps feature values
        # near unit scale, where KID's cubic kernel (x.y/d + 1)^3 is well conditioned.
        self.register_buffer("feature_scale", torch.ones(()))

    @staticmethod
    def standardise(images: Tensor) -> Tensor:
        """Any (B, C, H, W) in [-1, 1] -> (B, 1, 28, 28): grey, resized, the classifier's input."""
        images = images.float()
        if images.shape[1] != 1:
            images = images.mean(dim=1, keepdim=True)
        if images.shape[-2:] != (CLASSIFIER_SIZE, CLASSIFIER_SIZE):
            images = F.interpolate(images, size=(CLASSIFIER_SIZE, CLASSIFIER_SIZE), mode="bilinear",
                                   align_corners=False, antialias=True)
        return images

    def embed(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(features, logits) of images in [-1, 1]."""
        hidden = self.conv(self.standardise(images)).flatten(1)
        features = self.features(hidden)
        return features * self.feature_scale, self.head(self.dropout(F.relu(features)))

    def forward(self, images: Tensor) -> Tensor:
        return self.embed(images)[1]


@dataclass(frozen=True)
class ClassifierCard:
    """What the JSON beside the weights records: how the classifier was trained and how well it does."""

    held_out_accuracy: float
    train_indices: tuple[int, int]
    held_out_indices: tuple[int, int]
    data: str
    fingerprint: str
    details: dict[str, Any]


def weights_fingerprint(path: Path) -> str:
    """First 12 hex digits of the weights' SHA-256: names the exact classifier in caches and results."""
    return hashlib.sha256(read_input_bytes(path, "weights file", error=WeightsError)).hexdigest()[:12]


def load_classifier(path: Path | None = None, device: torch.device | str = "cpu") -> tuple[MnistClassifier, str]:
    """The trained classifier in eval mode and its fingerprint; the shipped weights by default."""
    with resources.as_file(SHIPPED_WEIGHTS) as shipped:
        weights = Path(path) if path is not None else Path(shipped)
        check_input(weights, "classifier weights", error=WeightsError,
                    fix="reinstall ganzoo or retrain them with `python -m ganzoo.metrics.train_classifier`")
        tensors, _ = read_safetensors(weights, "classifier weights")
        fingerprint = weights_fingerprint(weights)
    model = MnistClassifier()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise WeightsError(f"{str(weights)!r} does not fit the MNIST classifier; retrain it with "
                           "`python -m ganzoo.metrics.train_classifier`") from None
    return model.to(device).eval(), fingerprint


def read_card() -> ClassifierCard:
    """The shipped classifier's record: held-out accuracy, which indices it trained on."""
    with resources.as_file(SHIPPED_CARD) as card_path:
        raw = load_json(read_input_text(card_path, "classifier card", error=WeightsError),
                        f"classifier card {str(card_path)!r}", error=WeightsError, fix="reinstall ganzoo")
    return ClassifierCard(held_out_accuracy=raw["held_out_accuracy"], train_indices=tuple(raw["train_indices"]),
                          held_out_indices=tuple(raw["held_out_indices"]), data=raw["data"],
                          fingerprint=raw["fingerprint"], details=raw)
