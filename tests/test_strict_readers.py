"""Strict readers: every structured file ganzoo reads is parsed within bounds (``ganzoo.io.structured``),
and configs refuse keys given twice and values of the wrong kind.

Through the real ``python -m ganzoo`` wherever a command reads the input: exit code 2, exactly one
``error:`` line naming the input and the problem, no traceback, no ``internal error``. The readers
with no command of their own (the baseline cache, the server's run summary) are held to the same
bounds directly: damage there is quiet by contract, so it must give the cache-miss or the empty
fact, never an exception.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ganzoo.config import load_config_file, parse_set_items
from ganzoo.core.registry import get_registry
from ganzoo.errors import ConfigError, GanzooError, WeightsError
from ganzoo.generators.weights import save_generator
from ganzoo.io.safe_state import StateSkeletonError, flatten_state, unflatten_state
from ganzoo.io.structured import MAX_DEPTH, check_structure, load_json, load_toml, load_yaml
from ganzoo.metrics.backbones import Embedding
from ganzoo.metrics.reference import Reference
from ganzoo.serve.runinfo import summarize_run
from ganzoo.training.plan import make_plan

DEEP = 10_000
RunCli = Callable[..., subprocess.CompletedProcess[str]]
TRAIN = ["--device", "cpu", "--max-steps", "1", "--quiet", "--out", "run"]


def refused_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The one ``error:`` line of a command that exited 2, holding each of ``expected``."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output[-2000:]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (result.returncode, lines)
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _laughs(indent: str = "") -> str:
    """A billion laughs: nine levels of nine aliases each, 9**9 values once expanded."""
    lines = [f"{indent}a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{indent}{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _alias_chain(length: int) -> str:
    """Anchors each holding the one before it: shallow as written, ``length`` deep once expanded."""
    return "variant: mlp\nmodel:\n  x0: &x0 [1]\n" + "".join(f"  x{i}: &x{i} [*x{i - 1}]\n" for i in range(1, length))


CONFIG_CASES = [
    # keys and tables given twice: every format, nested too, with the line where the parser gives it
    ("yaml-duplicate-nested-key", "c.yaml",
     "variant: mlp\nloss:\n  name: non-saturating\n  options:\n    real_label: 0.9\n    real_label: 1.0\n",
     "config file 'c.yaml' line 6: 'real_label' is set twice in one table (first on line 5); fix the file"),
    ("yaml-duplicate-section", "c.yaml", "variant: mlp\nrun:\n  epochs: 1\nrun:\n  epochs: 2\n",
     "config file 'c.yaml' line 4: 'run' is set twice in one table (first on line 2)"),
    ("json-duplicate-key", "c.json", '{"variant": "mlp", "run": {"epochs": 1, "epochs": 2}}',
     "config file 'c.json': the key 'epochs' is set twice in one object; fix the file"),
    ("json-duplicate-section", "c.json", '{"variant": "mlp", "run": {"epochs": 1}, "run": {"seed": 2}}',
     "config file 'c.json': the key 'run' is set twice in one object"),
    ("toml-duplicate-key", "c.toml", 'variant = "mlp"\n[run]\nepochs = 1\nepochs = 2\n',
     "config file 'c.toml' line 4: 'epochs' is set twice"),
    ("toml-duplicate-table", "c.toml", 'variant = "mlp"\n[run]\nepochs = 1\n[run]\nseed = 2\n',
     "config file 'c.toml' line 4: 'run' is set twice"),
    ("toml-duplicate-inline-key", "c.toml",
     'variant = "mlp"\n[loss]\nname = "non-saturating"\noptions = { real_label = 0.9, real_label = 1.0 }\n',
     "config file 'c.toml' line 4: 'real_label' is set twice"),
    # booleans never for numbers, numbers never for booleans or strings, strings never for booleans
    ("toml-epochs-true", "c.toml", 'variant = "mlp"\n[run]\nepochs = true\n',
     "run.epochs: must be a number, not true or false (got True)"),
    ("yaml-epochs-yes", "c.yaml", "variant: mlp\nrun:\n  epochs: yes\n",
     "run.epochs: Input should be a valid integer, unable to parse string as an integer (got 'yes')"),
    ("yaml-stream-no", "c.yaml", "variant: mlp\ndata:\n  stream: no\n",
     "data.stream: must be true, false or 'auto', not another string (got 'no')"),
    ("toml-channels-last-string", "c.toml", 'variant = "mlp"\n[run]\nchannels_last = "no"\n',
     "run.channels_last: must be true or false, not a string (got 'no')"),
    ("yaml-channels-true", "c.yaml", "variant: mlp\ndata:\n  channels: true\n",
     "data.channels: must be a number, not true or false (got True)"),
    ("json-sync-batchnorm-1", "c.json", '{"variant": "mlp", "run": {"sync_batchnorm": 1}}',
     "run.sync_batchnorm: must be true or false, not a number (got 1)"),
    ("yaml-name-number", "c.yaml", "variant: mlp\ndata:\n  name: 7\n",
     "data.name: must be a string, not a number (put it in quotes) (got 7)"),
    ("yaml-betas-bool-item", "c.yaml", "variant: mlp\noptimizer:\n  betas: [true, 0.9]\n",
     "optimizer.betas: item 0: must be a number, not true or false"),
    ("plugin-option-bool-for-float", "c.yaml", "variant: mlp\nmodel:\n  dropout: true\n",
     "model.dropout: must be a number, not true or false (got True)"),
    # YAML aliases: bounded expansion, no cycles, depth counted as expanded
    ("yaml-alias-bomb", "c.yaml", "variant: mlp\nloss:\n  name: non-saturating\n  options:\n" + _laughs("    "),
     "its aliases expand to more than 100,000 values (a \"billion laughs\")"),
    ("yaml-recursive-alias", "c.yaml", "variant: mlp\nmodel: &m\n  x: *m\n",
     "config file 'c.yaml' line 3: the alias *m refers to the collection it is in"),
    ("yaml-alias-chain", "c.yaml", _alias_chain(100),
     f"lists and tables nest more than {MAX_DEPTH} deep (once its aliases are expanded)"),
    # nesting ten thousand deep, in each format and each way of nesting it
    ("json-10000-deep", "c.json", '{"variant": "mlp", "model": {"x": ' + "[" * DEEP + "]" * DEEP + "}}",
     f"config file 'c.json': lists and tables nest more than {MAX_DEPTH} deep; fix the file"),
    ("yaml-10000-deep-flow", "c.yaml", "variant: mlp\nmodel:\n  x: " + "[" * DEEP + "]" * DEEP + "\n",
     f"config file 'c.yaml' line 3: lists and tables nest more than {MAX_DEPTH} deep"),
    ("yaml-2000-deep-block", "c.yaml",
     "variant: mlp\nmodel:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(2000)) + "  " * 2001 + "v: 1\n",
     f"lists and tables nest more than {MAX_DEPTH} deep"),
    ("toml-10000-deep-array", "c.toml", 'variant = "mlp"\n[model]\nx = ' + "[" * DEEP + "]" * DEEP + "\n",
     f"config file 'c.toml': lists and tables nest more than {MAX_DEPTH} deep"),
    ("toml-10000-deep-dotted-key", "c.toml", 'variant = "mlp"\n[model]\n' + ".".join(["k"] * DEEP) + " = 1\n",
     f"lists and tables nest more than {MAX_DEPTH} deep"),
    ("toml-10000-deep-table", "c.toml", 'variant = "mlp"\n[' + ".".join(["model"] + ["k"] * DEEP) + "]\nv = 1\n",
     f"lists and tables nest more than {MAX_DEPTH} deep"),
    # numbers out of range
    ("json-1e400", "c.json", '{"variant": "mlp", "run": {"max_seconds": 1e400}}',
     "config file 'c.json': the number 1e400 is out of range"),
    ("toml-1e400", "c.toml", 'variant = "mlp"\n[run]\nmax_seconds = 1e400\n', "the number 1e400 is out of range"),
    ("yaml-1e400", "c.yaml", "variant: mlp\nrun:\n  max_seconds: 1e400\n",
     "config file 'c.yaml' line 3: the number 1e400 is out of range"),
    ("json-5000-digits", "c.json", '{"variant": "mlp", "run": {"epochs": 1' + "0" * 5000 + "}}",
     "the integer 100000000000... (5001 characters) is out of range"),
    ("yaml-5000-digits", "c.yaml", "variant: mlp\nrun:\n  epochs: 1" + "0" * 5000 + "\n", "is out of range"),
    ("toml-5000-digits", "c.toml", 'variant = "mlp"\n[run]\nepochs = 1' + "0" * 5000 + "\n", "out of range"),
    ("toml-2-to-the-64", "c.toml", f'variant = "mlp"\n[run]\nseed = {2**64}\n',
     f"the integer {2**64} is out of range (integers here stay below 2**64)"),
    # YAML 1.2 core schema: no tags beyond it, keys are strings
    ("yaml-timestamp-tag", "c.yaml", "variant: mlp\nrun:\n  seed: !!timestamp 2020-01-01\n",
     "is not valid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:timestamp' (line 3"),
    ("yaml-python-tag", "c.yaml", "variant: !!python/object/apply:os.system [echo hi]\n",
     "could not determine a constructor for the tag"),
    ("yaml-non-string-key", "c.yaml", "variant: mlp\nmodel:\n  3: x\n",
     "config file 'c.yaml' line 3: the key 3 is not a string; put it in quotes"),
]


@pytest.mark.parametrize(("name", "text", "expected"), [case[1:] for case in CONFIG_CASES],
                         ids=[case[0] for case in CONFIG_CASES])
def test_a_config_file_is_refused_in_one_line(run_cli: RunCli, tmp_path: Path, name: str, text: str,
                                              expected: str) -> None:
    (tmp_path / name).write_text(text)
    refused_line(run_cli("train", "--config", name, *TRAIN), expected)
    assert not (tmp_path / "run").exists()


SET_CASES = [
    ("epochs-true", "run.epochs=true", "run.epochs: must be a number, not true or false (got True)"),
    ("sync-batchnorm-no", "run.sync_batchnorm=no",
     "run.sync_batchnorm: must be true or false, not a string (got 'no')"),
    ("sync-batchnorm-1", "run.sync_batchnorm=1", "run.sync_batchnorm: must be true or false, not a number (got 1)"),
    ("name-number", "data.name=7", "data.name: must be a string, not a number (put it in quotes) (got 7)"),
    ("1e400", "run.max_seconds=1e400", "--set run.max_seconds: the number 1e400 is out of range"),
    ("3000-deep", "model.x=" + "[" * 3000 + "]" * 3000,
     f"--set model.x: lists and tables nest more than {MAX_DEPTH} deep; fix the value"),
    ("duplicate-key", "loss.options={real_label: 0.9, real_label: 1.0}", "'real_label' is set twice in one table"),
    ("recursive-alias", "model.x=&a [*a]", "the alias *a refers to the collection it is in"),
]


@pytest.mark.parametrize(("item", "expected"), [case[1:] for case in SET_CASES], ids=[case[0] for case in SET_CASES])
def test_a_set_item_is_refused_in_one_line(run_cli: RunCli, tmp_path: Path, item: str, expected: str) -> None:
    refused_line(run_cli("train", "mlp", "--set", item, *TRAIN), expected)
    assert not (tmp_path / "run").exists()


def test_yaml_files_read_yaml_1_2_and_flags_keep_their_types(registry, tmp_path: Path) -> None:
    """``no``/``off``/``yes`` are strings in a file as on ``--set``; a string setting takes them as typed."""
    config = tmp_path / "c.yaml"
    config.write_text("variant: mlp\nrun:\n  out_dir: no\n  seed: 010\ndata:\n  name: off\nmodel: &m {}\n")
    layer = load_config_file(config)
    assert layer["run"] == {"out_dir": "no", "seed": 10} and layer["data"] == {"name": "off"}
    plan = make_plan([layer, parse_set_items(["data.name=mnist-embedded", "data.stream=true", "run.epochs=3"])],
                     registry)
    assert plan.config.run.out_dir == Path("no") and plan.config.run.seed == 10 and plan.config.data.stream is True
    assert plan.config.run.epochs == 3


def test_small_aliases_and_explicit_infinities_still_read() -> None:
    """The bounds refuse bombs, not YAML: a few aliases and ``.inf`` (refused later by the setting that
    takes it, by name) read as they always did."""
    assert load_yaml("a: &a [1, 2]\nb: [*a, *a]\nc: .inf\nd: 0x1F\ne: 1_000\nf: 1:20\n", "x") == {
        "a": [1, 2], "b": [[1, 2], [1, 2]], "c": math.inf, "d": 31, "e": "1_000", "f": "1:20"}
    assert load_toml("a = inf\nb = -9223372036854775808\n", "x") == {"a": math.inf, "b": -2**63}
    assert load_json('{"a": [1, 2.5, null, true]}', "x") == {"a": [1, 2.5, None, True]}
    assert math.isnan(load_json("NaN", "x", allow_nan=True))
    with pytest.raises(GanzooError, match="'x': it holds NaN, which is not a number here"):
        load_json("[NaN]", "'x'")


@pytest.mark.parametrize("reader", [load_json, load_yaml, load_toml], ids=["json", "yaml", "toml"])
def test_every_reader_bounds_size_and_depth(reader: Callable[..., object]) -> None:
    text = "a = [[[1]]]" if reader is load_toml else '{"a": [[[1]]]}'
    assert reader(text, "x", max_depth=4) == {"a": [[[1]]]}
    with pytest.raises(ConfigError, match=r"^input 'x': lists and tables nest more than 3 deep; fix it$"):
        reader(text, "input 'x'", error=ConfigError, fix="fix it", max_depth=3)
    with pytest.raises(ConfigError, match=rf"^input 'x' is {len(text)} bytes, more than the 10 bytes it can sensibly"):
        reader(text, "input 'x'", error=ConfigError, max_bytes=10)


def test_the_structure_check_walks_without_recursion() -> None:
    deep: list[object] = []
    for _ in range(DEEP):
        deep = [deep]
    with pytest.raises(GanzooError, match=f"nest more than {MAX_DEPTH} deep"):
        check_structure(deep, "x")
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(GanzooError, match="nest more than"):
        check_structure(cyclic, "x")
    with pytest.raises(GanzooError, match="out of range"):
        check_structure({"a": [10**4000]}, "x")
    check_structure({"a": [True, 2**64 - 1, -(2**64) + 1, "x" * 100]}, "x")


# -- weights and checkpoints: safetensors headers, their metadata, state skeletons -------------------


def _generator_file(path: Path) -> Path:
    spec = get_registry().get("variant", "mlp")
    options = spec.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = spec.spec.build_generator(options, (1, 8, 8), None)
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(mode="json"), plugin=spec.plugin)
    return path


def _with_header(path: Path, edit: Callable[[str, dict], str]) -> None:
    """Rewrite the JSON header of ``path`` as ``edit(header_text, header)`` returns it (data kept)."""
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header_text = raw[8:8 + length].decode()
    new = edit(header_text, json.loads(header_text)).encode()
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + length:])


def _deep_metadata(text: str, header: dict) -> str:
    return text.rstrip()[:-1] + ', "deep": ' + "[" * DEEP + "]" * DEEP + "}"  # safetensors pads with spaces


def _first_tensor(header: dict) -> str:
    return next(name for name in header if name != "__metadata__")


HEADER_CASES = [
    ("10000-deep-entry", _deep_metadata, f"the header of weights file 'w.safetensors': lists and tables nest more "
                                         f"than {MAX_DEPTH} deep; it is corrupt or not a safetensors file; "
                                         "re-create or re-download it"),
    ("10000-deep-metadata", lambda text, header: json.dumps(header)[:-1].replace(
        '"__metadata__": {', '"__metadata__": {"deep": ' + "{\"a\": " * DEEP + "1" + "}" * DEEP + ", ") + "}",
     f"lists and tables nest more than {MAX_DEPTH} deep"),
    ("duplicate-tensor", lambda text, header: text.rstrip()[:-1] + f", {json.dumps(_first_tensor(header))}: "
                                              f"{json.dumps(header[_first_tensor(header)])}}}",
     "is set twice in one object; it is corrupt or not a safetensors file"),
    ("offset-1e400", lambda text, header: text.replace('"data_offsets":[0,', '"data_offsets":[1e400,', 1),
     "the number 1e400 is out of range"),
    ("offset-5000-digits", lambda text, header: text.replace('"data_offsets":[0,', '"data_offsets":[1' + "0" * 5000
                                                             + ",", 1), "is out of range"),
    ("offset-nan", lambda text, header: text.replace('"data_offsets":[0,', '"data_offsets":[NaN,', 1),
     "it holds NaN, which is not a number here"),
]


@pytest.mark.parametrize(("edit", "expected"), [case[1:] for case in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_a_hostile_safetensors_header_is_refused_in_one_line(run_cli: RunCli, tmp_path: Path, edit, expected) -> None:
    weights = _generator_file(tmp_path / "w.safetensors")
    _with_header(weights, edit)
    refused_line(run_cli("sample", "w.safetensors", "--out", "s.png", "--device", "cpu"), expected)
    assert not (tmp_path / "s.png").exists()


def test_a_10000_deep_metadata_value_is_refused_in_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    weights = _generator_file(tmp_path / "w.safetensors")
    _with_header(weights, lambda text, header: json.dumps(
        {**header, "__metadata__": {**header["__metadata__"], "model_config": "[" * DEEP + "]" * DEEP}}))
    refused_line(run_cli("sample", "w.safetensors", "--out", "s.png", "--device", "cpu"), "w.safetensors")


def test_a_state_skeleton_is_read_within_bounds() -> None:
    state = {"step": 3, "best": math.inf, "loss": math.nan, "pairs": {1: (torch.ones(2), None)}}
    tensors, skeleton = flatten_state(state)
    back = unflatten_state(tensors, skeleton)
    assert back["step"] == 3 and back["best"] == math.inf and math.isnan(back["loss"])
    assert torch.equal(back["pairs"][1][0], torch.ones(2))
    with pytest.raises(StateSkeletonError, match=f"^lists and tables nest more than {MAX_DEPTH} deep$") as caught:
        unflatten_state({}, "[" * DEEP + "]" * DEEP)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, WeightsError)  # callers name the file
    with pytest.raises(StateSkeletonError, match="the key 'a' is set twice"):
        unflatten_state({}, '{"a": 1, "a": 2}')


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished run (two tiny steps), copied into each test that needs one."""
    from ganzoo.training.loop import train

    directory = tmp_path_factory.mktemp("strict-readers") / "run"
    flags = {"variant": "mlp", "data": {"limit": 64, "image_size": 16},
             "run": {"out_dir": str(directory), "epochs": 1, "batch_size": 32, "device": "cpu"}}
    train(make_plan([flags], get_registry()))
    return directory


