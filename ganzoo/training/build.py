"""``build(plan, device)``: a resolved plan turned into the live parts of a run.

One builder for every entry point (training, evaluation, benchmarks), so a variant is built the
same way everywhere. Plugin code runs here, each call contained: a plugin's ``GanzooError``
passes through, any other exception becomes one line naming the component and its plugin. The
models are checked against their contracts (``ganzoo.core.contracts``) before anything trains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ganzoo.config import OptimizerConfig
from ganzoo.core.contracts import check_discriminator, check_generator
from ganzoo.core.interfaces import (
    Discriminator,
    Game,
    Generator,
    Loss,
    SoloGame,
    TrainingImages,
    TrainingStrategy,
    draw_locally,
)
from ganzoo.core.options import DataConfig
from ganzoo.core.registry import Registered, Registry, get_registry
from ganzoo.errors import ConfigError, contain_plugin_errors
from ganzoo.training.augment import Augmenter, augmentation_seed
from ganzoo.training.plan import Choice, RunPlan

if TYPE_CHECKING:
    from ganzoo.core.callback import Callback

T = TypeVar("T")


@dataclass
class Adversary:
    """What an adversarial family trains against its generator: the discriminator, the loss on
    its logits and its optimiser. A variant without a discriminator has none."""

    discriminator: Discriminator
    loss: Loss
    optimizer: torch.optim.Optimizer


@dataclass(frozen=True)
class Player:
    """One network a run trains and its optimiser, under the names the checkpoint and the
    GradScalers use; the loop wraps, checks, checkpoints and rolls back every player alike."""

    name: str
    """``generator`` or ``discriminator``: the module's key in a checkpoint"""
    key: str
    """``g`` or ``d``: its optimiser is ``{key}_optimizer`` in a checkpoint, its GradScaler ``key``"""
    module: torch.nn.Module
    optimizer: torch.optim.Optimizer


@dataclass
class RunParts:
    """The live objects of one run, on its device. ``adversary`` is ``None`` for a variant
    without a discriminator; ``players`` and ``new_game`` are the only places that ask."""

    dataset: TrainingImages
    generator: Generator
    strategy: TrainingStrategy
    g_optimizer: torch.optim.Optimizer
    adversary: Adversary | None
    callbacks: list[Callback] = field(default_factory=list)

    @property
    def players(self) -> list[Player]:
        """Every network the run trains, the generator first."""
        players = [Player("generator", "g", self.generator, self.g_optimizer)]
        if self.adversary is not None:
            players.append(Player("discriminator", "d", self.adversary.discriminator, self.adversary.optimizer))
        return players

    def new_game(self, wrap: Callable[[torch.nn.Module], Any], *, autocast: Callable[[], Any],
                 optimize: Callable[[torch.Tensor, torch.optim.Optimizer], None],
                 draw: Callable[[Callable[[int], torch.Tensor], int], torch.Tensor] = draw_locally) -> Game | SoloGame:
        """What the strategy steps: G against D, or the generator's training network alone.
        ``wrap`` is the loop's (torch.compile, DDP); ``draw`` its rank-aware random draws."""
        if self.adversary is None:
            return SoloGame(generator=self.generator, network=wrap(self.generator.training_network),
                            g_optimizer=self.g_optimizer, autocast=autocast, optimize=optimize, draw=draw)
        return Game(generator=wrap(self.generator), discriminator=wrap(self.adversary.discriminator),
                    loss=self.adversary.loss, g_optimizer=self.g_optimizer, d_optimizer=self.adversary.optimizer,
                    autocast=autocast, optimize=optimize)


def build(plan: RunPlan, device: torch.device) -> RunParts:
    """Dataset, models (checked, on ``device``), loss, strategy, optimisers and the plan's callbacks."""
    config = plan.config
    dataset = load_dataset(config.data, plan.dataset.entry).to(device)
    generator, discriminator = build_models(plan.variant, dataset)
    memory_format = torch.channels_last if config.run.channels_last else torch.contiguous_format
    generator.to(device, memory_format=memory_format)
    if discriminator is not None:
        discriminator.to(device, memory_format=memory_format)
    return RunParts(
        dataset=dataset, generator=generator, strategy=build_strategy(plan),
        g_optimizer=build_optimizer(config.optimizer, generator, config.optimizer.lr),
        adversary=None if discriminator is None else build_adversary(plan, discriminator),
        callbacks=[_plugin_call(lambda choice=choice: choice.spec.factory(choice.options), _named(choice))
                   for choice in plan.callbacks],
    )


