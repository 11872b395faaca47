"""The ACGAN step (Odena et al. 2017): the adversarial game plus an auxiliary classification task.

D minimises   loss_D(real, fake) + w_real * CE(C(x), y) + w_fake * CE(C(G(z, y)), y)
G minimises   loss_G(fake)       + w_g    * CE(C(G(z, y)), y)

where C is the discriminator's classifier head over the same features as its logit. Each D update
draws its own real batch (``d_steps`` of them per step), as in ``alternating``. The class logits
come out of the same D pass as the real/fake logits (``with_class_logits=True``), so the step is
written here rather than through ``discriminator_penalty``, which would need a second D pass.
The weighted class terms are logged as ``class_real``, ``class_fake`` and ``class_generator``;
``d_loss`` and ``g_loss`` are the totals. D sees every image through ``game.augment`` (the run's
DiffAugment policy), real and fake, in both updates, as in ``alternating``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from ganzoo.plugin import Batch, ConfigError, Game, Options, TrainingStrategy, frozen


class ACGANOptions(Options):
    d_steps: int = Field(1, ge=1, le=100, description="discriminator updates per generator update")
    real_class_weight: float = Field(1.0, ge=0.0, le=1000.0, description="w_real: D's class loss on real images")
    fake_class_weight: float = Field(1.0, ge=0.0, le=1000.0, description="w_fake: D's class loss on generated images")
    generator_class_weight: float = Field(1.0, ge=0.0, le=1000.0,
                                          description="w_g: G's class loss on its images")


def class_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the classifier head, in fp32."""
    return F.cross_entropy(class_logits.float(), labels)


class ACGANStrategy(TrainingStrategy):
    def __init__(self, options: ACGANOptions) -> None:
        self.batches_per_step = options.d_steps
        self.real_weight, self.fake_weight = options.real_class_weight, options.fake_class_weight
        self.generator_weight = options.generator_class_weight

    def step(self, game: Game, batches: Sequence[Batch]) -> dict[str, Tensor]:
        check_game(game, batches[0])
        for real in batches:
            stats = self.discriminator_step(game, real)
        return {**stats, **self.generator_step(game, batches[-1])}

    def discriminator_step(self, game: Game, real: Batch) -> dict[str, Tensor]:
        """One D update on ``real`` and a fake batch with the same labels; returns its statistics."""
        with game.autocast():
            with torch.no_grad():
                fake = game.fake_batch(len(real), real.labels)
            real_logits, real_classes = game.discriminator(game.augment(real.images), real.labels,
                                                           with_class_logits=True)
            fake_logits, fake_classes = game.discriminator(game.augment(fake.images), fake.labels,
                                                           with_class_logits=True)
        terms = {"class_real": self.real_weight * class_loss(real_classes, real.labels),
                 "class_fake": self.fake_weight * class_loss(fake_classes, fake.labels)}
        d_loss = game.loss.discriminator_loss(real_logits, fake_logits) + terms["class_real"] + terms["class_fake"]
        game.optimize(d_loss, game.d_optimizer)
        return {"d_loss": d_loss.detach(), **{name: term.detach() for name, term in terms.items()},
                **game.loss.statistics(real_logits.detach(), fake_logits.detach())}

    def generator_step(self, game: Game, real: Batch) -> dict[str, Tensor]:
        """One G update against the frozen D: fool it, and make images it classifies as their labels."""
        with frozen(game.discriminator):
            with game.autocast():
                fake = game.fake_batch(len(real), real.labels)
                fake_logits, fake_classes = game.discriminator(game.augment(fake.images), fake.labels,
                                                               with_class_logits=True)
                real_logits = None
                if game.loss.generator_needs_real_logits:
                    with torch.no_grad():
                        real_logits = game.discriminator(game.augment(real.images), real.labels)
            class_term = self.generator_weight * class_loss(fake_classes, fake.labels)
            adversarial = (game.loss.generator_loss(fake_logits, real_logits) if real_logits is not None
                           else game.loss.generator_loss(fake_logits))
            g_loss = adversarial + class_term
            game.optimize(g_loss, game.g_optimizer)
        return {"g_loss": g_loss.detach(), "class_generator": class_term.detach()}


def check_game(game: Game, real: Batch) -> None:
    """ACGAN needs labelled data and a discriminator with a classifier head: one line otherwise."""
    if real.labels is None:
        raise ConfigError("strategy 'acgan' needs a labelled dataset (mnist-embedded, mnist, an image folder "
                          "with class subfolders) and a conditional variant such as acgan")
    if not getattr(game.discriminator, "has_classifier_head", False):
        raise ConfigError("strategy 'acgan' needs a discriminator with a classifier head; use variant acgan")
