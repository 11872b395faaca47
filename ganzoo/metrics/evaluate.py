"""``ganzoo.evaluate``: a generator against real data, on each backbone, beside a real-vs-real baseline.

The protocol: ``num_samples`` generated images (default 10,000; latents from ``seed``, truncated
when asked; balanced labels for conditional generators), quantised to 8 bits as if saved to PNG, against the real
set (all of it by default) at the generator's resolution. Every number comes with the same
metric computed between two disjoint halves of the real set, so "perfect" is visible beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torchmetrics
from torch import Tensor

from ganzoo.core.contracts import count_nonfinite_images
from ganzoo.core.interfaces import Generator, TrainingImages
from ganzoo.core.options import DataConfig
from ganzoo.core.registry import Registry, get_registry
from ganzoo.core.sampling import check_sampling_precision, decode_chunks, truncate_latents
from ganzoo.data.dataset import MNIST_CLASSES, ImageDataset, prepare, to_uint8
from ganzoo.errors import WeightsError
from ganzoo.io.files import check_output_path
from ganzoo.metrics import coverage as coverage_metrics
from ganzoo.metrics import feature_metrics, precision_recall
from ganzoo.metrics.backbones import Backbone, BackboneUnavailable, Embedding, cache_dir, load_backbone
from ganzoo.metrics.preflight import (
    check_backbones_suit,
    check_evaluable_shape,
    check_measurable,
    check_same_shape,
    check_sample_counts,
)
from ganzoo.metrics.reference import Reference, load_reference
from ganzoo.metrics.request import EvaluationRequest, to_request
from ganzoo.metrics.result import EvaluationResult, MetricValue
from ganzoo.version import __version__

Values = dict[str, tuple[float, float | None]]


def evaluate(generator: Generator, request: EvaluationRequest | TrainingImages | str | None = None, *,
             registry: Registry | None = None, note: Callable[[str], None] | None = None,
             **settings: Any) -> EvaluationResult:
    """Evaluate ``generator`` as ``request`` says: an ``EvaluationRequest``, or the real data (an
    ``ImageDataset`` or a registered dataset name; ``mnist-embedded`` when left out) with the
    request's other fields as keywords, ``evaluate(generator, "mnist-embedded", metrics=["fid"])``.

    ``metrics`` picks groups from ``fid, kid, is, pr, coverage, accuracy``; ``backbones`` defaults
    to ``mnist-classifier`` and ``inception`` for MNIST-like data (classes the digits 0-9, grey or
    RGB), ``inception`` otherwise (CIFAR-10, CelebA, Fashion-MNIST, image folders), where the
    classifier is refused. A backbone whose weights are missing is skipped with a one-line note
    (passed to ``note`` too). ``registry`` resolves a dataset name (the installed plugins' by default).
    Everything that would make the result impossible or meaningless is refused before any image
    is generated (the request when it is built, then ``ganzoo.metrics.preflight``: too few samples,
    a shape real data cannot match, no usable backbone or metric, an unwritable cache), and so are
    generated NaN/Inf images.
    ``truncation`` < 1 evaluates truncated samples (``ganzoo.core.sampling.truncate_latents``) and is
    recorded in the protocol; so is a ``precision`` other than fp32 (``bf16``: the samples are
    generated under autocast, ``ganzoo.core.sampling.SAMPLING_PRECISIONS``), as ``sampling_precision``.
    """
    request = to_request(request, settings)
    groups = request.metrics
    check_evaluable_shape(generator.image_shape)
    device = generator.device if request.device is None else request.device
    generator = generator.to(device)
    check_sampling_precision(request.precision, device)
    real, split = _real_dataset(request, generator, registry)
    num_reference = len(real) if request.num_real is None else min(request.num_real, len(real))
    check_sample_counts(groups, request.num_samples, num_reference, baseline=request.baseline,
                        names=("num_samples", "the real set size"))
    is_mnist = real.class_names == MNIST_CLASSES  # grey or RGB: the classifier reads RGB digits as grey
    chosen = _choose_backbones(request.backbones, is_mnist)
    check_backbones_suit([b if isinstance(b, str) else b.name for b in chosen], is_mnist, real.name)
    ready, notes = _load_backbones(chosen, device, request.inception_weights)
    check_measurable(groups, is_mnist and any(b.has_classes for b in ready), generator.num_classes is not None)
    check_output_path((request.cache_root or cache_dir()) / "reference", "the reference-statistics cache",
                      kind="directory")
    for line in notes:
        if note:
            note(line)
    fakes, requested = generate_uint8(generator, request.num_samples, seed=request.seed,
                                      batch_size=request.batch_size, truncation=request.truncation,
                                      precision=request.precision)
    values, details, backbone_protocol = _measure(request, ready, real, split, fakes, requested, is_mnist)
    protocol = _protocol(request, backbone_protocol, real.name, split, num_reference, generator,
                         balanced=requested is not None, device=device)
    return EvaluationResult(values, protocol, details, notes)


def _measure(request: EvaluationRequest, backbones: Sequence[Backbone], real: TrainingImages, split: str,
             fakes: Tensor, requested: Tensor | None,
             is_mnist: bool) -> tuple[list[MetricValue], dict[str, Any], dict[str, Any]]:
    """The request's metrics of ``fakes`` on each backbone, beside the real-vs-real baselines;
    the per-backbone details, and what the protocol records of each backbone."""
    groups = request.metrics
    values: list[MetricValue] = []
    details: dict[str, Any] = {}
    backbone_protocol: dict[str, Any] = {}
    for backbone in backbones:
        reference = load_reference(real, split, backbone, num_real=request.num_real, batch_size=request.batch_size,
                                   root=request.cache_root)
        fake = backbone.embed(fakes, request.batch_size)
        name = backbone.name
        measured = compute_metrics(groups, backbone, reference.embedding, reference.labels, fake, requested,
                                   request.seed, details.setdefault(name, {}), is_mnist)
        baselines = real_vs_real(groups, backbone, reference, request.seed, is_mnist) if request.baseline else {}
        for metric, (value, std) in measured.items():
            values.append(MetricValue(metric, name, value, baselines.get(metric, (None,))[0], std))
        backbone_protocol[name] = {"fingerprint": backbone.fingerprint, "feature_dim": int(fake.features.shape[1]),
                                   "reference_cache": reference.cache, "reference_file": str(reference.path)}
    return values, details, backbone_protocol


def _protocol(request: EvaluationRequest, backbones: dict[str, Any], real_name: str, split: str,
              num_reference: int, generator: Generator, *, balanced: bool, device: torch.device) -> dict[str, Any]:
    """How the numbers were measured, as the result records it; truncation and a precision other
    than fp32 only when used, so a plain evaluation's protocol stays what it always was."""
    protocol = {
        "backbones": backbones, "metrics": list(request.metrics),
        "num_generated": request.num_samples, "num_real": num_reference,
        "real_dataset": real_name, "real_split": split, "resolution": list(generator.image_shape),
        "seed": request.seed, "generated_labels": "balanced (i mod classes)" if balanced else None,
        "quantisation": "generated images rounded to uint8, like the real ones",
        "baseline": (f"real vs real: two disjoint halves of the {num_reference} real samples"
                     if request.baseline else None),
        "precision_recall_k": precision_recall.DEFAULT_K, "kid_subsets": feature_metrics.KID_SUBSETS,
        "kid_subset_size": feature_metrics.KID_SUBSET_SIZE, "is_splits": feature_metrics.IS_SPLITS,
        "coverage_threshold": coverage_metrics.COVERED_SHARE, "device": str(device),
        "ganzoo_version": __version__, "torchmetrics_version": torchmetrics.__version__,
        "torch_version": torch.__version__,
    }
    if request.truncation < 1.0:
        protocol["truncation"] = request.truncation
    if request.precision != "fp32":
        protocol["sampling_precision"] = request.precision
    return protocol


def _load_backbones(chosen: Sequence[str | Backbone], device: torch.device,
                    inception_weights: Path | None) -> tuple[list[Backbone], list[str]]:
    """The backbones that can run, and a note for each that cannot; none at all is refused, in
    one line that says why each was skipped (an evaluation that would print an empty table)."""
    ready: list[Backbone] = []
    notes: list[str] = []
    for choice in chosen:
        try:
            ready.append(choice if isinstance(choice, Backbone) else load_backbone(
                choice, device, inception_weights=inception_weights))
        except BackboneUnavailable as exc:
            notes.append(str(exc))
    if not ready:
        raise BackboneUnavailable(f"no backbone can evaluate this data: {'; '.join(notes)}; or, for grey digits, "
                                  "use --backbone mnist-classifier (it ships with ganzoo)")
    return ready, notes


def compute_metrics(groups: Sequence[str], backbone: Backbone, real: Embedding, real_labels: Tensor | None,
                    fake: Embedding, requested: Tensor | None, seed: int, details: dict[str, Any],
                    is_mnist: bool) -> Values:
    """Every metric of ``groups`` this backbone can give, as name -> (value, std or None)."""
    values: Values = {}
    if "fid" in groups:
        values["fid"] = (feature_metrics.frechet_distance(real.features, fake.features), None)
    if "kid" in groups:
        values["kid"] = feature_metrics.kernel_distance(real.features, fake.features, seed=seed)
    if "is" in groups and fake.logits is not None:
        values["is"] = feature_metrics.inception_score(fake.logits, seed=seed)
    if "pr" in groups:
        precision, recall = precision_recall.precision_recall(real.features, fake.features)
        values["precision"], values["recall"] = (precision, None), (recall, None)
    classifier_ready = backbone.has_classes and is_mnist and real_labels is not None and fake.logits is not None
    if "coverage" in groups and classifier_ready:
        assert fake.logits is not None and real_labels is not None
        coverage = coverage_metrics.mode_coverage(fake.logits, real_labels)
        values["classes_covered"] = (float(coverage.classes_covered), None)
        values["coverage_kl"] = (coverage.kl_to_real, None)
        values["confidence"] = (coverage.confidence, None)
        details["class_histogram"] = coverage.histogram
    if "accuracy" in groups and classifier_ready and requested is not None:
        assert fake.logits is not None
        values["cond_accuracy"] = (coverage_metrics.conditional_accuracy(fake.logits, requested), None)
    return values


def real_vs_real(groups: Sequence[str], backbone: Backbone, reference: Reference, seed: int,
                 is_mnist: bool) -> Values:
    """The same metrics between two disjoint halves of the real set; cached beside the reference."""
    cached = reference.read_baseline()
    key = f"seed{seed}"
    wanted = [group for group in groups if group not in cached.get(key, {}).get("groups", [])]
    if wanted:
        first, second = reference.halves()
        measured = compute_metrics(wanted, backbone, first.embedding, first.labels, second.embedding,
                                   second.labels, seed, {}, is_mnist)
        entry = cached.setdefault(key, {"groups": [], "values": {}})
        entry["groups"] = sorted(set(entry["groups"]) | set(wanted))
        entry["values"].update({name: list(value) for name, value in measured.items()})
        reference.write_baseline(cached)
    return {name: (value[0], value[1]) for name, value in cached[key]["values"].items()}


def generate_uint8(generator: Generator, n: int, *, seed: int, batch_size: int = 500,
                   truncation: float = 1.0, precision: str = "fp32") -> tuple[Tensor, Tensor | None]:
    """``n`` samples as uint8 on the CPU, and the balanced labels a conditional generator was given;
    with ``truncation`` < 1 the latents' entries outside the threshold are redrawn from the same seed.
    Decoded ``batch_size`` at a time (``ganzoo.core.sampling.decode_chunks``, in ``precision``) into one
    uint8 tensor."""
    cpu_rng = torch.Generator().manual_seed(seed)
    latents = truncate_latents(generator.sample_latents(n, generator=cpu_rng, device="cpu"), truncation,
                               generator=cpu_rng)
    labels = None if generator.num_classes is None else torch.arange(n) % generator.num_classes
    fakes = torch.empty((n, *generator.image_shape), dtype=torch.uint8)
    for start, images in decode_chunks(generator, latents, labels, chunk_size=batch_size, precision=precision):
        bad = count_nonfinite_images(images)
        if bad:  # uint8 would turn NaN into black pixels and the metrics into confident nonsense
            raise WeightsError(f"the generator made NaN or Inf values in {bad} of samples "
                               f"{start}..{start + len(images) - 1} (seed {seed}); its weights are from a diverged run "
                               "or damaged, so there is nothing to evaluate: use an earlier checkpoint")
        fakes[start:start + len(images)] = to_uint8(images)
    return fakes, labels


def _real_dataset(request: EvaluationRequest, generator: Generator,
                  registry: Registry | None) -> tuple[TrainingImages, str]:
    """The real images at the generator's resolution and channels, and the split they come from."""
    channels, height, _ = generator.image_shape
    config = DataConfig(image_size=height, channels=channels)  # check_evaluable_shape made sure it can be
    dataset, split = request.dataset, request.split
    if isinstance(dataset, str):
        config = config.model_copy(update={"name": dataset, "root": request.data_root, "split": split or "train"})
        spec = (registry or get_registry()).dataset(dataset)
        real = spec.factory(config)
    elif isinstance(dataset, ImageDataset) and dataset.image_shape != generator.image_shape:
        real = prepare(dataset, config)
    else:  # already at the generator's shape, or streamed (check_same_shape refuses another shape)
        real = dataset
    check_same_shape(generator.image_shape, real.image_shape, "the generator", f"the real data ({real.name})")
    recorded_split = "test" if real.name == "mnist-embedded" else (split or "unspecified")
    return real, recorded_split


def _choose_backbones(backbones: Sequence[str | Backbone] | None, is_mnist: bool) -> list[str | Backbone]:
    """The request's backbones; by default both backbones for MNIST, Inception otherwise."""
    if backbones is None:
        return ["mnist-classifier", "inception"] if is_mnist else ["inception"]
    return list(backbones)
