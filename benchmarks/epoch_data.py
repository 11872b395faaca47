"""The digits both sides of the whole-epoch benchmark read: ganzoo's embedded MNIST on disk in
torchvision's layout.

    python benchmarks/epoch_data.py ROOT [--digits 5120]

writes the first N digits of ``mnist-embedded`` (28x28 uint8, the real MNIST test split that
ships with ganzoo) as uncompressed IDX files in ``ROOT/MNIST/raw``, the layout
``torchvision.datasets.MNIST(ROOT)`` reads and ganzoo's ``--dataset mnist --data-root ROOT``
reads too. They are written as the train split, which both sides train on; torchvision also
insists that the test split's two files exist, so the same digits are written there as well.
No download: it works offline, in CI.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import torch
from torch import Tensor

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import MNIST_FILES, MNIST_SIDE, load_embedded_mnist

DEFAULT_DIGITS = 5_120
"""80 full batches of 64: neither side has a partial last batch to treat differently."""
IDX_UNSIGNED_BYTE = 0x08


def idx_bytes(values: Tensor) -> bytes:
    """An IDX file of uint8 ``values``: two zero bytes, the type, the rank, big-endian sizes, the data."""
    header = struct.pack(">BBBB", 0, 0, IDX_UNSIGNED_BYTE, values.ndim) + struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.contiguous().numpy().tobytes()


def write_mnist_digits(root: Path, digits: int = DEFAULT_DIGITS) -> Path:
    """The first ``digits`` embedded digits as ``root/MNIST/raw/{train,t10k}-*-ubyte``; returns ``root``."""
    dataset = load_embedded_mnist(DataConfig(name="mnist-embedded", image_size=MNIST_SIDE, limit=digits))
    if len(dataset) < digits:
        raise ValueError(f"mnist-embedded holds {len(dataset):,} digits, fewer than the {digits:,} asked for")
    assert dataset.labels is not None
    images, labels = dataset.images[:, 0].contiguous(), dataset.labels.to(torch.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for images_name, labels_name in MNIST_FILES.values():
        (raw / images_name).write_bytes(idx_bytes(images))
        (raw / labels_name).write_bytes(idx_bytes(labels))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="where MNIST/raw is written")
    parser.add_argument("--digits", type=int, default=DEFAULT_DIGITS, help=f"how many (default {DEFAULT_DIGITS:,})")
    args = parser.parse_args(argv)
    write_mnist_digits(args.root, args.digits)
    print(f"{args.digits:,} digits in {args.root / 'MNIST' / 'raw'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
