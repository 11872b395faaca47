"""The fast sampling path keeps the images: channels_last and chunking change no 8-bit pixel in
fp32, ``--precision bf16`` is opt-in, runs and is recorded, and a precision the device cannot
sample in is one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo.cli import main
from ganzoo.core.interfaces import Generator
from ganzoo.core.registry import get_registry
from ganzoo.core.sampling import check_sampling_precision, seeded_inputs
from ganzoo.data.dataset import to_uint8
from ganzoo.errors import ConfigError
from ganzoo.generators.sampling import decode_in_chunks
from ganzoo.generators.weights import load_generator, save_generator
from ganzoo.metrics.evaluate import evaluate, generate_uint8

TINY = {"mlp": {"latent_dim": 8, "generator_widths": [32, 64], "discriminator_widths": [16]},
        "dcgan": {"latent_dim": 8, "ngf": 8, "ndf": 8}}


def spread_outputs(generator: Generator) -> None:
    """BatchNorm statistics of one batch and a larger last layer, so that the images span [-1, 1]
    as a trained generator's do (a fresh one draws everything near grey, where no rounding is tested)."""
    for module in generator.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # the running statistics become the batch's own
    generator.train()
    with torch.no_grad():
        generator(generator.sample_latents(256, generator=torch.Generator().manual_seed(1), device="cpu"))
        last = [module for module in generator.modules() if isinstance(module, (nn.Linear, nn.ConvTranspose2d))][-1]
        last.weight.mul_(8)


def write_generator(path: Path, variant: str, image_shape: tuple[int, int, int]) -> Path:
    """A small generator file of ``variant`` whose images use the whole 8-bit range."""
    spec = get_registry().get("variant", variant)
    options = spec.spec.config_model(**TINY[variant])
    torch.manual_seed(0)
    generator = spec.spec.build_generator(options, image_shape, None)
    spread_outputs(generator)
    save_generator(generator, path, variant=variant, model_config=options.model_dump(mode="json"), plugin=spec.plugin)
    return path


