"""Configs: layering, validation messages, file formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganzoo.cli import build_parser
from ganzoo.cli.train import flag_layer
from ganzoo.config import TrainConfig, load_config_file, merge_layers, parse_set_items
from ganzoo.errors import ConfigError
from ganzoo.training.plan import make_plan


def test_layers_apply_variant_defaults_then_file_then_flags(registry, tmp_path):
    config_file = tmp_path / "run.toml"
    config_file.write_text('variant = "mlp"\n[run]\nepochs = 7\nbatch_size = 16\n[model]\nlatent_dim = 32\n')
    resolved = make_plan([load_config_file(config_file), parse_set_items(["run.batch_size=8"])], registry)
    assert resolved.config.run.epochs == 7 and resolved.config.run.batch_size == 8
    assert resolved.variant.options.latent_dim == 32
    assert resolved.config.optimizer.betas == (0.5, 0.999)
    assert resolved.to_dict()["loss"] == {"name": "non-saturating", "options": {"real_label": 1.0}}


def test_yaml_and_json_files_load(tmp_path):
    (tmp_path / "a.yaml").write_text("variant: mlp\nrun:\n  epochs: 2\n")
    (tmp_path / "a.json").write_text(json.dumps({"variant": "mlp", "run": {"epochs": 3}}))
    assert load_config_file(tmp_path / "a.yaml")["run"]["epochs"] == 2
    assert load_config_file(tmp_path / "a.json")["run"]["epochs"] == 3


@pytest.mark.parametrize(("layer", "message"), [
    ({"run": {"batch_size": 0}}, r"run\.batch_size: Input should be greater than 0 \(got 0\)"),
    ({"optimizer": {"lr": -1}}, r"optimizer\.lr: Input should be greater than 0"),
    ({"run": {"epochz": 3}}, r"run\.epochz: unknown setting; did you mean 'epochs'\?"),
    ({"model": {"latent_dim": "big"}}, r"model\.latent_dim: Input should be a valid integer"),
    ({"loss": {"name": "non-saturating", "options": {"real_label": 0.2}}}, r"loss\.options\.real_label"),
    ({"run": {"device": "tpu"}}, r"run\.device: must be auto, cpu, mps, cuda or cuda:N"),
    ({"run": {"device": "cpu", "precision": "fp16"}}, r"fp16 needs CUDA"),
    ({"loss": {"name": "non-saturated"}}, r"unknown loss 'non-saturated'; did you mean 'non-saturating'\?"),
])
def test_bad_values_give_one_readable_line(registry, layer, message):
    with pytest.raises(ConfigError, match=message) as caught:
        make_plan([{"variant": "mlp"}, layer], registry)
    assert "\n" not in str(caught.value)


def test_changing_a_components_name_drops_the_old_components_options():
    merged = merge_layers({"loss": {"name": "a", "options": {"x": 1}}}, {"loss": {"name": "b"}})
    assert merged["loss"] == {"name": "b"}
    merged = merge_layers({"loss": {"name": "a", "options": {"x": 1}}}, {"loss": {"options": {"y": 2}}})
    assert merged["loss"] == {"name": "a", "options": {"x": 1, "y": 2}}


def test_set_items_parse_typed_values():
    assert parse_set_items(["run.epochs=3", "optimizer.betas=[0.0, 0.9]", "run.channels_last=true"]) == {
        "run": {"epochs": 3, "channels_last": True}, "optimizer": {"betas": [0.0, 0.9]}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_set_items(["epochs"])


@pytest.mark.parametrize(("raw", "value"), [
    ("no", "no"), ("off", "off"), ("yes", "yes"),  # YAML 1.1 booleans: strings in YAML 1.2
    ("1:20", "1:20"), ("1_000", "1_000"),  # YAML 1.1 read 80 (sexagesimal) and 1000
    ("true", True), ("False", False), ("3", 3), ("010", 10), ("-2", -2), ("0.5", 0.5), ("1e-4", 1e-4),
    ("[1,2]", [1, 2]), ("[{name: x}]", [{"name": "x"}]), ("null", None), ("~", None), ("", None),
    ("runs/mlp", "runs/mlp"), ("[1,", "[1,"),  # not YAML: the string as typed
])
def test_set_values_follow_yaml_1_2(raw, value):
    assert parse_set_items([f"run.x={raw}"]) == {"run": {"x": value}}


def test_flag_values_are_not_reparsed_as_yaml(registry):
    layer = flag_layer(build_parser().parse_args(["train", "mlp", "--out", "no", "--dataset", "off", "--lr", "0.5"]))
    assert layer == {"variant": "mlp", "data": {"name": "off"}, "optimizer": {"lr": 0.5},
                     "run": {"out_dir": Path("no")}}
    args = build_parser().parse_args(["train", "mlp", "--out", "1:20", "--set", "data.root=off"])
    config = make_plan([flag_layer(args)], registry).config
    assert config.run.out_dir == Path("1:20") and config.data.root == Path("off")


def test_missing_variant_and_bad_file_are_clear(registry, tmp_path):
    with pytest.raises(ConfigError, match="no variant given"):
        make_plan([{}], registry)
    broken = tmp_path / "bad.toml"
    broken.write_text("variant = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config_file(broken)
    assert TrainConfig(variant="mlp").run.batch_size == 64
