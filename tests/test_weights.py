"""Generator weights: self-describing safetensors that rebuild the model on their own."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from ganzoo import load_generator
from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import load_embedded_mnist
from ganzoo.errors import PluginError, WeightsError
from ganzoo.generators.weights import GeneratorMetadata, read_generator_metadata, save_generator
from ganzoo.io.safe_state import read_safetensors_metadata
from ganzoo.testing import resigned
from ganzoo.training.build import build_models
from ganzoo.training.plan import Choice


@pytest.fixture
def weights_file(tmp_path, registry):
    variant = registry.get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=16, generator_widths=[32, 64])
    dataset = load_embedded_mnist(DataConfig(image_size=16, limit=64))
    torch.manual_seed(0)
    generator, _ = build_models(Choice(variant, options), dataset)
    path = tmp_path / "generator.safetensors"
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(), plugin=variant.plugin)
    return path


def test_metadata_says_how_to_rebuild(weights_file):
    metadata = read_generator_metadata(weights_file)
    assert metadata.variant == "mlp" and metadata.plugin == "ganzoo-mlp"
    assert metadata.image_shape == (1, 16, 16) and metadata.latent_dim == 16 and metadata.num_classes is None
    assert metadata.model_config_["generator_widths"] == [32, 64]


def test_the_header_is_written_and_read_by_one_schema(weights_file):
    """Every header string comes from ``GeneratorMetadata``: text as it is, the rest as JSON."""
    header = read_safetensors_metadata(weights_file, "weights file")
    metadata = GeneratorMetadata.from_header(header)
    assert metadata.to_header() == header
    assert header["variant"] == "mlp" and header["image_shape"] == "[1, 16, 16]" and header["num_classes"] == "null"


def test_metadata_that_would_not_load_back_is_refused_before_writing(tmp_path, registry):
    variant = registry.get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=16, generator_widths=[32])
    generator = variant.spec.build_generator(options, (1, 8, 8), None)
    path = tmp_path / "generator.safetensors"
    with pytest.raises(PluginError, match=r"cannot be saved: .*\(2 class names for num_classes None\)"):
        save_generator(generator, path, variant="mlp", model_config=options.model_dump(), plugin=variant.plugin,
                       class_names=["a", "b"])
    assert not path.exists()


def test_round_trip_in_a_fresh_process_gives_identical_samples(weights_file, tmp_path):
    here = load_generator(weights_file, device="cpu").sample(8, seed=3)
    assert here.shape == (8, 1, 16, 16) and here.min() >= -1 and here.max() <= 1
    script = ("import sys, torch, ganzoo; g = ganzoo.load_generator(sys.argv[1], device='cpu'); "
              "torch.save(g.sample(8, seed=3), sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(weights_file), str(tmp_path / "there.pt")], check=True)
    there = torch.load(tmp_path / "there.pt")
    assert torch.equal(here, there)
    assert not torch.equal(here, load_generator(weights_file, device="cpu").sample(8, seed=4))


def test_a_pickle_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(1)}, path)
    with pytest.raises(WeightsError, match="pickle/PyTorch .pt file; ganzoo only loads safetensors"):
        load_generator(path)


def test_a_safetensors_header_length_that_starts_like_a_pickle_still_loads(weights_file, tmp_path):
    """A header length of 0x80 mod 256 puts pickle's magic byte first; the JSON after it decides."""
    from safetensors import safe_open

    with safe_open(str(weights_file), "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = handle.metadata()
    for padding in range(256):
        path = tmp_path / "padded.safetensors"
        save_file(tensors, path, metadata={**metadata, "padding": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length of 0x80 mod 256")
    assert torch.equal(load_generator(path, device="cpu").sample(2, seed=0),
                       load_generator(weights_file, device="cpu").sample(2, seed=0))


def test_weights_that_do_not_fit_are_refused(weights_file, tmp_path):
    from safetensors import safe_open

    with safe_open(str(weights_file), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = handle.metadata()
    first = next(iter(tensors))
    wrong_shape = {**tensors, first: torch.zeros(3)}
    save_file(wrong_shape, tmp_path / "shape.safetensors", metadata=metadata)
    with pytest.raises(WeightsError, match=f"tensor '{first}' has shape \\(3,\\)"):
        load_generator(tmp_path / "shape.safetensors")
    save_file({**tensors, first: tensors[first] * float("nan")}, tmp_path / "nan.safetensors", metadata=metadata)
    with pytest.raises(WeightsError, match="NaN or Inf"):
        load_generator(tmp_path / "nan.safetensors")


def test_a_variant_that_is_not_installed_names_the_plugin(weights_file, tmp_path):
    from safetensors import safe_open

    with safe_open(str(weights_file), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = {**handle.metadata(), "variant": "stylegan9", "plugin": "ganzoo-stylegan9"}
    save_file(tensors, tmp_path / "other.safetensors", metadata=resigned(metadata))
    with pytest.raises(PluginError, match="`pip install ganzoo-stylegan9`"):
        load_generator(tmp_path / "other.safetensors")


def test_a_file_replaced_while_it_is_read_is_read_whole_from_one_version(tmp_path, monkeypatch):
    """A training run replaces its checkpoint and generator files (atomically) while other
    processes read them. A reader that opens the path twice, once for the header and once for the
    data, can pair one version's header with the next one's data; ganzoo reads one open file."""
    from ganzoo.io import safe_state

    path = tmp_path / "state.safetensors"
    safe_state.save_safetensors({"w": torch.arange(4.0)}, {"step": "1"}, path)
    checked_header = safe_state._checked_header

    def replaced_right_after(handle, *args):
        header = checked_header(handle, *args)
        safe_state.save_safetensors({"w": torch.arange(9.0)}, {"step": "2"}, path)  # the next checkpoint
        return header

    monkeypatch.setattr(safe_state, "_checked_header", replaced_right_after)
    tensors, metadata = safe_state.read_safetensors(path, "checkpoint")
    assert metadata == {"step": "1"} and torch.equal(tensors["w"], torch.arange(4.0))
