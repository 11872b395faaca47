"""The rule behind the hostile table, checked on command lines nobody listed: whatever a user
types and whatever is on disk, the CLI ends with exit 0, or exit 2 and one ``error:`` line. An
``internal error`` (exit 1) or a traceback is only ever a bug in ganzoo, and this test finds them.

hypothesis draws each command line from the flags of ``sample``, ``interpolate``, ``eval`` and
``train`` with good, odd and hostile values, against a scene of real and broken files (a valid
generator, a truncated one, a directory, a fifo, a text file, a finished run, a path under a file).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganzoo.cli import main

PATHS = ["valid.safetensors", "truncated.safetensors", "empty.safetensors", "folder", "fifo", "notes.txt",
         "run", "run/generator.safetensors", "missing.safetensors", "notes.txt/inside.safetensors", ""]
OUTS = ["out.png", "folder", "fifo", "notes.txt", "notes.txt/x.png", "new/deep/out.png", "out.jpg", "run", ""]
INTS = [-1, 0, 1, 2, 3, 7, 64, 100_001, 2**63, 10**30]
DEVICES = ["cpu", "auto", "tpu", "cuda:99"]
SETS = ["run.epochs=0", "model.generator_widths=[0]", "optimizer.weight_decay=inf", "loss.options.real_label=nan",
        "run.batch_size=1", "data.limit=1", "run=5", "model.latent_dim=-3", "data.channels=4", "run.seed=-1",
        "optimizer.lr=1e300", "run.log_every_steps=1", "data.image_size=7", "strategy.options.d_steps=0"]


def _number(flag: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from(INTS).map(lambda value: [flag, str(value)])


def _maybe(*options: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.one_of(*options), max_size=3).map(lambda parts: [token for part in parts for token in part])


def _pick(flag: str, values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.sampled_from(values).map(lambda value: [flag, value])


SAMPLE = st.tuples(st.sampled_from(PATHS), _maybe(_number("--num"), _number("--nrow"), _number("--seed"),
                   _number("--label"), _pick("--out", OUTS), _pick("--format", ["grid", "png"]),
                   _pick("--device", DEVICES), st.just(["--grid-by-class"]))).map(
    lambda parts: ["sample", parts[0], *parts[1]])
INTERPOLATE = st.tuples(st.sampled_from(PATHS), _maybe(_number("--steps"), _number("--pairs"), _number("--seed"),
                        _number("--label"), _pick("--out", OUTS), _pick("--mode", ["linear", "slerp"]),
                        _pick("--device", DEVICES))).map(
    lambda parts: ["interpolate", parts[0], *parts[1]])
EVAL = st.tuples(st.sampled_from(PATHS), _maybe(_number("--num"), _number("--num-real"), _pick("--out", OUTS),
                 _pick("--metrics", ["fid", "pr", "fid,nope", "", "accuracy"]),
                 _pick("--backbone", ["inception", "mnist-classifier", "x"]),
                 _pick("--dataset", ["image-folder", "mnist", "nope"]), _pick("--data-root", PATHS))).map(
    lambda parts: ["eval", parts[0], "--no-baseline", "--device", "cpu", *parts[1]])
TRAIN = st.tuples(st.sampled_from(["mlp", "dcgan", "cgan-mlp", "nope"]),
                  _maybe(_pick("--set", SETS), _pick("--out", OUTS), st.just(["--resume"]), st.just(["--overwrite"]),
                         _pick("--batch-size", ["1", "2", "0", "1000"]), _pick("--image-size", ["8", "16", "32"]),
                         _pick("--config", PATHS))).map(
    lambda parts: ["train", parts[0], "--limit", "64", "--image-size", "16", "--batch-size", "32",
                   "--max-steps", "2", "--device", "cpu", "--quiet", *parts[1]])


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.training.loop import train
    from ganzoo.training.plan import make_plan

    root = tmp_path_factory.mktemp("fuzz-scene")
    flags = {"variant": "mlp", "data": {"limit": 64, "image_size": 16},
             "run": {"out_dir": str(root / "run"), "epochs": 1, "batch_size": 32, "device": "cpu"}}
    train(make_plan([flags]))
    shutil.copy(root / "run" / "generator.safetensors", root / "valid.safetensors")
    data = (root / "valid.safetensors").read_bytes()
    (root / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (root / "empty.safetensors").write_bytes(b"")
    (root / "folder").mkdir()
    (root / "notes.txt").write_text("keep me\n")
    os.mkfifo(root / "fifo")
    return root


def run_in(directory: Path, argv: list[str]) -> tuple[int, str]:
    stderr = io.StringIO()
    previous = Path.cwd()
    os.chdir(directory)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse's usage errors (one line too)
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(previous)
    return code, stderr.getvalue()


@settings(max_examples=int(os.environ.get("GANZOO_FUZZ_EXAMPLES", "60")), deadline=None, derandomize="GANZOO_FUZZ_RANDOM" not in os.environ,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=st.one_of(SAMPLE, INTERPOLATE, EVAL, TRAIN))
def test_any_command_line_ends_in_success_or_one_error_line(scene: Path, argv: list[str]) -> None:
    work = scene.parent / "fuzz-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(scene, work, ignore=lambda folder, names: ["fifo"] if Path(folder) == scene else [])
    os.mkfifo(work / "fifo")  # copying a fifo would block on reading it
    code, stderr = run_in(work, argv)
    assert "internal error" not in stderr and "Traceback" not in stderr, (argv, stderr)
    assert code in (0, 2), (argv, code, stderr)
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, stderr)


# -- what is on disk: config files and weights metadata drawn too --------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False), st.sampled_from(["no", "yes", "on", "0x10", "1e400", "[red]x[/]",
                                                                  "a\nb", "", "mlp", "dcgan", "cpu", "nan"]))
KEYS = st.sampled_from(["variant", "run", "data", "model", "optimizer", "loss", "strategy", "epochs", "max_steps",
                        "batch_size", "seed", "image_size", "name", "lr", "latent_dim", "options", "x", "run.epochs"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
CONFIGS = st.dictionaries(KEYS, VALUES, max_size=5)
RAW_CONFIGS = st.sampled_from([
    ("yaml", "run:\n  epochs: 1\nrun:\n  epochs: 2\n"), ("json", '{"run": {"epochs": 1}, "run": {}}'),
    ("yaml", "a: &a [1, 1, 1]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"), ("yaml", "[" * 5000 + "]" * 5000),
    ("json", "[" * 5000 + "]" * 5000), ("toml", "a = " + "[" * 5000 + "]" * 5000), ("toml", "run.epochs = true\n"),
    ("yaml", "run: {epochs: no}\n"), ("json", '{"run": {"epochs": 1e400}}'), ("yaml", "\x00\x01"),
    ("toml", "[run]\nepochs = 1\n[run]\nepochs = 2\n"), ("yaml", "!!python/object:os.system ls\n"),
])


def _as_text(kind: str, config: dict[str, object]) -> str:
    import json

    import yaml

    if kind == "json":
        return json.dumps(config)
    if kind == "yaml":
        return yaml.safe_dump(config)
    lines = []  # TOML: scalar keys at the top, one table per dict (enough to reach the validators)
    for key, value in config.items():
        shown = json.dumps(value) if not isinstance(value, dict) else None
        if shown is not None and value is not None:
            lines.append(f'"{key}" = {shown}')
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append(f'["{key}"]')
            lines += [f'"{inner}" = {json.dumps(item)}' for inner, item in value.items()
                      if item is not None and not isinstance(item, dict)]
    return "\n".join(lines) + "\n"


DRAWN_CONFIG = st.one_of(st.tuples(st.sampled_from(["json", "yaml", "toml"]), CONFIGS).map(
    lambda drawn: (drawn[0], _as_text(*drawn))), RAW_CONFIGS)
HEADER_KEYS = st.sampled_from(["format", "variant", "plugin", "plugin_version", "ganzoo_version", "model_config",
                               "image_shape", "latent_dim", "latent_shape", "num_classes", "class_names",
                               "metadata_sha256"])
HEADER_VALUES = st.one_of(st.text(max_size=30), VALUES.map(lambda value: __import__("json").dumps(value)))


@settings(max_examples=int(os.environ.get("GANZOO_FUZZ_EXAMPLES", "60")), deadline=None,
          derandomize="GANZOO_FUZZ_RANDOM" not in os.environ,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=DRAWN_CONFIG)
def test_any_config_file_trains_or_is_one_error_line(scene: Path, drawn: tuple[str, str]) -> None:
    kind, text = drawn
    work = scene.parent / "fuzz-config"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / f"config.{kind}").write_text(text, encoding="utf-8", errors="surrogateescape")
    code, stderr = run_in(work, ["train", "mlp", "--config", f"config.{kind}", "--limit", "64", "--image-size", "16",
                                 "--batch-size", "32", "--max-steps", "1", "--device", "cpu", "--quiet",
                                 "--out", "run"])
    assert "internal error" not in stderr and "Traceback" not in stderr, (text[:200], stderr)
    assert code in (0, 2), (text[:200], code, stderr)
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (text[:200], stderr)


@settings(max_examples=int(os.environ.get("GANZOO_FUZZ_EXAMPLES", "60")), deadline=None,
          derandomize="GANZOO_FUZZ_RANDOM" not in os.environ,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.dictionaries(HEADER_KEYS, HEADER_VALUES, min_size=1, max_size=4), resign=st.booleans())
def test_any_weights_metadata_samples_or_is_one_error_line(scene: Path, edits: dict[str, str], resign: bool) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    from ganzoo.testing import resigned

    work = scene.parent / "fuzz-weights"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    with safe_open(str(scene / "valid.safetensors"), "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = {**handle.metadata(), **edits}
    save_file(tensors, str(work / "w.safetensors"), metadata=resigned(metadata) if resign else metadata)
    for argv in (["sample", "w.safetensors", "--num", "4", "--out", "s.png", "--device", "cpu"],
                 ["export", "w.safetensors", "--format", "torchscript", "--out", "w.pt", "--no-check"]):
        code, stderr = run_in(work, argv)
        assert "internal error" not in stderr and "Traceback" not in stderr, (edits, stderr)
        assert code in (0, 2), (edits, code, stderr)
        if code == 2:
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (edits, stderr)