def build_adversary(plan: RunPlan, discriminator: Discriminator) -> Adversary:
    """D's loss and optimiser; the plan holds a loss exactly when the variant has a discriminator."""
    loss, optimizer = plan.loss, plan.config.optimizer
    if loss is None:
        raise ConfigError(f"variant {plan.variant.name!r} has a discriminator but the plan has no loss; name one with --loss")
    return Adversary(discriminator=discriminator,
                     loss=_plugin_call(lambda: loss.spec.factory(loss.options), _named(loss)),
                     optimizer=build_optimizer(optimizer, discriminator, optimizer.d_lr or optimizer.lr))


def build_strategy(plan: RunPlan) -> TrainingStrategy:
    """The plan's strategy (also how callers learn ``batches_per_step`` before a run)."""
    return _plugin_call(lambda: plan.strategy.spec.factory(plan.strategy.options), _named(plan.strategy))


def build_augmenter(plan: RunPlan, game: Game | SoloGame, device: torch.device) -> Augmenter:
    """The run's ``augment`` section as ``game.augment`` (left the identity without a policy); an
    adaptive one watches D's outputs, which needs a loss whose outputs have a real/fake threshold."""
    settings = plan.config.augment
    augmenter = Augmenter([entry.spec.function for entry in plan.augmentations], device,
                          augmentation_seed(plan.config.run.seed), probability=settings.start_probability,
                          target=settings.target, adjust_every=settings.adjust_every,
                          adjust_images=settings.adjust_images)
    if not augmenter or not isinstance(game, Game):  # the plan allows a policy only with a discriminator
        return augmenter
    game.augment = augmenter
    if augmenter.adaptive:
        threshold = game.loss.real_fake_threshold
        if threshold is None:
            raise ConfigError(f"augment.target adapts to how often D scores augmented reals as real, and loss "
                              f"{plan.config.loss.name if plan.config.loss else None!r} has no output value that "
                              "separates real from fake; use a fixed augment.probability, or a loss such as "
                              "non-saturating or hinge")
        augmenter.watch(game.discriminator, threshold)
    return augmenter


def load_dataset(data: DataConfig, entry: Registered | None = None,
                 registry: Registry | None = None) -> TrainingImages:
    """The dataset ``data`` names, in memory or streamed; ``entry`` when the caller already resolved it."""
    entry = entry or (registry or get_registry()).get("dataset", data.name)
    return _plugin_call(lambda: entry.spec.factory(data), f"dataset {entry.spec.name!r} ({entry.plugin.distribution})")


def build_models(variant: Choice, dataset: TrainingImages) -> tuple[Generator, Discriminator | None]:
    """G, and D when the family has one, for ``dataset``'s images and classes, checked against
    their contracts."""
    spec, what = variant.spec, _named(variant)
    if spec.conditional and dataset.num_classes is None:
        raise ConfigError(f"variant {spec.name!r} is conditional but dataset {dataset.name!r} has no labels; "
                          "use a labelled dataset or an unconditional variant")
    num_classes = dataset.num_classes if spec.conditional else None
    generator = _plugin_call(lambda: spec.build_generator(variant.options, dataset.image_shape, num_classes), what)
    _check_type(generator, Generator, what, "build_generator")
    images = check_generator(generator, dataset.image_shape, what=what)
    if spec.build_discriminator is None:
        return generator, None
    discriminator = _plugin_call(lambda: spec.build_discriminator(variant.options, dataset.image_shape, num_classes),
                                 what)
    _check_type(discriminator, Discriminator, what, "build_discriminator")
    labels = torch.arange(len(images)) % num_classes if num_classes else None
    check_discriminator(discriminator, images, labels, what=what)
    return generator, discriminator


def build_optimizer(config: OptimizerConfig, module: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """One optimiser; ``implementation`` picks torch's fused, foreach or for-loop kernels."""
    implementation: dict[str, Any] = {}
    if config.implementation == "fused":
        implementation["fused"] = True
    elif config.implementation == "foreach":
        implementation["foreach"] = True
    elif config.implementation == "for-loop":
        implementation["foreach"] = False
    parameters = list(module.parameters())
    if config.name in ("adam", "adamw"):
        optimizer_class = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
        return optimizer_class(parameters, lr=lr, betas=config.betas, weight_decay=config.weight_decay,
                               **implementation)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay, **implementation)
    return torch.optim.SGD(parameters, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay,
                           **implementation)


def _named(choice: Choice) -> str:
    return f"{choice.entry.kind} {choice.name!r} ({choice.entry.plugin.distribution})"


def _check_type(value: Any, expected: type, what: str, factory: str) -> None:
    if not isinstance(value, expected):
        raise ConfigError(f"{what}: {factory} returned {type(value).__name__}, not a ganzoo {expected.__name__}; "
                          f"fix the plugin")


def _plugin_call(build: Callable[[], T], what: str) -> T:
    """Run plugin code; its own ``GanzooError`` passes through, anything else is named."""
    with contain_plugin_errors(f"{what} could not be built", error=ConfigError):
        return build()
