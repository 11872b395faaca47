"""The contracts between the engine and the plugins.

Four small abstractions, and nothing else crosses the core/plugin boundary:

* ``Generator`` maps latents (and, for conditional models, labels) to images in [-1, 1].
* ``Discriminator`` maps images (and labels) to **logits**, never probabilities: the loss owns the
  non-linearity so it can use the numerically stable, autocast-safe ``*_with_logits`` forms.
* ``Loss`` turns logits into the discriminator's and the generator's objectives.
* ``TrainingStrategy`` performs one optimisation step of the game on a ``Game`` or, for a
  variant without a discriminator (a diffusion model), on a ``SoloGame``.

Plugins never touch devices, files or the console; the engine owns those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from ganzoo.core.sampling import check_sampling_precision, decode_all, seeded_inputs

ImageShape = tuple[int, int, int]
"""(channels, height, width) of one image."""


class Generator(nn.Module, ABC):
    """Noise (and optionally a class label) to an image batch in [-1, 1].

    Subclasses set ``latent_dim``, ``image_shape`` and ``num_classes`` (``None`` when
    unconditional) in ``__init__`` and implement ``forward``. A generator whose latent is not a
    vector (a diffusion model's x_T is shaped like an image) overrides ``latent_shape``;
    ``latent_dim`` is then the number of entries of one latent.
    """

    latent_dim: int
    image_shape: ImageShape
    num_classes: int | None = None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of one latent: ``(latent_dim,)``, or e.g. ``image_shape`` for a diffusion model."""
        return (self.latent_dim,)

    @property
    def training_network(self) -> nn.Module:
        """The module a training step runs, which the loop wraps for torch.compile and DDP. A GAN's
        generator trains through its own forward; a variant without a discriminator trains a
        sub-module (a diffusion model's denoiser) whose forward is not sampling."""
        return self

    def samplers(self) -> dict[str, Generator]:
        """The ways this generator can sample, by label, each sharing these weights: what
        ``ganzoo bench`` times. One forward pass for a GAN; a diffusion model has one per
        sampler and step count."""
        return {"1 step": self}

    @abstractmethod
    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return images of shape (B, *image_shape) with values in [-1, 1]."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latents(self, n: int, *, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> Tensor:
        """Draw ``n`` latents, shaped ``(n, *latent_shape)``, from the prior the model was trained
        with (standard normal)."""
        return torch.randn(n, *self.latent_shape, generator=generator,
                           device=device if device is not None else self.device)

    def sample_labels(self, n: int, *, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> Tensor | None:
        """Uniform random class labels for a conditional model, ``None`` otherwise."""
        if self.num_classes is None:
            return None
        return torch.randint(self.num_classes, (n,), generator=generator,
                             device=device if device is not None else self.device)

    def sample(self, n: int, *, seed: int | None = None, labels: Tensor | Sequence[int] | int | None = None,
               latents: Tensor | None = None, batch_size: int = 1024, truncation: float = 1.0,
               precision: str = "fp32") -> Tensor:
        """Generate ``n`` images in [-1, 1] on the model's device, in eval mode, without autograd.

        Latents are drawn on the CPU from ``seed`` so the same seed gives the same latents on
        every device. ``labels`` may be one class for all images, one per image, or ``None``
        (random classes for a conditional model). ``truncation`` psi < 1 is the truncation
        trick (``ganzoo.core.sampling.truncate_latents``): latent entries outside the central psi of
        the prior's mass are redrawn, from the same seeded generator after the labels.
        ``precision`` ``"bf16"`` (CPU, CUDA) or ``"fp16"`` (CUDA) samples under autocast: faster,
        and a few 8-bit pixels differ from fp32's (``ganzoo.core.sampling.SAMPLING_PRECISIONS``).
        The images come back float32, ``batch_size`` decoded at a time.
        """
        check_sampling_precision(precision, self.device)
        latents, chosen_labels = seeded_inputs(self, n, seed, labels, truncation, latents=latents)
        return decode_all(self, latents[:n], None if chosen_labels is None else chosen_labels[:n],
                          chunk_size=batch_size, precision=precision)


class Discriminator(nn.Module, ABC):
    """Images (and optionally labels) to one real-valued logit per image, shape (B,)."""

    image_shape: ImageShape
    num_classes: int | None = None

    @abstractmethod
    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return logits of shape (B,). Never apply a sigmoid here."""


class Loss(ABC):
    """The objectives of the game, computed from discriminator logits.

    Implementations should compute in fp32 (``logits.float()``) so they stay correct under
    autocast. ``statistics`` reports what the progress display shows.

    A loss whose generator objective compares fakes with reals (the relativistic losses) sets
    ``generator_needs_real_logits = True``: the generator step then also scores the real batch
    (without gradients) and passes those logits as ``real_logits``. Otherwise ``real_logits`` is
    None and the real batch costs nothing in the G step.
    """

    generator_needs_real_logits: bool = False
    real_fake_threshold: float | None = 0.0
    """The discriminator output that separates "real" (above) from "fake" under this loss: 0 for
    logits and hinge margins. Adaptive augmentation (``augment.target``) counts the augmented
    reals above it. None where no value does (a Wasserstein critic, a relativistic loss)."""

    @abstractmethod
    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The scalar the discriminator minimises."""

    @abstractmethod
    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """The scalar the generator minimises (``real_logits``: see the class docstring)."""

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """Detached scalars to log. Default: D(x) and D(G(z)) as mean probabilities."""
        return {
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
        }


@dataclass
class Batch:
    """Real images already on the device, scaled to [-1, 1], and their labels (or ``None``)."""

    images: Tensor
    labels: Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]


def unaugmented(images: Tensor) -> Tensor:
    """``Game.augment`` of a run without ``augment.policy``: D sees the images as they are."""
    return images


@dataclass
class Game:
    """Everything one training step touches, handed to the strategy by the run loop.

    ``autocast()`` wraps forward passes in the run's precision. ``optimize(loss, optimizer)``
    does the whole update of one player: it **zeroes that optimiser's gradients**
    (``set_to_none``), backpropagates ``loss`` (through the fp16 ``GradScaler`` when there is
    one) and steps the optimiser. Nothing freezes the other player for you: the step building
    blocks in ``ganzoo.plugin`` (``generator_update``) freeze D during the G update, which only
    saves work (the D optimiser never steps there). ``step`` is the number of steps completed
    before this one (lazy regularisation keys on it). ``augment(images)`` is the run's
    differentiable augmentation (``augment.policy``; the identity by default): every image
    shown to D goes through it, real and fake, in D and G updates alike (the step building
    blocks do this). Strategies call these rather than talking to devices or ``torch.amp``
    themselves.
    """

    generator: Generator
    discriminator: Discriminator
    loss: Loss
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    autocast: Callable[[], AbstractContextManager[Any]]
    optimize: Callable[[Tensor, torch.optim.Optimizer], None]
    step: int = 0
    augment: Callable[[Tensor], Tensor] = unaugmented
    required_statistics: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss")

    def fake_batch(self, n: int, labels: Tensor | None = None) -> Batch:
        """Draw ``n`` latents and generate; a conditional model reuses ``labels`` (the real
        batch's) or draws uniform ones. Autograd records through G unless the caller is in
        ``torch.no_grad()``."""
        device = next(self.generator.parameters()).device
        latents = self.generator.sample_latents(n, device=device)
        if self.generator.num_classes is not None and labels is None:
            labels = self.generator.sample_labels(n, device=device)
        elif self.generator.num_classes is None:
            labels = None
        return Batch(self.generator(latents, labels), labels)


def draw_locally(sampler: Callable[[int], Tensor], n: int) -> Tensor:
    """``SoloGame.draw`` on one process: ``sampler(n)``."""
    return sampler(n)


@dataclass
class SoloGame:
    """What one step of a variant without a discriminator touches: the generator alone.

    ``network`` is ``generator.training_network`` as the loop wrapped it (torch.compile, DDP):
    call it, not the generator's own sub-module, so that DDP averages its gradients.
    ``generator`` is the unwrapped generator, for what the step reads from it (a noise schedule).
    ``draw(sampler, n)`` draws ``n`` random values the step needs (noise, timesteps) with
    ``sampler(count)``: under DDP it draws for the global batch and keeps this rank's share, so
    every rank's RNG stays in lock-step. ``autocast``, ``optimize`` and ``step`` are ``Game``'s.
    """

    generator: Generator
    network: nn.Module
    g_optimizer: torch.optim.Optimizer
    autocast: Callable[[], AbstractContextManager[Any]]
    optimize: Callable[[Tensor, torch.optim.Optimizer], None]
    step: int = 0
    draw: Callable[[Callable[[int], Tensor], int], Tensor] = draw_locally
    required_statistics: ClassVar[tuple[str, ...]] = ("g_loss",)


class TrainingStrategy(ABC):
    """One optimisation step of the game: which player moves how often, and what else happens.

    ``batches_per_step`` real batches are handed to ``step`` (one per discriminator update,
    as in the WGAN paper). ``step`` returns detached scalar tensors; the engine decides when to
    copy them to the host, so a strategy must not call ``.item()``. An adversarial strategy gets
    a ``Game`` and returns at least ``d_loss`` and ``g_loss``; one registered with
    ``StrategySpec(adversarial=False)`` gets a ``SoloGame`` and returns at least ``g_loss``
    (the generator's objective, e.g. the denoising loss).
    """

    batches_per_step: int = 1

    @abstractmethod
    def step(self, game: Game | SoloGame, batches: Sequence[Batch]) -> dict[str, Tensor]:
        """Update the players; return at least ``game.required_statistics``."""


class TrainingImages(Protocol):
    """What a dataset factory returns and a run trains on: ``ganzoo.plugin.ImageDataset`` (images
    in memory) or what ``load_image_files`` gives (held in memory, or streamed from disk when the
    images exceed ``data.memory_budget_mb``)."""

    name: str
    labels: Tensor | None
    class_names: list[str] | None
    note: str | None

    def __len__(self) -> int: ...

    @property
    def image_shape(self) -> ImageShape: ...

    @property
    def num_classes(self) -> int | None: ...

    def to(self, device: torch.device | str) -> TrainingImages: ...

    def uint8_images(self, indices: Tensor | None = None) -> Tensor:
        """The images (all, or those at ``indices``) as stored: uint8 (N, C, H, W)."""

    def batch(self, indices: Tensor) -> Batch:
        """The images at ``indices``, scaled to [-1, 1], on the dataset's device."""

    def batches(self, order: Tensor, *, start: int, batch_size: int) -> Iterator[Batch]:
        """The full batches of ``order`` from position ``start`` on, in order."""