@pytest.fixture(params=[("mlp", (1, 16, 16)), ("dcgan", (3, 32, 32))], ids=["mlp", "dcgan-rgb"])
def weights(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    variant, shape = request.param
    return write_generator(tmp_path / f"{variant}.safetensors", variant, shape)


def plain_images(path: Path, latents: torch.Tensor) -> torch.Tensor:
    """What sampling computed before the fast path: one contiguous fp32 forward under no_grad."""
    generator = load_generator(path, device="cpu").to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        return generator(latents)


def test_fast_fp32_sampling_keeps_the_8_bit_images_of_the_plain_forward(weights: Path) -> None:
    """channels_last sums a convolution in another order: its floats move by about 1e-6 and a few
    8-bit pixels in a million by one level (measured on a trained dcgan: 4 in a million); an MLP's
    images stay bit for bit what they were."""
    generator = load_generator(weights, device="cpu")
    images = generator.sample(300, seed=4)
    latents, _ = seeded_inputs(generator, 300, 4)
    plain = plain_images(weights, latents)
    assert images.dtype == torch.float32 and images.is_contiguous() and images.shape == plain.shape
    assert float(images.std()) > 0.3  # spread over the range, so rounding is really compared
    levels = (to_uint8(images).int() - to_uint8(plain).int()).abs()
    assert int(levels.max()) <= 1 and float((levels > 0).float().mean()) < 1e-4
    torch.testing.assert_close(images, plain, rtol=0, atol=1e-5)
    if not any(parameter.dim() == 4 for parameter in generator.parameters()):
        assert torch.equal(images, plain)


def test_the_chunk_size_does_not_change_the_images(weights: Path) -> None:
    """Chunks of 16 and more; below that BLAS and oneDNN may pick other kernels (a batch of 3
    moves floats by 1e-6, with or without channels_last)."""
    generator = load_generator(weights, device="cpu")
    whole = generator.sample(300, seed=2)
    for batch_size in (16, 128, 1024):
        assert torch.equal(generator.sample(300, seed=2, batch_size=batch_size), whole), batch_size
    latents, labels = seeded_inputs(generator, 300, 2)
    assert torch.equal(torch.cat(list(decode_in_chunks(generator, latents, labels, weights, chunk_size=64))), whole)
    fakes, _ = generate_uint8(generator, 300, seed=2, batch_size=77)
    assert torch.equal(fakes, to_uint8(whole))


def test_sampling_restores_training_mode_and_records_no_gradients(weights: Path) -> None:
    generator = load_generator(weights, device="cpu").train()
    images = generator.sample(4, seed=0)
    assert generator.training and not images.requires_grad
    images.mul_(2)  # an ordinary tensor, not an inference-mode one


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="bf16 autocast on this CPU needs oneDNN")
def test_bf16_sampling_is_close_to_fp32_and_opt_in(weights: Path) -> None:
    generator = load_generator(weights, device="cpu")
    fp32, bf16 = generator.sample(64, seed=1), generator.sample(64, seed=1, precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    levels = (to_uint8(bf16).int() - to_uint8(fp32).int()).abs()
    assert int(levels.max()) <= 16 and float((levels > 0).float().mean()) < 0.5
    assert torch.equal(generator.sample(64, seed=1, precision="fp32"), fp32)


def test_the_sample_command_takes_a_precision(weights: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(weights), "--num", "8", "--device", "cpu", "--precision", "bf16",
                 "--out", str(tmp_path / "bf16.png")]) == 0
    assert (tmp_path / "bf16.png").exists()
    capsys.readouterr()
    assert main(["sample", str(weights), "--device", "cpu", "--precision", "fp16", "--out",
                 str(tmp_path / "fp16.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: sampling precision 'fp16' is not available on cpu; use fp32 or bf16 here"]
    assert not (tmp_path / "fp16.png").exists()
    with pytest.raises(SystemExit) as usage:
        main(["sample", str(weights), "--precision", "fp8"])
    assert usage.value.code == 2


@pytest.mark.parametrize("native", [True, False])
def test_bf16_where_the_cpu_lacks_it_runs_and_says_why_it_is_slow(weights: Path, tmp_path: Path, native: bool,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """sample and interpolate (and eval, through the same check) note it once on stderr."""
    from ganzoo.runtime import precision

    monkeypatch.setattr(precision, "cpu_bf16_kind", lambda: "avx512" if native else "none")
    capsys.readouterr()
    assert main(["sample", str(weights), "--num", "4", "--device", "cpu", "--precision", "bf16",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["interpolate", str(weights), "--pairs", "1", "--steps", "3", "--device", "cpu",
                 "--precision", "bf16", "--out", str(tmp_path / "walk.png")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "without native bf16" in line]
    assert len(notes) == (0 if native else 2) and all(line.startswith("note: precision bf16") for line in notes)
    assert (tmp_path / "grid.png").exists() and (tmp_path / "walk.png").exists()


def test_a_precision_the_device_lacks_is_refused_by_the_library(weights: Path) -> None:
    generator = load_generator(weights, device="cpu")
    with pytest.raises(ConfigError, match="'fp16' is not available on cpu; use fp32 or bf16"):
        generator.sample(2, seed=0, precision="fp16")
    with pytest.raises(ConfigError, match="'int8' is unknown; use fp32 or bf16"):
        check_sampling_precision("int8", torch.device("cpu"))
    with pytest.raises(ConfigError, match="not available on cpu"):
        evaluate(generator, metrics="fid", backbones="mnist-classifier", num_samples=100, num_real=100,
                 baseline=False, precision="fp16")


def test_the_evaluation_records_bf16_sampling(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    weights = write_generator(tmp_path / "run" / "generator.safetensors", "mlp", (1, 16, 16))
    monkeypatch.chdir(tmp_path)
    arguments = ["eval", str(weights), "--num", "64", "--num-real", "64", "--metrics", "fid", "--backbone",
                 "mnist-classifier", "--device", "cpu", "--no-baseline"]
    assert main([*arguments, "--out", "fp32.json"]) == 0
    assert main([*arguments, "--precision", "bf16", "--out", "bf16.json"]) == 0
    printed = capsys.readouterr().out
    protocol: dict[str, Any] = json.loads((tmp_path / "bf16.json").read_text())["protocol"]
    assert protocol["sampling_precision"] == "bf16" and "sampled in bf16" in printed
    assert "sampling_precision" not in json.loads((tmp_path / "fp32.json").read_text())["protocol"]
    assert main([*arguments, "--precision", "fp16", "--out", "fp16.json"]) == 2
    assert not (tmp_path / "fp16.json").exists()
