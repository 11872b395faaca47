"""Colour and size: every registered variant trains real steps on grey and RGB data at 32x32 and
64x64; a size a variant cannot build is refused in that variant's own one line; and sample
grids, ``ganzoo sample``, ``ganzoo eval`` and ``ganzoo bench`` work on RGB generators.

The RGB data is the embedded MNIST converted with ``data.channels = 3``. The matrix runs each
variant with narrow layers (the widths the sizes and channels do not depend on), so it tests
what the image shape changes: the first and last layers, the number of stages, the flatten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn

import ganzoo
from ganzoo.bench.config import BenchConfig
from ganzoo.bench.runner import run_bench
from ganzoo.cli import main
from ganzoo.core.registry import get_registry
from ganzoo.errors import ConfigError
from ganzoo.metrics import backbones
from ganzoo.metrics.backbones import INCEPTION_WEIGHTS_URL, InceptionBackbone
from ganzoo.testing import assert_finite_step, train_quietly

VARIANTS = get_registry().names("variant")
TRAINED_SIZES = (32, 64)
"""Every variant must build and train at both (CIFAR-10 at 32, CelebA and the DCGAN tutorial at 64)."""
ODD_SIZE = 24
"""Not a power of two: a variant either builds it or refuses it in its own one line."""
NARROW = {"latent_dim": 8, "embedding_dim": 4, "ngf": 4, "ndf": 4, "g_channels": 8, "d_channels": 8,
          "generator_widths": [16], "discriminator_widths": [16], "widths": [8, 16], "norm_groups": 4}
"""Width options, by name, set on every variant whose config model has them."""


def narrow_model(variant: str) -> dict[str, Any]:
    fields = get_registry().variant(variant).config_model.model_fields
    return {name: value for name, value in NARROW.items() if name in fields}


def colour_plan(tiny_config: Any, variant: str, channels: int, size: int, **run: Any) -> Any:
    return tiny_config(variant, model=narrow_model(variant),
                       data={"image_size": size, "channels": channels, "limit": 48},
                       run={"batch_size": 8, "max_steps": 2, "log_every_steps": 1, "num_fixed_samples": 4, **run})


def matrix() -> list[Any]:
    cases = []
    for variant in VARIANTS:
        for channels in (1, 3):
            for size in TRAINED_SIZES:
                marks = [pytest.mark.slow] if size == 64 else []
                cases.append(pytest.param(variant, channels, size, marks=marks, id=f"{variant}-{channels}x{size}"))
    return cases


@pytest.mark.parametrize(("variant", "channels", "size"), matrix())
def test_every_variant_trains_grey_and_rgb_at_32_and_64(tiny_config, variant: str, channels: int, size: int) -> None:
    plan = colour_plan(tiny_config, variant, channels, size, sample_every_epochs=0)
    assert plan.config.data.channels == channels
    assert_finite_step(train_quietly(plan), (channels, size, size))  # the build checked the contracts


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_size_a_variant_cannot_build_is_its_own_one_line(tiny_config, variant: str) -> None:
    plan = colour_plan(tiny_config, variant, 3, ODD_SIZE, sample_every_epochs=0)
    try:
        result = train_quietly(plan)
    except ConfigError as refused:  # the plugin's message, not a shape error from inside torch
        message = str(refused)
        assert "\n" not in message and f"{ODD_SIZE}x{ODD_SIZE}" in message and "--image-size" in message, message
    else:
        assert_finite_step(result, (3, ODD_SIZE, ODD_SIZE))


# -- sample grids --------------------------------------------------------------------------------


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (3, "RGB")])
def test_grids_of_grey_runs_are_greyscale_pngs_and_of_rgb_runs_colour(tiny_config, tmp_path: Path,
                                                                       channels: int, mode: str) -> None:
    result = train_quietly(colour_plan(tiny_config, "dcgan", channels, 32))
    grids = sorted((Path(result.out_dir) / "samples").glob("*.png"))
    assert grids and all(Image.open(grid).mode == mode for grid in grids)
    sampled = tmp_path / "sampled.png"
    assert main(["sample", str(result.generator_path), "--num", "6", "--seed", "1", "--out", str(sampled),
                 "--device", "cpu"]) == 0
    with Image.open(sampled) as image:
        assert image.mode == mode and image.size == (6 * 34 + 2, 34 + 2)  # one row of six 32x32 + padding


# -- evaluation and bench on RGB -----------------------------------------------------------------


class SmallConvNet(nn.Module):
    """Stands in for FID's InceptionV3 (uint8 RGB in, (features, logits) out): a fixed random conv net."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.logits = nn.Linear(16, 1008)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert pixels.dtype == torch.uint8
        self.seen.append(tuple(pixels.shape[1:]))
        features = self.conv(pixels.float() / 127.5 - 1)
        return features, self.logits(features)


def colour_folder(root: Path, size: int) -> Path:
    """An image folder (ROOT/CLASS/IMAGE) of eight RGB squares: colour data that is not digits."""
    (root / "blue").mkdir(parents=True)
    for index in range(8):
        Image.new("RGB", (size, size), (index * 30, 40, 200)).save(root / "blue" / f"{index}.png")
    return root