def _copy_run(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "run"))


def test_resuming_a_checkpoint_with_a_10000_deep_state_is_refused(run_cli: RunCli, tmp_path: Path,
                                                                    template_run: Path) -> None:
    run = _copy_run(template_run, tmp_path)
    checkpoint = run / "checkpoints" / "last.safetensors"
    _with_header(checkpoint, lambda text, header: json.dumps(
        {**header, "__metadata__": {**header["__metadata__"], "state": "[" * DEEP + "]" * DEEP}}))
    refused_line(run_cli("train", "mlp", "--out", "run", "--resume", "--epochs", "2", "--quiet"),
                 "checkpoint ", "last.safetensors' is corrupt (StateSkeletonError: lists and tables nest more than "
                 f"{MAX_DEPTH} deep); resume from an earlier copy or start again with --overwrite")


def test_resuming_a_checkpoint_with_a_10000_deep_config_is_refused(run_cli: RunCli, tmp_path: Path,
                                                                    template_run: Path) -> None:
    run = _copy_run(template_run, tmp_path)
    _with_header(run / "checkpoints" / "last.safetensors", lambda text, header: json.dumps(
        {**header, "__metadata__": {**header["__metadata__"], "config": "[" * DEEP + "]" * DEEP}}))
    refused_line(run_cli("train", "mlp", "--out", "run", "--resume", "--epochs", "2", "--quiet"), "last.safetensors")


