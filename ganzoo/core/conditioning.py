"""What a conditional model requires, checked the same way in every plugin that has one.

A conditional variant (cgan-mlp, cgan-dcgan, the ResNet projection and ACGAN models) cannot be
built without classes to condition on, and cannot run without a label per image. These checks
say so in one line each, the same line whichever plugin's model it is; plugins get them from
``ganzoo.plugin``.
"""

from __future__ import annotations

from torch import Tensor

from ganzoo.errors import ConfigError


def required_classes(num_classes: int | None) -> int:
    """``num_classes`` when a conditional model can be built with it: a labelled dataset with at
    least 2 classes (one class conditions on nothing)."""
    if num_classes is None or num_classes < 2:
        raise ConfigError("a conditional variant needs a labelled dataset with at least 2 classes; "
                          "use mnist-embedded, mnist or an image folder with class subfolders")
    return num_classes


def required_labels(labels: Tensor | None) -> Tensor:
    """``labels``, which a conditional model's forward pass needs: one class per image."""
    if labels is None:
        raise ConfigError("this model is conditional and needs labels; pass --label or sample labels")
    return labels