@pytest.fixture
def fake_inception(cache: Path, monkeypatch: pytest.MonkeyPatch) -> SmallConvNet:
    """The Inception loader returns a small conv net, as if the weights file were present."""
    network = SmallConvNet()
    monkeypatch.setattr(backbones, "load_inception",
                        lambda device, weights=None: InceptionBackbone(network, device, "small-conv-net"))
    return network


@pytest.fixture
def rgb_run(tiny_config) -> Any:
    """A dcgan trained two steps on 3x32x32 RGB digits."""
    return train_quietly(colour_plan(tiny_config, "dcgan", 3, 32, sample_every_epochs=0))


EVAL = ["--num", "40", "--num-real", "40", "--metrics", "fid,kid,pr", "--device", "cpu"]


def test_rgb_eval_without_inception_weights_is_one_line_and_exit_2(rgb_run, cache: Path, capsys) -> None:
    folder = colour_folder(cache.parent / "images", 32)
    assert main(["eval", str(rgb_run.generator_path), "--dataset", "image-folder", "--data-root",
                 str(folder), "--num", "8", "--num-real", "8", "--metrics", "fid", "--device", "cpu"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "inception skipped" in lines[0] and INCEPTION_WEIGHTS_URL in lines[0], lines
    assert not (cache / "reference").exists() or not any((cache / "reference").iterdir())


def test_the_mnist_classifier_is_refused_on_data_that_is_not_digits(rgb_run, cache: Path, capsys) -> None:
    folder = colour_folder(cache.parent / "images", 32)
    assert main(["eval", str(rgb_run.generator_path), "--dataset", "image-folder", "--data-root",
                 str(folder), "--backbone", "mnist-classifier", "--num", "8", "--num-real", "8",
                 "--metrics", "fid", "--device", "cpu"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "only measures MNIST digits" in line and "--backbone inception" in line


def test_rgb_eval_on_inception_features_caches_per_dataset_split_and_resolution(
        rgb_run, fake_inception: SmallConvNet, cache: Path, capsys) -> None:
    out = cache.parent / "eval.json"
    assert main(["eval", str(rgb_run.generator_path), *EVAL, "--backbone", "inception", "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    assert {(3, 32, 32)} == set(fake_inception.seen)  # RGB reaches the backbone as RGB
    assert all(torch.isfinite(torch.tensor(m["value"])) for m in first["metrics"])
    assert {m["name"] for m in first["metrics"]} == {"fid", "kid", "precision", "recall"}
    entry = first["protocol"]["backbones"]["inception"]
    assert entry["reference_cache"] == "miss" and first["protocol"]["resolution"] == [3, 32, 32]
    name = Path(entry["reference_file"]).name
    assert name.startswith("mnist-embedded-test-3x32x32-inception-small-conv-net-n40-"), name
    assert main(["eval", str(rgb_run.generator_path), *EVAL, "--backbone", "inception", "--out", str(out)]) == 0
    again = json.loads(out.read_text())["protocol"]["backbones"]["inception"]
    assert again["reference_cache"] == "hit" and again["reference_file"] == entry["reference_file"]


def test_rgb_digits_are_measured_by_both_backbones_by_default(rgb_run, fake_inception: SmallConvNet,
                                                              cache: Path) -> None:
    generator = ganzoo.load_generator(rgb_run.generator_path, device="cpu")
    result = ganzoo.evaluate(generator, "mnist-embedded", metrics="fid,coverage", num_samples=40, num_real=40,
                             cache_root=cache)
    assert {value.backbone for value in result.values} == {"mnist-classifier", "inception"}
    assert result.get("classes_covered", "mnist-classifier").value >= 1
    grey = ganzoo.evaluate(generator, "mnist-embedded", metrics="fid", backbones="inception", num_samples=40,
                           num_real=40, cache_root=cache, split="train")
    assert grey.protocol["backbones"]["inception"]["reference_cache"] == "hit"  # same data, split and size


@pytest.mark.slow
def test_bench_on_rgb_generators(fake_inception: SmallConvNet, cache: Path, tmp_path: Path) -> None:
    config = BenchConfig(variants=["dcgan"], limit=64, budget_images=64, seeds=1, batch_size=16,
                         device="cpu", eval_points=1, eval_samples=32, image_size=32, out_dir=tmp_path / "bench",
                         overrides={"data": {"channels": 3}, "model": {"latent_dim": 8}})
    report = run_bench(config)
    assert report.protocol["evaluation"]["resolution"] == [3, 32, 32]
    for variant in report.variants:
        seed = variant.seeds[0]
        assert seed.final["inception.fid"] >= 0 and "mnist-classifier.fid" in seed.final


def test_training_evaluation_with_the_classifier_on_colour_folders_is_refused_before_training(
        tiny_config, tmp_path: Path) -> None:
    folder = colour_folder(tmp_path / "images", 16)
    plan = tiny_config("mlp", data={"name": "image-folder", "root": str(folder), "limit": None},
                       run={"batch_size": 4, "eval_every_epochs": 1, "eval_num_samples": 16})
    with pytest.raises(ConfigError, match="only measures MNIST digits.*run.eval_backbone=inception"):
        train_quietly(plan)
    assert not (Path(plan.config.run.out_dir) / "generator.safetensors").exists()
