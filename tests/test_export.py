"""``ganzoo export``: every format gives the generator's images back, metadata included, and bad
inputs are one line (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo.core.registry import get_registry
from ganzoo.generators.export import SUFFIXES, export_generator, read_export_metadata, run_exported
from ganzoo.generators.weights import load_generator, read_generator_metadata, save_generator

SMALL_OPTIONS = {  # real variants, small enough to export in a second or two
    "mlp": ({"latent_dim": 8, "generator_widths": [16, 32]}, (1, 8, 8), None),
    "dcgan": ({"latent_dim": 8, "ngf": 8, "ndf": 8}, (1, 32, 32), None),
    "cgan-mlp": ({"latent_dim": 8, "generator_widths": [16], "embedding_dim": 4}, (1, 8, 8), ["a", "b", "c"]),
}


def generator_file(path: Path, variant: str) -> Path:
    """A real, valid generator file of ``variant`` (untrained weights, but not its initial ones:
    BatchNorm's running statistics are moved off 0/1, so eval-mode export must carry them)."""
    options, shape, classes = SMALL_OPTIONS[variant]
    entry = get_registry().get("variant", variant)
    model_options = entry.spec.config_model(**options)
    torch.manual_seed(0)
    generator = entry.spec.build_generator(model_options, shape, len(classes) if classes else None)
    generator.train()
    with torch.no_grad():
        for _ in range(3):
            latents = torch.randn(8, generator.latent_dim)
            generator(latents, torch.arange(8) % len(classes) if classes else None)
    save_generator(generator, path, variant=variant, model_config=model_options.model_dump(mode="json"),
                   plugin=entry.plugin, class_names=classes)
    return path


@pytest.mark.parametrize("fmt", list(SUFFIXES))
@pytest.mark.parametrize("variant", list(SMALL_OPTIONS))
def test_every_format_round_trips(tmp_path: Path, variant: str, fmt: str) -> None:
    weights = generator_file(tmp_path / "generator.safetensors", variant)
    generator = load_generator(weights, device="cpu")
    out = tmp_path / f"generator{SUFFIXES[fmt]}"
    export_generator(generator, read_generator_metadata(weights), fmt, out)

    for batch in (1, 7):  # neither is the batch it was traced with: the batch axis is free
        latents = generator.sample_latents(batch, generator=torch.Generator().manual_seed(batch), device="cpu")
        labels = torch.arange(batch) % generator.num_classes if generator.num_classes else None
        expected = load_generator(weights, device="cpu").sample(batch, latents=latents, labels=labels)
        exported = run_exported(out, fmt, latents, labels)
        assert exported.shape == (batch, *generator.image_shape)
        torch.testing.assert_close(exported, expected, atol=1e-4, rtol=1e-4)

    about = read_export_metadata(out, fmt)
    assert about["variant"] == variant and about["latent_dim"] == 8
    assert about["image_shape"] == list(generator.image_shape)
    assert about["num_classes"] == generator.num_classes
    assert about["inputs"] == (["latents", "labels"] if generator.num_classes else ["latents"])
    assert not list(tmp_path.glob(".*.tmp-*"))  # written atomically, nothing left behind


def test_cli_exports_and_checks(tmp_path: Path, run_cli) -> None:
    weights = generator_file(tmp_path / "generator.safetensors", "cgan-mlp")
    result = run_cli("export", str(weights), "--format", "exported-program", "--out", "cgan.pt2")
    assert result.returncode == 0, result.stderr
    assert "exported cgan-mlp to cgan.pt2" in result.stdout
    assert "checked: its images match the generator's" in result.stdout
    assert (tmp_path / "cgan.pt2").is_file()


def test_onnx_without_onnxruntime_exports_and_says_what_to_install(tmp_path: Path, run_cli) -> None:
    weights = generator_file(tmp_path / "generator.safetensors", "mlp")
    shadow = tmp_path / "no-onnxruntime" / "onnxruntime"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('onnxruntime is not installed')\n")
    result = run_cli("export", str(weights), "--format", "onnx", "--out", "g.onnx",
                     env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.onnx").is_file()
    note = [line for line in result.stdout.splitlines() if "not checked" in line]
    assert len(note) == 1 and "pip install 'ganzoo[export]'" in note[0]


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite", "--out", "g.onnx"], "invalid choice: 'tflite'"),
    (["--format", "onnx", "--out", "g.png"], "must end in .onnx"),
    (["--format", "torchscript", "--out", "missing-dir-is-a-file/g.pt"], "which is a file, not a directory"),
    (["--format", "torchscript", "--out", "outdir.pt"], "is an existing directory"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, run_cli, args: list[str], message: str) -> None:
    weights = generator_file(tmp_path / "generator.safetensors", "mlp")
    (tmp_path / "missing-dir-is-a-file").write_text("")
    (tmp_path / "outdir.pt").mkdir()
    result = run_cli("export", str(weights), *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_damaged_weights_are_one_line(tmp_path: Path, run_cli) -> None:
    weights = generator_file(tmp_path / "generator.safetensors", "mlp")
    weights.write_bytes(weights.read_bytes()[:200])
    result = run_cli("export", str(weights), "--format", "torchscript", "--out", "g.pt")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "generator.safetensors" in result.stderr
    assert not (tmp_path / "g.pt").exists()
