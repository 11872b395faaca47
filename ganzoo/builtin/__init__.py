"""ganzoo's own losses, strategy, datasets and loggers, registered through the ``ganzoo`` entry-point
group exactly as a third-party plugin's would be (see ``pyproject.toml``)."""

from __future__ import annotations

from ganzoo.builtin.augmentations import color, cutout, translation
from ganzoo.builtin.losses import (
    BCEOptions,
    HingeLoss,
    LeastSquaresLoss,
    LeastSquaresOptions,
    MinimaxLoss,
    NonSaturatingLoss,
    RelativisticAverageLoss,
)
from ganzoo.builtin.strategies import R1Options, R1Strategy
from ganzoo.core.hookspecs import hookimpl
from ganzoo.core.specs import AugmentationSpec, CallbackSpec, DatasetSpec, LossSpec, StrategySpec
from ganzoo.core.steps import AlternatingOptions, AlternatingStrategy
from ganzoo.data.dataset import load_embedded_mnist, load_mnist
from ganzoo.data.files import load_image_folder
from ganzoo.data.named import load_celeba, load_cifar10, load_fashion_mnist
from ganzoo.training.tensorboard import TensorBoardLogger


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
                         "k discriminator steps (default 1), then one generator step"),
            StrategySpec("r1", R1Strategy, R1Options,
                         "alternating, plus the R1 penalty on real data (Mescheder et al. 2018), lazy every k steps")]


@hookimpl
def ganzoo_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec("mnist-embedded", load_embedded_mnist,
                    "real MNIST test split (10,000 digits) shipped with ganzoo; works offline"),
        DatasetSpec("mnist", load_mnist,
                    "full MNIST in torchvision's layout under --data-root (add --download to fetch it)"),
        DatasetSpec("image-folder", load_image_folder,
                    "your own images, torchvision ImageFolder layout: ROOT/CLASS/IMAGE (streamed if over the budget)"),
        DatasetSpec("fashion-mnist", load_fashion_mnist,
                    "Fashion-MNIST, 28x28 grey, 10 classes, in ROOT/FashionMNIST/raw (--download to fetch it)"),
        DatasetSpec("cifar10", load_cifar10,
                    "CIFAR-10, 32x32 RGB, 10 classes, python batches in ROOT/cifar-10-batches-py (--download)"),
        DatasetSpec("celeba", load_celeba,
                    "CelebA aligned faces, centre-cropped to 64x64 by default, in ROOT/celeba; unconditional",
                    defaults={"image_size": 64}),
    ]


@hookimpl
def ganzoo_register_callbacks() -> list[CallbackSpec]:
    return [CallbackSpec("tensorboard", TensorBoardLogger,
                         description="TensorBoard event files in runs/NAME/tensorboard/: scalars, sample grids, "
                                     "config (needs ganzoo[tensorboard])")]


@hookimpl
def ganzoo_register_augmentations() -> list[AugmentationSpec]:
    return [
        AugmentationSpec("translation", translation, "DiffAugment: shift by up to 1/8 of the side, zero padding"),
        AugmentationSpec("cutout", cutout, "DiffAugment: zero a square of half the side at a random centre"),
        AugmentationSpec("color", color, "DiffAugment: random brightness, saturation and contrast"),
    ]