def test_resuming_beside_a_10000_deep_config_json_falls_back_to_the_checkpoint(run_cli: RunCli, tmp_path: Path,
                                                                                 template_run: Path) -> None:
    run = _copy_run(template_run, tmp_path)
    (run / "config.json").write_text('{"variant": "mlp", "model": ' + "[" * DEEP + "]" * DEEP + "}")
    result = run_cli("train", "mlp", "--out", "run", "--resume", "--epochs", "2", "--quiet")
    assert result.returncode == 0 and "internal error" not in result.stderr, result.stderr


@pytest.mark.parametrize(("config", "expected"), [
    ('{"data": ' + "[" * DEEP + "]" * DEEP + "}", f"(lists and tables nest more than {MAX_DEPTH} deep)"),
    ('{"data": {"name": "mnist"}, "data": {"name": "mnist-embedded"}}', "(the key 'data' is set twice in one object)"),
    ('{"data": {"limit": 1' + "0" * 5000 + "}}", "is out of range"),
], ids=["10000-deep", "duplicate-section", "5000-digits"])
def test_eval_beside_a_hostile_config_json_is_refused(run_cli: RunCli, tmp_path: Path, template_run: Path,
                                                      config: str, expected: str) -> None:
    run = _copy_run(template_run, tmp_path)
    (run / "config.json").write_text(config)
    refused_line(run_cli("eval", "run/generator.safetensors", "--num", "16", "--device", "cpu"),
                 "the run's config 'run/config.json' is damaged ", expected, "pass --dataset")


