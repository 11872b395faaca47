"""ganzoo's own losses, strategy and datasets, registered through the ``ganzoo`` entry-point
group exactly as a third-party plugin's would be (see ``pyproject.toml``)."""

from __future__ import annotations

from ganzoo.data import load_embedded_mnist, load_image_folder, load_mnist
from ganzoo.hookspecs import hookimpl
from ganzoo.losses import (BCEOptions, HingeLoss, LeastSquaresLoss, LeastSquaresOptions, MinimaxLoss,
                           NonSaturatingLoss, RelativisticAverageLoss)
from ganzoo.specs import DatasetSpec, LossSpec, StrategySpec
from ganzoo.strategies import AlternatingOptions, AlternatingStrategy


@hookimpl
def ganzoo_register_losses() -> list[LossSpec]:
    return [
        LossSpec("minimax", MinimaxLoss, BCEOptions,
                 "original saturating game: G minimises log(1 - D(G(z)))"),
        LossSpec("non-saturating", NonSaturatingLoss, BCEOptions,
                 "BCE with logits; G maximises log D(G(z)); optional one-sided label smoothing"),
        LossSpec("hinge", HingeLoss, description="hinge game (SAGAN, BigGAN): D margins at +-1, G maximises D(G(z))"),
        LossSpec("least-squares", LeastSquaresLoss, LeastSquaresOptions,
                 "LSGAN (Mao et al. 2017): squared error to targets a=0, b=1, c=1"),
        LossSpec("relativistic-average", RelativisticAverageLoss,
                 description="RaGAN (Jolicoeur-Martineau 2018): is real more realistic than the average fake?"),
    ]


@hookimpl
def ganzoo_register_strategies() -> list[StrategySpec]:
    return [StrategySpec("alternating", AlternatingStrategy, AlternatingOptions,
                         "k discriminator steps (default 1), then one generator step")]


@hookimpl
def ganzoo_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec("mnist-embedded", load_embedded_mnist,
                    "real MNIST test split (10,000 digits) shipped with ganzoo; works offline"),
        DatasetSpec("mnist", load_mnist,
                    "full MNIST in torchvision's layout under --data-root (add --download to fetch it)"),
        DatasetSpec("image-folder", load_image_folder,
                    "your own images, torchvision ImageFolder layout: ROOT/CLASS/IMAGE"),
    ]
