"""No command writes over what it reads: an output path is resolved against the command's inputs
(the generator file, the files of the run it lies in, the dataset root) before any work, and a
collision is one line, exit 2, with every input left as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ganzoo.errors import OutputError
from ganzoo.io.files import check_not_an_input
from ganzoo.training.rundir import RunDirectory, inputs_of

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.testing import train_quietly
    from ganzoo.training.plan import make_plan

    root = tmp_path_factory.mktemp("outputs") / "run"
    train_quietly(make_plan([{"variant": "mlp", "data": {"image_size": 16, "limit": 128},
                              "run": {"out_dir": str(root), "max_steps": 2, "batch_size": 32, "device": "cpu"}}]))
    return root


def digests(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and path.name != ".lock"}


@pytest.mark.parametrize("args", [
    ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/generator.safetensors"],
    ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/checkpoints/last.safetensors"],
    ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/config.json"],
    ["eval", "run/generator.safetensors", "--num", "100", "--out", "run/README.md"],
    ["eval", "run/generator.safetensors", "--num", "100", "--out", "link.json"],
    ["sample", "run/generator.safetensors", "--num", "4", "--out", "run/loss_curve.png"],
    ["interpolate", "run/generator.safetensors", "--out", "run/loss_curve.png"],
    ["export", "run/generator.safetensors", "--format", "torchscript", "--out", "link.pt"],
], ids=lambda args: " ".join(args[:1] + args[-1:]))
def test_an_output_that_is_an_input_is_refused_before_any_work(args: list[str], run: Path, run_cli: RunCli,
                                                                tmp_path: Path) -> None:
    local = tmp_path / "run"
    os.symlink(run, local)  # the shared run, reached through a link: identity, not names, decides
    for name in ("link.json", "link.pt"):
        os.symlink(run / "generator.safetensors", tmp_path / name)
    before = digests(run)
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "which this command reads" in result.stderr, result.stderr
    assert digests(run) == before


def test_inputs_of_a_generator_are_its_run_files(run: Path) -> None:
    run_dir = RunDirectory(run)
    assert inputs_of(run / "generator.safetensors") == [run / "generator.safetensors", *run_dir.written_files()]
    assert RunDirectory.around(run / "checkpoints" / "last.safetensors") == run_dir
    assert inputs_of(run.parent / "elsewhere.safetensors") == [run.parent / "elsewhere.safetensors"]


def test_an_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data" / "digits").mkdir(parents=True)
    with pytest.raises(OutputError, match="is inside .*data.*, which this command reads"):
        check_not_an_input(tmp_path / "data" / "digits" / "eval.json", "--out", [tmp_path / "data"])
    check_not_an_input(tmp_path / "eval.json", "--out", [tmp_path / "data", tmp_path / "missing.safetensors"])