# -- readers that are quiet by contract: the baseline cache, the server's run summary ---------------


@pytest.mark.parametrize("damaged", [
    '{"seed0": {"groups": [["fid"]], "values": {"fid": [1.0, null]}}}',  # an unhashable group
    '{"seed0": {"groups": ["fid"], "values": {"fid": [1' + "0" * 400 + ", null]}}}",  # int beyond any float
    '{"seed0": {"groups": ["fid"], "values": {"fid": [1' + "0" * 5000 + ", null]}}}",  # beyond int()'s limit
    '{"seed0": {"groups": ["fid"], "values": {"fid": [1e400, null]}}}',
    '{"seed0": {"groups": ["fid"], "values": {"fid": [1.0, null]}}, "seed0": {}}',
    '{"seed0": ' + "[" * DEEP + "]" * DEEP + "}",
], ids=["unhashable-group", "huge-int", "5000-digits", "1e400", "duplicate-key", "10000-deep"])
def test_a_damaged_baseline_cache_is_a_miss_not_a_crash(tmp_path: Path, damaged: str) -> None:
    reference = Reference("key", Embedding(torch.zeros(2, 3), None), None, tmp_path / "ref.safetensors", "hit")
    reference.baseline_path.write_text(damaged)
    assert reference.read_baseline() == {}
    values = {"seed0": {"groups": ["fid"], "values": {"fid": [1.5, None]}}}
    reference.write_baseline(values)
    assert reference.read_baseline() == values
    reference.baseline_path.write_text(reference.baseline_path.read_text().replace("1.5", "999.0"))
    assert reference.read_baseline() == {}  # a value edited on disk no longer matches the content digest


def test_the_run_summary_survives_hostile_run_files(tmp_path: Path) -> None:
    weights = tmp_path / "generator.safetensors"
    weights.write_bytes(b"")
    (tmp_path / "config.json").write_text('{"loss": ' + "[" * DEEP + "]" * DEEP + "}")
    rows = ['{"kind": "step", "step": 1, "elapsed_s": 2.0, "d_loss": 0.5}',
            '{"kind": "step", "x": ' + "[" * DEEP + "]" * DEEP + "}",
            '{"kind": "eval", "fid": 1' + "0" * 5000 + "}",
            '{"kind": "eval", "fid": 3.0, "kid": 1' + "0" * 400 + "}"]
    (tmp_path / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    summary = summarize_run(weights)
    assert summary is not None and summary.loss is None and summary.step == 1
    assert summary.last_metrics == {"d_loss": 0.5}  # every hostile row dropped, whole
