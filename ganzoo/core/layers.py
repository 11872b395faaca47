"""Layer building blocks that plugins share: spectral normalisation of a whole discriminator.

Spectral normalisation (Miyato et al. 2018) divides each weight by an estimate of its largest
singular value, so every layer is (about) 1-Lipschitz and so is a discriminator made of them and
1-Lipschitz activations. The estimate is a power iteration whose vectors are buffers of the layer:
each forward pass in train mode refines them by ``n_power_iterations`` steps (one, as in the
paper: the weights change slowly, so the estimate tracks them), eval mode reuses them. Being
buffers, they travel with ``state_dict`` and so with checkpoints, which keeps resume exact.

A convolution's weight is normalised as the matrix (out, in * kh * kw), the paper's choice; that
is not the exact operator norm of the convolution, only a cheap proxy for it.
"""

from __future__ import annotations

from typing import TypeVar

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

NORMALISED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                     nn.ConvTranspose3d, nn.Embedding)
"""The layers whose ``weight`` ``spectrally_normalised`` reparametrises."""

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def spectrally_normalised(module: ModuleT, *, n_power_iterations: int = 1, eps: float = 1e-12) -> ModuleT:
    """Spectrally normalise every Linear, Conv and Embedding weight in ``module`` (itself included).

    Uses ``torch.nn.utils.parametrizations.spectral_norm``; a weight that is already
    parametrised is left alone, so applying this twice changes nothing. Returns ``module``, so
    ``self.net = spectrally_normalised(nn.Sequential(...))`` reads as one step. Initialise the
    weights *before* calling this: afterwards ``layer.weight`` is computed from
    ``layer.parametrizations.weight.original``, and writing to it does nothing.
    """
    for layer in list(module.modules()):
        if isinstance(layer, NORMALISED_LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer, n_power_iterations=n_power_iterations, eps=eps)
    return module
