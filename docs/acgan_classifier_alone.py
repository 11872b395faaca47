"""Train acgan's discriminator as a plain classifier, to compare with its class loss inside the game.

    python docs/acgan_classifier_alone.py [STEPS]

The same spectrally normalised ResNet D and Adam (2e-4, betas (0, 0.9)) as the ``acgan`` variant,
batch 64 from the first 8,000 embedded digits, cross-entropy of the classifier head only; every
50 updates it prints the batch loss and the accuracy on the held-out digits 8,000 to 8,999.
docs/pages/quality.md sets this beside ``class_real`` in an ``acgan`` run's metrics.jsonl.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from ganzoo_resnet.models import ACGANDiscriminator, ResNetOptions

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import load_embedded_mnist


def main(steps: int) -> None:
    torch.manual_seed(0)
    digits = load_embedded_mnist(DataConfig())
    images, labels = digits.images.float() / 127.5 - 1, digits.labels
    held_out = slice(8000, 9000)
    discriminator = ACGANDiscriminator(ResNetOptions(), digits.image_shape, 10)
    optimizer = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.0, 0.9))
    for step in range(1, steps + 1):
        batch = torch.randint(0, 8000, (64,))
        loss = F.cross_entropy(discriminator.classify(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            discriminator.eval()
            with torch.no_grad():
                predicted = discriminator.classify(images[held_out]).argmax(dim=1)
            discriminator.train()
            accuracy = (predicted == labels[held_out]).float().mean().item()
            print(f"step {step}: loss {loss.item():.3f}, held-out accuracy {accuracy:.1%}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
