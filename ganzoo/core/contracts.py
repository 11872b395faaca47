"""The plugin boundary, checked once: a generator makes the images it declares, a
discriminator returns one logit per image.

A mismatch found here is one line naming the plugin, the variant and both shapes, instead of
a matmul error deep inside a training step (which blames ganzoo), or worse, a run that trains,
samples and evaluates at a size the file's metadata does not tell. The probe runs two inputs
in eval mode, without gradients and with its own random generator, so it changes no weight,
buffer or RNG state of the run.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganzoo.core.interfaces import Discriminator, Generator, ImageShape
from ganzoo.errors import PluginError, contain_plugin_errors

PROBE_BATCH = 2
RANGE_TOLERANCE = 1e-3  # tanh in low precision can overshoot 1 by an ulp


def count_nonfinite_images(images: Tensor) -> int:
    """How many images hold a NaN or Inf anywhere: the one test behind every "this generator
    makes NaN images" refusal (load probe, sample, eval, serve, the divergence guard)."""
    return int((~torch.isfinite(images.float().flatten(1))).any(dim=1).sum())


def check_generator(generator: Generator, expected_shape: ImageShape, *, what: str,
                    check_range: bool = True) -> Tensor:
    """Run ``generator`` on a probe batch; return its images, or raise naming ``what``.

    ``what`` names the culprit, e.g. ``"variant 'mlp' (ganzoo-mlp)"``. ``check_range`` also
    requires finite values in [-1, 1] (an untrained generator's; trained weights are judged
    by ``load_generator`` itself).
    """
    declared = tuple(generator.image_shape)
    if declared != tuple(expected_shape):
        raise PluginError(f"{what}: the generator declares image_shape {declared} but the data is "
                          f"{tuple(expected_shape)}; the plugin must build its generator for the image_shape "
                          "it is given")
    latent_shape = tuple(generator.latent_shape)
    if math.prod(latent_shape) != generator.latent_dim:
        raise PluginError(f"{what}: the generator's latent_shape {latent_shape} does not hold latent_dim "
                          f"{generator.latent_dim} entries; set latent_dim to their product")
    rng = torch.Generator().manual_seed(0)
    latents = torch.randn(PROBE_BATCH, *latent_shape, generator=rng)
    labels = (torch.arange(PROBE_BATCH) % generator.num_classes) if generator.num_classes else None
    images = _probe(generator, latents, labels, what, "generator")
    expected = (PROBE_BATCH, *declared)
    if tuple(images.shape) != expected:
        raise PluginError(f"{what}: the generator returned shape {tuple(images.shape)} for {PROBE_BATCH} latents, "
                          f"expected {expected} (B, *image_shape); fix the plugin's generator")
    if check_range and (not torch.isfinite(images).all() or images.abs().max() > 1 + RANGE_TOLERANCE):
        low, high = float(images.min()), float(images.max())
        raise PluginError(f"{what}: the generator's images lie in [{low:.3g}, {high:.3g}], outside [-1, 1]; "
                          "end the plugin's generator with tanh (or clamp)")
    return images


def check_discriminator(discriminator: Discriminator, images: Tensor, labels: Tensor | None, *, what: str) -> None:
    """D must return logits of shape (B,) for a batch of B images."""
    logits = _probe(discriminator, images, labels, what, "discriminator")
    if tuple(logits.shape) != (len(images),):
        raise PluginError(f"{what}: the discriminator returned shape {tuple(logits.shape)} for {len(images)} images, "
                          f"expected ({len(images)},): one logit per image; flatten its output "
                          "(e.g. einops.rearrange(x, 'b 1 -> b'))")


def _probe(module: torch.nn.Module, inputs: Tensor, labels: Tensor | None, what: str, role: str) -> Tensor:
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        with contain_plugin_errors(f"{what}: the {role} failed on a probe batch of shape {tuple(inputs.shape)}",
                                   f"fix the plugin's {role}"), torch.no_grad():
            output = module(inputs.to(device), None if labels is None else labels.to(device))
    finally:
        module.train(was_training)
    if not isinstance(output, Tensor):
        raise PluginError(f"{what}: the {role} returned {type(output).__name__}, not a tensor; fix the plugin's {role}")
    return output.float()
