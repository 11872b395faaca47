"""What an evaluation checks before it does any work: enough samples for every metric asked for,
images the real data can be compared with, and at least one metric some backbone can measure.

An evaluation generates and embeds thousands of images; a request that cannot give a result
(``--num 2`` with precision/recall, a 4-channel generator against MNIST, only Inception asked
for and its weights absent) is refused here in one line, not after minutes or with an empty table.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from ganzoo.core.interfaces import ImageShape
from ganzoo.core.options import DataConfig
from ganzoo.errors import ConfigError
from ganzoo.metrics import precision_recall
from ganzoo.metrics.backbones import INCEPTION_WEIGHTS_URL
from ganzoo.metrics.catalogue import METRICS

MIN_SAMPLES = {"fid": 2, "kid": 2, "is": 2, "pr": precision_recall.DEFAULT_K + 1, "coverage": 1, "accuracy": 1}
"""Points per set each metric group needs: a covariance needs two; precision/recall's k-th
nearest neighbour needs k others."""
_WHY = {"fid": "FD fits a covariance", "kid": "KID compares pairs", "is": "IS splits the samples",
        "pr": f"precision/recall with k={precision_recall.DEFAULT_K} needs more than k points per set",
        "coverage": "coverage counts classes", "accuracy": "accuracy counts labels"}
EVALUABLE_CHANNELS = (1, 3)


def minimum_samples(groups: Sequence[str]) -> tuple[int, str]:
    """The fewest points per set that every group in ``groups`` can work with, and why."""
    group = max(groups, key=lambda name: MIN_SAMPLES[name])
    return MIN_SAMPLES[group], _WHY[group]


def check_sample_counts(groups: Sequence[str], num_generated: int, num_real: int | None, *, baseline: bool,
                        names: tuple[str, str] = ("num_samples", "num_real")) -> None:
    """Refuse too few generated or real samples for ``groups``; ``num_real`` None: not known yet.

    The real-vs-real baseline splits the real set in two halves, each of which must be enough.
    """
    needed, why = minimum_samples(groups)
    if num_generated < needed:
        raise ConfigError(f"{names[0]} is {num_generated}, too few: {why}, so at least {needed} generated samples "
                          "are needed; ask for more, or for other metrics")
    real_needed = 2 * needed if baseline else needed
    if num_real is not None and num_real < real_needed:
        halves = " (the real-vs-real baseline splits them into two halves)" if baseline else ""
        raise ConfigError(f"{names[1]} is {num_real}, too few: {why}, so at least {real_needed} real samples are "
                          f"needed{halves}; use more real data, or other metrics")


def check_evaluable_shape(generated: ImageShape, what: str = "the generator") -> None:
    """Real data is prepared square, grey or RGB, at the generator's shape (within ``DataConfig``'s
    sizes); refuse, naming the shape, what cannot be."""
    channels, height, width = generated
    shape = "x".join(map(str, generated))
    if channels not in EVALUABLE_CHANNELS:
        raise ConfigError(f"{what} makes {channels}-channel images ({shape}); evaluation compares grey (1 channel) "
                          "or RGB (3 channel) images with real data, so it cannot evaluate this generator")
    if height != width:
        raise ConfigError(f"{what} makes {shape} images; evaluation needs square images, like the real data it is "
                          "compared with; check the weights file's image_shape")
    try:
        DataConfig(image_size=height, channels=channels)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise ConfigError(f"{what} makes {shape} images; real data cannot be prepared at that size (data.image_size: "
                          f"{problem})") from None


def check_same_shape(generated: ImageShape, real: ImageShape, what: str, real_what: str,
                     fix: str = "evaluate against data of the same resolution and channels") -> None:
    """The generator's images and the real ones must agree; same pixel count but another shape
    is the sign of metadata that lies about the layout (1x14x56 for 1x28x28)."""
    if tuple(generated) == tuple(real):
        return
    shape, real_shape = "x".join(map(str, generated)), "x".join(map(str, real))
    if generated[0] * generated[1] * generated[2] == real[0] * real[1] * real[2]:
        fix = ("as many values per image, laid out differently: the image_shape in the weights file's metadata is "
               "probably wrong; re-export the file from its run")
    raise ConfigError(f"{what} makes {shape} images but {real_what} is {real_shape}; {fix}")


def check_backbones_suit(backbones: Sequence[str], digits: bool, dataset: str) -> None:
    """The MNIST classifier describes digits. On other data (CIFAR-10, faces, Fashion-MNIST) it
    would average colours to grey and compare them in a digit classifier's feature space: numbers
    that look like a result and mean nothing, so it is refused; Inception measures such data."""
    if "mnist-classifier" in backbones and not digits:
        raise ConfigError(f"the mnist-classifier backbone only measures MNIST digits, and the real data ({dataset}) "
                          "is not MNIST (its classes are not the digits 0-9); use the inception backbone (--backbone "
                          "inception, or run.eval_backbone=inception during training) with the FID Inception weights "
                          f"from {INCEPTION_WEIGHTS_URL}")


def check_measurable(groups: Sequence[str], classifier_usable: bool, conditional: bool) -> None:
    """At least one requested metric must be measurable: coverage and accuracy need the MNIST
    classifier on MNIST-like data, accuracy also a conditional generator."""
    needs_classifier = {metric.group for metric in METRICS.values() if metric.needs_classifier}
    measurable = [group for group in groups if group not in needs_classifier
                  or (classifier_usable and (group != "accuracy" or conditional))]
    if not measurable:
        reason = ("conditional accuracy needs a conditional generator" if classifier_usable else
                  "they need the mnist-classifier backbone on MNIST-like data (grey digits 0-9)")
        asked = "; ".join(f"{group}: {', '.join(m.name for m in METRICS.values() if m.group == group)}"
                          for group in groups)
        raise ConfigError(f"none of the metrics asked for ({asked}) can be measured here: {reason}; "
                          "ask for fid, kid, is or pr instead")
