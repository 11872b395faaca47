"""Every hook a ganzoo plugin can implement.

A plugin is a module (or object) with ``@ganzoo.hookimpl`` functions, announced through the
``ganzoo`` entry-point group::

    [project.entry-points.ganzoo]
    my_plugin = "my_package.plugin"

Hooks are small and return data: lists of specs. They must not train, touch files or print.
"""

from __future__ import annotations

import pluggy

from ganzoo.core.specs import AugmentationSpec, CallbackSpec, DatasetSpec, LossSpec, StrategySpec, VariantSpec

PROJECT_NAME = "ganzoo"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ganzoo_register_variants() -> list[VariantSpec]:
    """Return the GAN variants (generator + discriminator families) this plugin provides."""


@hookspec
def ganzoo_register_losses() -> list[LossSpec]:
    """Return the adversarial losses this plugin provides."""


@hookspec
def ganzoo_register_strategies() -> list[StrategySpec]:
    """Return the training strategies (one optimisation step of the game) this plugin provides."""


@hookspec
def ganzoo_register_datasets() -> list[DatasetSpec]:
    """Return the datasets this plugin can load into memory."""


@hookspec
def ganzoo_register_callbacks() -> list[CallbackSpec]:
    """Return the training callbacks (loggers, probes) this plugin provides; a run selects them
    by name in ``run.callbacks``."""


@hookspec
def ganzoo_register_augmentations() -> list[AugmentationSpec]:
    """Return the differentiable augmentations (of every image D sees) this plugin provides; a
    run selects them by name in ``augment.policy``."""
