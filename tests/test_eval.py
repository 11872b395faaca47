"""Evaluation end to end: the shipped classifier, ``ganzoo.evaluate``, the cache, Inception's
absence and its wiring, ``ganzoo eval`` on a trained run, and best-checkpoint tracking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.core.interfaces import Generator
from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import ImageDataset, load_embedded_mnist, to_unit_range
from ganzoo.errors import ConfigError
from ganzoo.metrics import BackboneUnavailable, load_backbone
from ganzoo.metrics.backbones import INCEPTION_WEIGHTS_FILE, InceptionBackbone
from ganzoo.metrics.classifier import load_classifier, read_card
from ganzoo.training.loop import train


@pytest.fixture(scope="module")
def held_out() -> ImageDataset:
    """400 real digits at 16x16 that the classifier never trained on."""
    start, _ = read_card().held_out_indices
    mnist = load_embedded_mnist(DataConfig(image_size=16))
    assert mnist.labels is not None
    return ImageDataset("held-out", mnist.images[start:start + 400], mnist.labels[start:start + 400],
                        mnist.class_names)


class ReplayGenerator(Generator):
    """A 'generator' that plays back fixed real images in order: a model with known answers."""

    def __init__(self, images: Tensor) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = 1, tuple(images.shape[1:]), None
        self.images, self.cursor = images, 0
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        index = torch.arange(self.cursor, self.cursor + len(latents)) % len(self.images)
        self.cursor += len(latents)
        return to_unit_range(self.images[index])


class LabelledReplayGenerator(Generator):
    """A conditional 'generator' that answers label y with a real digit of class ``(y + offset) % 10``."""

    def __init__(self, images: Tensor, labels: Tensor, offset: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = 1, tuple(images.shape[1:]), 10
        self.by_class = [images[labels == digit] for digit in range(10)]
        self.offset = offset
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is not None
        shown = [self.by_class[(int(label) + self.offset) % 10] for label in labels]
        return to_unit_range(torch.stack([digits[i % len(digits)] for i, digits in enumerate(shown)]))


def test_classifier_is_accurate_on_held_out_real_digits() -> None:
    card = read_card()
    start, stop = card.held_out_indices
    assert start >= card.train_indices[1] and card.held_out_accuracy >= 0.98
    model, fingerprint = load_classifier()
    assert fingerprint == card.fingerprint
    for size in (28, 32):
        mnist = load_embedded_mnist(DataConfig(image_size=size))
        with torch.no_grad():
            predictions = model(to_unit_range(mnist.images[start:stop])).argmax(1)
        assert float((predictions == mnist.labels[start:stop]).float().mean()) >= 0.98, size


def test_replaying_the_real_set_scores_perfectly(held_out: ImageDataset, cache: Path) -> None:
    result = ganzoo.evaluate(ReplayGenerator(held_out.images), held_out, metrics=["fid", "pr"],
                             backbones=["mnist-classifier"], num_samples=len(held_out), baseline=False)
    assert result.get("fid").value == pytest.approx(0.0, abs=1e-4)
    assert result.get("precision").value == 1.0 and result.get("recall").value == 1.0


def test_a_generator_that_emits_one_digit_covers_one_class(held_out: ImageDataset, cache: Path) -> None:
    assert held_out.labels is not None
    ones = held_out.images[held_out.labels == 1]
    result = ganzoo.evaluate(ReplayGenerator(ones), held_out, metrics="coverage", backbones="mnist-classifier",
                             num_samples=200)
    assert result.get("classes_covered").value == 1
    assert result.get("classes_covered").baseline == 10
    assert result.get("coverage_kl").value > 1.5 > result.get("coverage_kl").baseline
    assert max(result.details["mnist-classifier"]["class_histogram"]) >= 0.95


def test_conditional_accuracy_tells_an_obedient_generator_from_one_that_shifts_labels(
        held_out: ImageDataset, cache: Path) -> None:
    assert held_out.labels is not None
    results = [ganzoo.evaluate(LabelledReplayGenerator(held_out.images, held_out.labels, offset), held_out,
                               metrics="coverage,accuracy", backbones="mnist-classifier", num_samples=200)
               for offset in (0, 1)]
    obedient, shifted = (result.get("cond_accuracy") for result in results)
    assert results[0].protocol["generated_labels"] == "balanced (i mod classes)"
    assert obedient.value >= 0.95 and obedient.baseline >= 0.95
    assert shifted.value <= 0.05
    # both draw every digit equally often: coverage alone cannot see the wrong labels
    assert [result.get("classes_covered").value for result in results] == [10, 10]


def test_a_request_is_checked_when_it_is_built() -> None:
    """Each setting an evaluation cannot use is one ConfigError line that names it, before any
    generator or data is touched; what is given as a string or a list is normalised."""
    for settings, message in [
        ({"metrics": "fid,sharpness"}, "unknown metric 'sharpness'; choose from fid, kid, is, pr, coverage, accuracy"),
        ({"backbones": "resnet"}, "unknown backbone 'resnet'; choose from mnist-classifier, inception"),
        ({"truncation": 1.5}, "truncation must lie in (0, 1] (got 1.5); 1 means no truncation"),
        ({"metrics": "pr", "num_samples": 3}, "num_samples is 3, too few: precision/recall with k=3"),
        ({"metrics": "pr", "num_real": 7}, "num_real is 7, too few"),
        ({"device": "cpu", "precision": "fp16"}, "sampling precision 'fp16' is not available on cpu; use fp32 or bf16"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"num_sample": 100}, "num_sample: unknown setting; did you mean 'num_samples'?"),
        ({"batch_size": 0}, "batch_size: Input should be greater than 0 (got 0)"),
        ({"seed": "three"}, "seed: Input should be a valid integer"),
    ]:
        with pytest.raises(ConfigError) as raised:
            ganzoo.EvaluationRequest(**settings)
        assert message in str(raised.value) and "\n" not in str(raised.value), settings
    request = ganzoo.EvaluationRequest(metrics=" kid, fid,kid", backbones="inception", device="cpu")
    assert request.metrics == ("kid", "fid") and request.backbones == ("inception",)
    assert request.device == torch.device("cpu")


def test_a_request_evaluates_as_its_settings_given_as_keywords(held_out: ImageDataset, cache: Path) -> None:
    settings = {"metrics": "fid", "backbones": ["mnist-classifier"], "num_samples": 100, "seed": 2}
    by_keywords = ganzoo.evaluate(ReplayGenerator(held_out.images), held_out, **settings)
    request = ganzoo.EvaluationRequest(dataset=held_out, **settings)
    by_request = ganzoo.evaluate(ReplayGenerator(held_out.images), request)
    assert by_request.values == by_keywords.values
    assert by_request.protocol["num_generated"] == 100 and by_request.protocol["seed"] == 2
    with pytest.raises(TypeError, match="put them in the request"):
        ganzoo.evaluate(ReplayGenerator(held_out.images), request, seed=3)


def test_reference_statistics_are_cached_and_reused(held_out: ImageDataset, cache: Path) -> None:
    def run(num_real: int | None = None) -> ganzoo.metrics.EvaluationResult:
        return ganzoo.evaluate(ReplayGenerator(held_out.images), held_out, metrics="fid", backbones=["mnist-classifier"],
                               num_samples=100, num_real=num_real)

    first = run()
    entry = first.protocol["backbones"]["mnist-classifier"]
    reference = Path(entry["reference_file"])
    assert entry["reference_cache"] == "miss" and reference.parent == cache / "reference"
    stamps = reference.stat().st_mtime_ns, reference.with_suffix(".baseline.json").stat().st_mtime_ns
    second = run()
    assert second.protocol["backbones"]["mnist-classifier"]["reference_cache"] == "hit"
    assert (reference.stat().st_mtime_ns, reference.with_suffix(".baseline.json").stat().st_mtime_ns) == stamps
    assert second.get("fid").value == first.get("fid").value
    assert second.get("fid").baseline == first.get("fid").baseline
    other = run(num_real=200).protocol["backbones"]["mnist-classifier"]
    assert other["reference_cache"] == "miss" and other["reference_file"] != str(reference)


def test_missing_inception_weights_are_one_line_and_evaluation_goes_on(held_out: ImageDataset, cache: Path) -> None:
    with pytest.raises(BackboneUnavailable) as raised:
        load_backbone("inception", torch.device("cpu"))
    message = str(raised.value)
    assert "\n" not in message and INCEPTION_WEIGHTS_FILE in message and str(cache / "weights") in message
    result = ganzoo.evaluate(ReplayGenerator(held_out.images), held_out, metrics="fid,coverage", num_samples=100,
                             baseline=False)
    assert result.notes == [message]
    assert {value.backbone for value in result.values} == {"mnist-classifier"}
    assert list(result.protocol["backbones"]) == ["mnist-classifier"]


class InceptionStandIn(nn.Module):
    """Stands in for FID's InceptionV3 (uint8 RGB in, (features, logits) out) to prove the wiring."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[torch.dtype, tuple[int, ...], bool]] = []
        self.logits = nn.Linear(12, 1008)

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        grey_tiled = bool((pixels[:, 0] == pixels[:, 1]).all() and (pixels[:, 1] == pixels[:, 2]).all())
        self.seen.append((pixels.dtype, tuple(pixels.shape[1:]), grey_tiled))
        quarters = nn.functional.adaptive_avg_pool2d(pixels.float() / 255, 2).flatten(1)
        return quarters, self.logits(quarters)


