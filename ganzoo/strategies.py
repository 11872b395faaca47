"""The classic alternating update: k discriminator steps, then one generator step."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import Field
from torch import Tensor, nn

from ganzoo.config import StrictModel
from ganzoo.interfaces import Batch, Game, TrainingStrategy


class AlternatingOptions(StrictModel):
    d_steps: int = Field(1, ge=1, le=100, description="discriminator updates per generator update")


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module``'s weights (they still flow through it to the inputs).

    The generator step does not need the discriminator's weight gradients; not computing them
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


def discriminator_step(game: Game, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """One plain discriminator update on a real batch and a fresh fake batch.

    Returns the loss and the real/fake logits (detached) for the statistics.
    """
    with game.autocast():
        fake, labels = game.fake_batch(len(batch), batch.labels)
        real_logits = game.discriminator(batch.images, batch.labels)
        fake_logits = game.discriminator(fake.detach(), labels)
    d_loss = game.loss.discriminator_loss(real_logits, fake_logits)
    game.optimize(d_loss, game.d_optimizer)
    return d_loss.detach(), real_logits.detach(), fake_logits.detach()


def generator_step(game: Game, batch: Batch) -> Tensor:
    """One generator update against the (frozen) discriminator."""
    with frozen(game.discriminator):
        with game.autocast():
            fake, labels = game.fake_batch(len(batch), batch.labels)
            fake_logits = game.discriminator(fake, labels)
        g_loss = game.loss.generator_loss(fake_logits)
        game.optimize(g_loss, game.g_optimizer)
    return g_loss.detach()


class AlternatingStrategy(TrainingStrategy):
    """Goodfellow et al.'s Algorithm 1: ``d_steps`` D updates (one real batch each), then G."""

    def __init__(self, options: AlternatingOptions) -> None:
        self.batches_per_step = options.d_steps

    def step(self, game: Game, batches: Sequence[Batch]) -> dict[str, Tensor]:
        for batch in batches:
            d_loss, real_logits, fake_logits = discriminator_step(game, batch)
        g_loss = generator_step(game, batches[-1])
        return {"d_loss": d_loss, "g_loss": g_loss, **game.loss.statistics(real_logits, fake_logits)}
