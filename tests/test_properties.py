"""Property-based tests (hypothesis): whatever a user or a stranger's file throws at the config
models and the weights loader, the answer is a valid object or one ``GanzooError`` line, never
another exception, never a pickle run."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganzoo.core.registry import get_registry
from ganzoo.errors import GanzooError
from ganzoo.generators.weights import load_generator, save_generator
from ganzoo.training.plan import make_plan

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values of every JSON/TOML type a config file or --set can produce, including the awkward ones.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=4), max_leaves=8)
SECTIONS = {
    "data": ["name", "image_size", "limit", "channels", "split", "root", "download", "typo"],
    "optimizer": ["name", "lr", "d_lr", "betas", "weight_decay", "momentum", "implementation"],
    "run": ["epochs", "batch_size", "seed", "device", "precision", "max_steps", "compile", "log_every_steps"],
    "model": ["latent_dim", "generator_widths", "discriminator_widths", "dropout", "batch_norm"],
    "loss": ["name", "options"],
    "strategy": ["name", "options"],
}


@st.composite
def config_layers(draw: st.DrawFn) -> dict[str, Any]:
    layer: dict[str, Any] = {"variant": draw(st.sampled_from(["mlp", "dcgan", "wgan-gp", "cgan-mlp", "nope", ""]))}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=3, unique=True)):
        keys = draw(st.lists(st.sampled_from(SECTIONS[section]), min_size=1, max_size=3, unique=True))
        layer[section] = {key: draw(values) for key in keys}
    if draw(st.booleans()):
        layer[draw(st.text(max_size=6))] = draw(values)
    return layer


@SETTINGS
@given(layer=config_layers())
def test_any_config_is_valid_or_one_config_error(layer: dict[str, Any]) -> None:
    try:
        resolved = make_plan([layer], get_registry())
    except GanzooError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    # What validates round-trips: its own dump validates to the same config.
    dumped = resolved.config.model_dump(mode="json")
    assert make_plan([dumped], get_registry()).config == resolved.config


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=4, generator_widths=[8], discriminator_widths=[8])
    generator = variant.spec.build_generator(options, (1, 8, 8), None)
    path = tmp_path_factory.mktemp("weights") / "valid.safetensors"
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(mode="json"), plugin=variant.plugin)
    return path


def _load_or_refuse(path: Path) -> None:
    try:
        generator = load_generator(path, device="cpu")
    except GanzooError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert torch.isfinite(generator.sample(2, seed=0)).all()


@SETTINGS
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_refused_cleanly(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "random.safetensors"
    path.write_bytes(data)
    with pytest.raises(GanzooError):
        load_generator(path, device="cpu")


dtypes = st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "X9", ""])
entries = st.fixed_dictionaries({
    "dtype": dtypes,
    "shape": st.lists(st.integers(-2, 2**40), max_size=4),
    "data_offsets": st.lists(st.integers(-2, 2**40), min_size=0, max_size=3),
})


@SETTINGS
@given(tensors=st.dictionaries(st.text(max_size=10), entries, max_size=4),
       metadata=st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4),
       payload=st.binary(max_size=256), use_real_metadata=st.booleans())
def test_random_headers_are_refused_cleanly(tensors: dict[str, Any], metadata: dict[str, str], payload: bytes,
                                            use_real_metadata: bool, valid_file: Path, tmp_path: Path) -> None:
    if use_real_metadata:  # a ganzoo header, so the loader gets past the metadata into the tensors
        with open(valid_file, "rb") as handle:
            length = struct.unpack("<Q", handle.read(8))[0]
            metadata = json.loads(handle.read(length))["__metadata__"]
    header = json.dumps({"__metadata__": metadata, **tensors}).encode()
    path = tmp_path / "header.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + payload)
    _load_or_refuse(path)


@SETTINGS
@given(position=st.integers(0, 10**6), byte=st.integers(0, 255), cut=st.integers(0, 10**6))
def test_a_flipped_byte_or_a_cut_file_loads_or_is_refused_cleanly(position: int, byte: int, cut: int,
                                                                   valid_file: Path, tmp_path: Path) -> None:
    data = bytearray(valid_file.read_bytes())
    data[position % len(data)] = byte
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(bytes(data[: len(data) - cut % 64]))
    _load_or_refuse(path)