def test_inception_backbone_wiring_with_a_stand_in(held_out: ImageDataset, cache: Path) -> None:
    stand_in = InceptionStandIn()
    backbone = InceptionBackbone(stand_in, torch.device("cpu"), fingerprint="stand-in")
    result = ganzoo.evaluate(ReplayGenerator(held_out.images), held_out, metrics="fid,is,pr,coverage",
                             backbones=[backbone], num_samples=len(held_out), baseline=False)
    assert {(dtype, shape, tiled) for dtype, shape, tiled in stand_in.seen} == {(torch.uint8, (3, 16, 16), True)}
    assert result.get("fid", "inception").value == pytest.approx(0.0, abs=1e-4)
    assert result.get("is", "inception").value > 1.0
    assert result.protocol["backbones"]["inception"]["fingerprint"] == "stand-in"
    assert result.protocol["backbones"]["inception"]["feature_dim"] == 12
    with pytest.raises(KeyError):
        result.get("classes_covered")  # Inception's classes are not digits


def test_ganzoo_eval_on_a_trained_mlp_run(tiny_config, run_cli, tmp_path: Path, cache: Path) -> None:
    run = train(tiny_config("mlp"))
    env = {"GANZOO_CACHE": str(cache), "TORCH_HOME": str(tmp_path / "torch-home")}
    out = tmp_path / "result.json"
    done = run_cli("eval", str(run.generator_path), "--num", "300", "--metrics", "fid,kid,is,pr,coverage",
                   "--seed", "3", "--device", "cpu", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "inception skipped" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    for shown in ("FD", "KID", "precision", "classes covered", "real vs real", "300 generated vs 256 real"):
        assert shown in done.stdout
    result = json.loads(out.read_text())
    protocol = result["protocol"]
    assert protocol["num_generated"] == 300 and protocol["num_real"] == 256 and protocol["seed"] == 3
    assert protocol["resolution"] == [1, 16, 16] and protocol["real_split"] == "test"
    assert protocol["torchmetrics_version"] and protocol["ganzoo_version"] == ganzoo.__version__
    assert {m["name"] for m in result["metrics"]} >= {"fid", "kid", "is", "precision", "recall", "classes_covered"}
    assert all(m["baseline"] is not None for m in result["metrics"])
    # a ConfigError, which the CLI turns into one line and exit code 2 (tests/test_cli.py)
    with pytest.raises(ConfigError, match="unknown metric 'sharpness'"):
        ganzoo.evaluate(ganzoo.load_generator(run.generator_path, device="cpu"), metrics="fid,sharpness")


def test_training_keeps_the_best_checkpoint_by_the_chosen_metric(tiny_config, cache: Path) -> None:
    run = train(tiny_config("mlp", run={"epochs": 2, "eval_every_epochs": 1, "eval_num_samples": 64,
                                        "eval_metric": "fid"}))
    rows = [json.loads(line) for line in (run.out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [row for row in rows if row["kind"] == "eval"]
    assert [row["epoch"] for row in evals] == [1, 2] and evals[0]["best"] is True
    assert evals[1]["best"] == (evals[1]["fid"] < evals[0]["fid"])
    assert (run.out_dir / "checkpoints" / "best.safetensors").is_file()
    best = ganzoo.load_generator(run.out_dir / "generator-best.safetensors", device="cpu")
    assert best.image_shape == (1, 16, 16)


def test_a_metric_the_run_cannot_measure_is_a_config_error(tiny_config, cache: Path) -> None:
    config = tiny_config("mlp", run={"eval_every_epochs": 1, "eval_num_samples": 32,
                                     "eval_metric": "cond_accuracy"})
    with pytest.raises(ConfigError, match="cond_accuracy"):
        train(config)
