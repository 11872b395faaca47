"""ganzoo-minibatch: a conv GAN whose discriminator uses minibatch discrimination."""

from __future__ import annotations

__version__ = "0.1.0"
