"""The alternating update and the building blocks every strategy is made of.

``AlternatingStrategy`` is a template: ``d_steps`` discriminator updates (one real batch each),
then one generator update. A new strategy subclasses it and overrides one of two hooks:

* ``discriminator_penalty(game, real, fake)`` returns extra terms for the D loss (a gradient
  penalty, R1), each already weighted, by name; they are added to the loss and logged;
* ``after_discriminator_update(game)`` runs after every D optimiser step (weight clipping).

Or it composes ``discriminator_update`` and ``generator_update`` itself. Either way the fake
batch for the D update is generated without autograd through G (its graph would never be used),
and the G update either draws a fresh batch (Goodfellow et al.'s Algorithm 1, the default) or,
with ``fake_batch = "reuse"``, reuses the last D update's batch as the classic DCGAN tutorials
do, generated once with autograd on so that the G update can backpropagate through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from ganzoo.core.interfaces import Batch, Game, TrainingStrategy
from ganzoo.core.options import StrictModel

Penalty = Callable[[Game, Batch, Batch], dict[str, Tensor]]


class AlternatingOptions(StrictModel):
    d_steps: int = Field(1, ge=1, le=100, description="discriminator updates per generator update")
    fake_batch: Literal["fresh", "reuse"] = Field(
        "fresh", description="G update on a fresh fake batch, or on the last D update's (one G forward less)")


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module``'s weights (they still flow through it to the inputs).

    The generator update does not need the discriminator's weight gradients; not computing them
    saves roughly a third of the discriminator's backward pass.
    """
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def discriminator_update(game: Game, real: Batch, *, penalty: Penalty | None = None,
                         keep_fake_graph: bool = False) -> tuple[dict[str, Tensor], Batch]:
    """One D update on ``real`` and a fake batch; returns its statistics and the fake batch.

    The fake batch is generated under ``no_grad`` unless ``keep_fake_graph`` (for a G update that
    reuses it). D sees both batches through ``game.augment``. ``penalty(game, real, fake)`` adds its weighted terms to the loss, outside
    autocast (a penalty picks its own precision). Statistics: ``d_loss`` (the total), each
    penalty term, and the loss's own (``d_real``, ``d_fake``, ...), all detached.
    """
    with game.autocast():
        with torch.set_grad_enabled(keep_fake_graph and torch.is_grad_enabled()):
            fake = game.fake_batch(len(real), real.labels)
        real_logits = game.discriminator(game.augment(real.images), real.labels)
        fake_logits = game.discriminator(game.augment(fake.images.detach()), fake.labels)
    d_loss = game.loss.discriminator_loss(real_logits, fake_logits)
    terms = penalty(game, real, fake) if penalty is not None else {}
    for term in terms.values():
        d_loss = d_loss + term
    game.optimize(d_loss, game.d_optimizer)
    stats = {"d_loss": d_loss.detach(), **{name: term.detach() for name, term in terms.items()},
             **game.loss.statistics(real_logits.detach(), fake_logits.detach())}
    return stats, fake


def generator_update(game: Game, real: Batch, fake: Batch | None = None) -> Tensor:
    """One G update against the frozen discriminator; returns the detached G loss.

    ``fake`` is a batch generated with autograd on (``fake_batch = "reuse"``); by default a fresh
    one is drawn, and D sees it through ``game.augment``. The real batch is scored (without gradients) only for a loss that asks for
    real logits (``Loss.generator_needs_real_logits``).
    """
    with frozen(game.discriminator):
        with game.autocast():
            if fake is None:
                fake = game.fake_batch(len(real), real.labels)
            fake_logits = game.discriminator(game.augment(fake.images), fake.labels)
            if game.loss.generator_needs_real_logits:
                with torch.no_grad():
                    real_logits = game.discriminator(game.augment(real.images), real.labels)
        if game.loss.generator_needs_real_logits:
            g_loss = game.loss.generator_loss(fake_logits, real_logits)
        else:
            g_loss = game.loss.generator_loss(fake_logits)
        game.optimize(g_loss, game.g_optimizer)
    return g_loss.detach()


class AlternatingStrategy(TrainingStrategy):
    """Goodfellow et al.'s Algorithm 1: ``d_steps`` D updates (one real batch each), then G.

    The template for strategies that add to it: override ``discriminator_penalty`` or
    ``after_discriminator_update`` (see the module docstring). Subclasses with their own options
    model pass an object with ``d_steps`` and ``fake_batch``, or call ``super().__init__`` with
    ``AlternatingOptions``.
    """

    def __init__(self, options: AlternatingOptions) -> None:
        self.batches_per_step = options.d_steps
        self.reuse_fake = options.fake_batch == "reuse"

    def discriminator_penalty(self, game: Game, real: Batch, fake: Batch) -> dict[str, Tensor]:
        """Extra D-loss terms, weighted, by name (logged under that name). Default: none."""
        return {}

    def after_discriminator_update(self, game: Game) -> None:
        """Runs after every D optimiser step. Default: nothing."""

    def step(self, game: Game, batches: Sequence[Batch]) -> dict[str, Tensor]:
        fake = None
        for index, real in enumerate(batches):
            last = index == len(batches) - 1
            stats, fake = discriminator_update(game, real, penalty=self.discriminator_penalty,
                                               keep_fake_graph=self.reuse_fake and last)
            self.after_discriminator_update(game)
        g_loss = generator_update(game, batches[-1], fake if self.reuse_fake else None)
        return {"d_loss": stats["d_loss"], "g_loss": g_loss, **stats}


def r1_penalty(game: Game, real: Batch, gamma: float) -> Tensor:
    """gamma/2 E[||grad_x D(augment(x))||^2] on the real batch (Mescheder et al. 2018), in fp32.

    The inner gradient is taken with autocast off: in bf16/fp16 it would lose precision, and under
    fp16 it would bypass the GradScaler (which only sees the final loss). ``create_graph`` keeps
    its graph so that the penalty backpropagates into D's weights.
    """
    images = real.images.detach().float().requires_grad_(True)
    with torch.autocast(images.device.type, enabled=False):
        logits = game.discriminator(game.augment(images), real.labels).float()
        (gradients,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return gamma / 2 * gradients.square().flatten(start_dim=1).sum(dim=1).mean()
