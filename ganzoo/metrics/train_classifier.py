"""Train the ``mnist-classifier`` backbone: ``python -m ganzoo.metrics.train_classifier``.

Only the MNIST test split ships with ganzoo, so the classifier trains on its first
``--train-count`` digits (default 8,000) and is scored on the rest, which it never sees. Light
augmentation (random shifts of up to two pixels, and a round trip through 32x32 so the
resize-to-28 inside the network is part of training) keeps it honest on generated images at other
resolutions. A few CPU minutes; the weights (safetensors) and a JSON card with the held-out
accuracy and the split are written to ``ganzoo/assets/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import load_embedded_mnist, to_unit_range
from ganzoo.io.files import atomic_write_bytes
from ganzoo.io.safe_state import save_safetensors
from ganzoo.metrics.classifier import MnistClassifier, weights_fingerprint

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def augment(images: Tensor, rng: torch.Generator) -> Tensor:
    """Random shifts of up to 2 pixels, and half the batch resized 28 -> 32 (the network resizes back)."""
    shifts = torch.randint(-2, 3, (2,), generator=rng).tolist()
    padded = F.pad(images, (2, 2, 2, 2), value=-1.0)
    images = padded[:, :, 2 + shifts[0]:30 + shifts[0], 2 + shifts[1]:30 + shifts[1]]
    if torch.rand((), generator=rng) < 0.5:
        images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    return images


@torch.no_grad()
def accuracy(model: MnistClassifier, images: Tensor, labels: Tensor) -> float:
    model.eval()
    predictions = torch.cat([model(part).argmax(1) for part in images.split(1000)])
    return float((predictions == labels).float().mean())


@torch.no_grad()
def calibrate_feature_scale(model: MnistClassifier, images: Tensor) -> None:
    """Fix ``feature_scale`` so the features of the training digits have unit RMS."""
    model.eval()
    model.feature_scale.fill_(1.0)
    features = torch.cat([model.embed(part)[0] for part in images.split(1000)])
    model.feature_scale.fill_(float(features.pow(2).mean().rsqrt()))


def train_classifier(*, train_count: int, epochs: int, seed: int, batch_size: int = 64) -> tuple[MnistClassifier, dict]:
    torch.manual_seed(seed)
    mnist = load_embedded_mnist(DataConfig(image_size=28))
    assert mnist.labels is not None
    images, labels = to_unit_range(mnist.images), mnist.labels
    train_x, train_y = images[:train_count], labels[:train_count]
    held_x, held_y = images[train_count:], labels[train_count:]
    model = MnistClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (train_count // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    rng = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(train_count, generator=rng)
        for first in range(0, train_count - batch_size + 1, batch_size):
            index = order[first:first + batch_size]
            loss = F.cross_entropy(model(augment(train_x[index], rng)), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: held-out accuracy {accuracy(model, held_x, held_y):.4f} "
              f"({time.perf_counter() - started:.0f}s)", flush=True)
    calibrate_feature_scale(model, train_x)
    record = {
        "held_out_accuracy": round(accuracy(model, held_x, held_y), 4),
        "held_out_accuracy_at_32px": round(accuracy(model, F.interpolate(
            held_x, size=(32, 32), mode="bilinear", antialias=True), held_y), 4),
        "train_accuracy": round(accuracy(model, train_x, train_y), 4),
        "data": "mnist-embedded (the MNIST test split shipped in ganzoo/assets/mnist)",
        "train_indices": [0, train_count], "held_out_indices": [train_count, len(images)],
        "epochs": epochs, "seed": seed, "batch_size": batch_size,
        "augmentation": "random shifts of up to 2 px; half the batches resized 28 -> 32",
        "trained_seconds": round(time.perf_counter() - started, 1),
        "torch_version": torch.__version__,
    }
    return model.eval(), record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-count", type=int, default=8000, help="train on the first N digits (default 8000)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out-dir", type=Path, default=ASSETS, help="where to write the weights and card")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, record = train_classifier(train_count=args.train_count, epochs=args.epochs, seed=args.seed)
    weights = args.out_dir / "mnist_classifier.safetensors"
    save_safetensors(dict(model.state_dict()), {"format": "ganzoo.mnist-classifier.v1"}, weights)
    record["fingerprint"] = weights_fingerprint(weights)
    atomic_write_bytes((json.dumps(record, indent=2) + "\n").encode(), args.out_dir / "mnist_classifier.json")
    print(f"held-out accuracy {record['held_out_accuracy']:.4f} on digits {record['held_out_indices']}; "
          f"wrote {weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
