"""Whose directory ``--out`` is, and what ``--overwrite`` and ``--resume`` may do to it.

- ganzoo writes only into a directory that is missing, empty, marked ``.ganzoo-run`` or a run of
  an older ganzoo; anything else is refused in one line listing what is there, and nothing in
  it changes (``--overwrite`` or not);
- ``--overwrite`` replaces only the files a run writes, and only once the new run has written
  its first checkpoint: a new run that fails or is killed before then leaves the old run whole;
- ``--resume`` with nothing to resume starts the run, so a retry loop around it converges;
- a checkpoint that is not the run's own, or that does not fit the model built now, is one line.

The refusals are written as scenes (what is on disk, what the user types, what the one line
says) in the shape of ``tests/test_hostile.py``'s cases and run through ``ganzoo.cli.main`` in
the scene's directory; the kills are real ``SIGKILL``s of ``python -m ganzoo train`` processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ganzoo.cli import main
from ganzoo.core.callback import Callback
from ganzoo.errors import GanzooError, PluginError
from ganzoo.io.safe_state import read_safetensors, read_safetensors_metadata
from ganzoo.training.checkpoints import load_checkpoint, save_checkpoint
from ganzoo.training.loop import train
from ganzoo.training.plan import make_plan
from ganzoo.version import __version__

FAST = ["--limit", "64", "--image-size", "16", "--batch-size", "32", "--epochs", "1", "--device", "cpu", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "200"}


# -- scenes ------------------------------------------------------------------------------------


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry under ``directory``: a file's hash, a folder, a link's target."""
    entries = {}
    for path in sorted(directory.rglob("*")):
        name = str(path.relative_to(directory))
        if path.is_symlink():
            entries[name] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            entries[name] = "folder"
        else:
            entries[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def files(layout: dict[str, str]) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        for name, text in layout.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text)
    return setup


ANOTHER_TOOLS_RUN = files({
    "other/config.json": json.dumps({"tool": "another", "variant": "resnet50", "lr": 0.1}),
    "other/samples/step-100.png": "not ganzoo's",
    "other/checkpoints/model.pt": "weights",
    "other/tensorboard/events.out.tfevents.1.host": "events",
    "other/README.md": "# my project\n",
})


def make_run(directory: Path, **run: object) -> Path:
    """A real finished tiny run (one epoch of 64 images), as FAST trains it."""
    flags = {"variant": "mlp", "data": {"limit": 64, "image_size": 16},
             "run": {"out_dir": str(directory), "epochs": 1, "batch_size": 32, "device": "cpu", **run}}
    train(make_plan([flags]))
    return directory


_TEMPLATE: list[Path] = []


def finished_run(name: str = "run", *, marker: bool = True) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        shutil.copytree(_TEMPLATE[0], directory / name)
        if not marker:
            (directory / name / ".ganzoo-run").unlink()
    return setup


def all_of(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        for one in setups:
            one(directory)
    return setup


def older_run_config_only(directory: Path) -> None:
    """What an older ganzoo killed before its first log row left: config.json alone, no marker."""
    finished_run(marker=False)(directory)
    for name in os.listdir(directory / "run"):
        if name != "config.json":
            path = directory / "run" / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def with_marker(text: str) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        finished_run()(directory)
        (directory / "run" / ".ganzoo-run").write_text(text)
    return setup


def marker_is_a_folder(directory: Path) -> None:
    finished_run()(directory)
    (directory / "run" / ".ganzoo-run").unlink()
    (directory / "run" / ".ganzoo-run").mkdir()


def link(name: str, target: str) -> Callable[[Path], None]:
    def setup(directory: Path) -> None:
        (directory / name).symlink_to(target, target_is_directory=True)
    return setup


def checkpoint_from(options: list[str]) -> Callable[[Path], None]:
    """A finished run whose checkpoint was copied in from a run trained with ``options``."""
    def setup(directory: Path) -> None:
        finished_run()(directory)
        assert main(["train", "mlp", *FAST, "--out", "donor", *options]) == 0
        shutil.copy(directory / "donor" / "checkpoints" / "last.safetensors",
                    directory / "run" / "checkpoints" / "last.safetensors")
        shutil.rmtree(directory / "donor")
    return setup


@dataclass(frozen=True)
class Case:
    """One scene: what is on disk, what the user types, what the one line must say."""

    id: str
    args: list[str]
    expect: str
    setup: Callable[[Path], None] | None = None


CASES = [
    Case("run dir: another tool's run", ["train", "mlp", *FAST, "--out", "other"],
         "'other' holds files ganzoo did not write (README.md, checkpoints/, config.json, samples/ and 1 more) and no "
         "ganzoo run; ganzoo trains only into an empty directory or one of its own runs: choose another --out, or "
         "empty 'other'", ANOTHER_TOOLS_RUN),
    Case("run dir: --overwrite on another tool's run", ["train", "mlp", *FAST, "--out", "other", "--overwrite"],
         "and no ganzoo run (--overwrite replaces only a ganzoo run)", ANOTHER_TOOLS_RUN),
    Case("run dir: --resume in another tool's run", ["train", "mlp", *FAST, "--out", "other", "--resume"],
         "nothing to resume in 'other': it holds no run, only files ganzoo did not write (README.md, checkpoints/, "
         "config.json, samples/ and 1 more); choose another --out, or empty 'other'", ANOTHER_TOOLS_RUN),
    Case("run dir: a folder of notes", ["train", "mlp", *FAST, "--out", "notes"],
         "'notes' holds files ganzoo did not write (README.md) and no ganzoo run", files({"notes/README.md": "mine\n"})),
    Case("run dir: a folder holding only hidden files", ["train", "mlp", *FAST, "--out", "work", "--overwrite"],
         "'work' holds files ganzoo did not write (.git/, .gitignore)",
         files({"work/.gitignore": "*\n", "work/.git/HEAD": "ref: main\n"})),
    Case("run dir: an older ganzoo's config.json alone", ["train", "mlp", *FAST, "--out", "run"],
         "'run' holds files ganzoo did not write (config.json) and no ganzoo run", older_run_config_only),
    Case("run dir: a symbolic link to another tool's run", ["train", "mlp", *FAST, "--out", "link", "--overwrite"],
         "'link' holds files ganzoo did not write (README.md, checkpoints/", all_of(ANOTHER_TOOLS_RUN,
                                                                                   link("link", "other"))),
    Case("run dir: a dangling symbolic link", ["train", "mlp", *FAST, "--out", "link"],
         "--out 'link' is a dangling symbolic link (to 'nowhere'); remove it or choose another --out",
         link("link", "nowhere")),
    Case("run dir: damaged marker", ["train", "mlp", *FAST, "--out", "run", "--overwrite"],
         "run marker 'run/.ganzoo-run' is damaged (not a ganzoo run-directory marker); if 'run' is a ganzoo run, "
         "remove that file and rerun (its config.json and checkpoint still identify it), or choose another --out",
         with_marker("{ garbage")),
    Case("run dir: marker of another program", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "run marker 'run/.ganzoo-run' is damaged", with_marker('{"format": "someone-else.v1"}')),
    Case("run dir: marker that is a folder", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "run marker 'run/.ganzoo-run' is a directory, not a file; if 'run' is a ganzoo run, remove that file",
         marker_is_a_folder),
    Case("run dir: marker from a newer ganzoo", ["train", "mlp", *FAST, "--out", "run", "--overwrite"],
         "'run' was written by ganzoo 9.0 in run-directory format 'ganzoo.run-directory.v2', which this ganzoo "
         f"({__version__}, 'ganzoo.run-directory.v1') does not know; use that ganzoo version, or choose another --out",
         with_marker('{"format": "ganzoo.run-directory.v2", "ganzoo_version": "9.0"}')),
    Case("resume: nothing there and no variant", ["train", "--out", "empty", "--resume", "--device", "cpu"],
         "nothing to resume in 'empty': it holds no run (no config.json, no checkpoints/last.safetensors); name the "
         "variant to start one there: `ganzoo train VARIANT --out empty --resume`", files({"empty/.lock": ""})),
    Case("resume: a checkpoint copied from a run with another seed", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "checkpoint 'run/checkpoints/last.safetensors' is not this run's: it was written with run.seed 5, config.json "
         "has 0; put back the run's own checkpoint, or start a new run with another --out (or --overwrite)",
         checkpoint_from(["--seed", "5"])),
    Case("resume: a checkpoint copied from another variant's run", ["train", "mlp", *FAST, "--out", "run", "--resume"],
         "checkpoint 'run/checkpoints/last.safetensors' is not this run's: it was written with variant 'dcgan', "
         "config.json has 'mlp'", lambda d: (finished_run()(d), _copy_checkpoint_of_variant(d, "dcgan"))),
    Case("variant: the argument and --set disagree", ["train", "mlp", *FAST, "--set", "variant=dcgan", "--out", "run"],
         "two variants asked for: 'mlp' (the VARIANT argument) and 'dcgan' (--set variant=dcgan); name the variant once"),
    Case("variant: the argument and --config disagree", ["train", "mlp", *FAST, "--config", "c.toml", "--out", "run"],
         "two variants asked for: 'mlp' (the VARIANT argument) and 'dcgan' (--config c.toml); name the variant once",
         files({"c.toml": 'variant = "dcgan"\n'})),
    Case("variant: --resume with --set variant of another run", ["train", "--set", "variant=dcgan", *FAST, "--out",
                                                                  "run", "--resume"],
         "'run' holds a 'mlp' run, not 'dcgan'", finished_run()),
]


def _copy_checkpoint_of_variant(directory: Path, variant: str) -> None:
    flags = {"variant": variant, "data": {"limit": 64, "image_size": 32},
             "run": {"out_dir": str(directory / "donor"), "max_steps": 1, "batch_size": 32, "device": "cpu"}}
    train(make_plan([flags]))
    shutil.copy(directory / "donor" / "checkpoints" / "last.safetensors",
                directory / "run" / "checkpoints" / "last.safetensors")
    shutil.rmtree(directory / "donor")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _TEMPLATE[:] = [make_run(tmp_path_factory.mktemp("template") / "run")]
    return _TEMPLATE[0]


def run_here(args: list[str], directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``ganzoo ARGS`` in ``directory``: the exit code and the lines on stderr."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        capsys.readouterr()
        code = main(args)
    finally:
        os.chdir(previous)
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_directory_ganzoo_may_not_use_is_refused_in_one_line_and_left_as_it_was(case: Case, template: Path,
                                                                                   tmp_path: Path, capsys) -> None:
    if case.setup:
        previous = Path.cwd()
        os.chdir(tmp_path)
        try:
            case.setup(tmp_path)
        finally:
            os.chdir(previous)
    before = snapshot(tmp_path)
    code, lines = run_here(case.args, tmp_path, capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert case.expect in lines[0], lines[0]
    assert "Traceback" not in lines[0] and "internal error" not in lines[0]
    assert snapshot(tmp_path) == before


# -- claiming ----------------------------------------------------------------------------------


def test_a_new_run_claims_an_empty_or_missing_directory_with_a_marker(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale" / ".lock").write_text("12345\n")  # a SIGKILLed ganzoo's
    for out in ("empty", "missing/run", "stale"):
        code, lines = run_here(["train", "mlp", *FAST, "--out", out], tmp_path, capsys)
        assert code == 0, lines
        marker = json.loads((tmp_path / out / ".ganzoo-run").read_text())
        assert marker == {"format": "ganzoo.run-directory.v1", "ganzoo_version": __version__}
        assert (tmp_path / out / "checkpoints" / "last.safetensors").exists()


def test_a_refused_start_in_an_empty_directory_leaves_it_empty(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, lines = run_here(["train", "mlp", *FAST, "--out", "empty", "--batch-size", "128"], tmp_path, capsys)
    assert code == 2 and "needs at least 128 images" in lines[0]
    assert os.listdir(tmp_path / "empty") == []  # no marker: nothing was claimed


def test_a_symbolic_link_to_an_empty_directory_is_trained_through(tmp_path: Path, capsys) -> None:
    (tmp_path / "disk" / "runs").mkdir(parents=True)
    (tmp_path / "link").symlink_to("disk/runs", target_is_directory=True)
    assert run_here(["train", "mlp", *FAST, "--out", "link"], tmp_path, capsys)[0] == 0
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "disk" / "runs" / "checkpoints" / "last.safetensors").exists()
    code, lines = run_here(["train", "mlp", *FAST, "--out", "link", "--overwrite"], tmp_path, capsys)
    assert code == 0 and (tmp_path / "link").is_symlink(), lines


def test_overwrite_replaces_only_what_a_run_wrote(template: Path, tmp_path: Path, capsys) -> None:
    finished_run()(tmp_path)
    run = tmp_path / "run"
    mine = {"notes.txt": "my notes\n", "samples/favourite.png": "kept\n", "checkpoints/by-hand.pt": "kept too\n",
            "exports/g.onnx": "an export\n"}
    for name, text in mine.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "precious.txt").write_text("not ganzoo's\n")
    (run / "shared").symlink_to("../elsewhere", target_is_directory=True)
    old_generator = (run / "generator.safetensors").read_bytes()
    code, lines = run_here(["train", "mlp", *FAST, "--out", "run", "--overwrite", "--seed", "3"], tmp_path, capsys)
    assert code == 0, lines
    assert all((run / name).read_text() == text for name, text in mine.items())
    assert (tmp_path / "elsewhere" / "precious.txt").read_text() == "not ganzoo's\n" and (run / "shared").is_symlink()
    assert (run / "generator.safetensors").read_bytes() != old_generator
    assert json.loads((run / "config.json").read_text())["run"]["seed"] == 3
    assert not (run / ".ganzoo-replaced").exists() and not (run / ".ganzoo-discarded").exists()


def test_a_run_of_an_older_ganzoo_without_a_marker_is_still_its_run(template: Path, tmp_path: Path, capsys) -> None:
    finished_run(marker=False)(tmp_path)
    code, lines = run_here(["train", "mlp", *FAST, "--out", "run"], tmp_path, capsys)
    assert code == 2 and "'run' already holds a run; pass --resume" in lines[0]
    assert not (tmp_path / "run" / ".ganzoo-run").exists()  # refused: nothing written
    code, lines = run_here(["train", "mlp", *FAST, "--out", "run", "--resume", "--epochs", "2"], tmp_path, capsys)
    assert code == 0, lines
    assert json.loads((tmp_path / "run" / ".ganzoo-run").read_text())["format"] == "ganzoo.run-directory.v1"


def test_an_older_ganzoo_run_is_recognised_by_its_log_without_a_checkpoint(template: Path, tmp_path: Path,
                                                                           capsys) -> None:
    finished_run(marker=False)(tmp_path)  # as a run killed before its first checkpoint left it
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    code, lines = run_here(["train", "mlp", *FAST, "--out", "run"], tmp_path, capsys)
    assert code == 0, lines  # an unfinished start: started over


# -- --overwrite is atomic ---------------------------------------------------------------------


class StopAt(Callback):
    """Ends the run abruptly at a step, as a crash would (no checkpoint written for it)."""

    def __init__(self, step: int, error: type[BaseException] = KeyboardInterrupt) -> None:
        self.step, self.error = step, error

    def on_step_end(self, run, stats) -> None:
        if run.progress.global_step == self.step:
            raise self.error("stopped here")


@pytest.mark.parametrize("error, seen", [(KeyboardInterrupt, KeyboardInterrupt), (RuntimeError, PluginError)])
def test_overwrite_that_fails_before_its_first_checkpoint_leaves_the_old_run_whole(tiny_config, error, seen) -> None:
    plan = tiny_config(run={"max_steps": 4})
    train(plan)
    out = plan.config.run.out_dir
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    with pytest.raises(seen):  # a Ctrl-C, or a failing (plugin) callback
        train(tiny_config(run={"epochs": 2, "seed": 9}), overwrite=True, callbacks=[StopAt(3, error)])
    assert snapshot(out) == before
    assert train(plan, resume=True).progress.global_step == 4  # and it still resumes


def test_overwrite_that_checkpointed_then_failed_is_the_new_run_resumable(tiny_config) -> None:
    train(tiny_config(run={"max_steps": 4}))
    new = tiny_config(run={"epochs": 2, "seed": 9, "checkpoint_every_steps": 2})
    with pytest.raises(KeyboardInterrupt):
        train(new, overwrite=True, callbacks=[StopAt(3)])
    out = new.config.run.out_dir
    assert not (out / ".ganzoo-replaced").exists()
    assert load_checkpoint(out / "checkpoints" / "last.safetensors")[1].global_step == 2
    assert train(new, resume=True).progress.global_step == 16


POISON_PLUGIN = """
    from ganzoo.builtin.losses import BCEOptions, NonSaturatingLoss
    from ganzoo.plugin import LossSpec, hookimpl


    class NanAtThree(NonSaturatingLoss):
        def __init__(self):
            super().__init__(BCEOptions())
            self.calls = 0

        def generator_loss(self, fake_logits):
            self.calls += 1
            loss = super().generator_loss(fake_logits)
            return loss * float("nan") if self.calls == 3 else loss


    @hookimpl
    def ganzoo_register_losses():
        return [LossSpec("nan-at-3", lambda options: NanAtThree())]
"""


def install_plugin(site: Path, distribution: str, version: str, source: str) -> dict[str, str]:
    """A real installed distribution (dist-info with an entry point) in ``site``; the environment
    that puts it on the path of a ``python -m ganzoo``."""
    module = distribution.replace("-", "_") + "_plugin"
    for old in site.glob(f"{distribution.replace('-', '_')}-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{distribution} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    return {**ENV, "PYTHONPATH": os.pathsep.join([str(site), ENV.get("PYTHONPATH", "")])}


def ganzoo(*args: str, cwd: Path, env: dict[str, str] = ENV) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ganzoo", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, list[str]]:
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr.strip().splitlines()


def test_overwrite_whose_new_settings_diverge_keeps_the_old_run(template: Path, tmp_path: Path) -> None:
    """The probe's case through the real command: the new settings diverge at step 3."""
    env = install_plugin(tmp_path / "site", "nan-loss", "0.1", POISON_PLUGIN)
    finished_run()(tmp_path)
    before = snapshot(tmp_path / "run")
    code, lines = finish(ganzoo("train", "mlp", *FAST, "--epochs", "3", "--out", "run", "--overwrite", "--loss",
                                "nan-at-3", cwd=tmp_path, env=env))
    assert code == 2 and len(lines) == 1 and "training diverged at step 3" in lines[0], lines
    assert snapshot(tmp_path / "run") == before


# -- SIGKILL during --overwrite and --resume ---------------------------------------------------

SLOW = ["train", "mlp", "--limit", "256", "--image-size", "16", "--batch-size", "32", "--device", "cpu", "--quiet",
        "--set", "model.generator_widths=[64,128]", "--set", "model.discriminator_widths=[128]",
        "--set", "model.latent_dim=16", "--set", "run.log_every_steps=1", "--set", "run.sample_every_epochs=0"]
"""8 steps an epoch, a log row every step."""


def checkpoint_step(out: Path) -> int:
    path = out / "checkpoints" / "last.safetensors"
    if not path.exists():
        return -1
    return int(json.loads(read_safetensors_metadata(path, "checkpoint")["state"])["progress"]["global_step"])


def checkpoint_seed(out: Path) -> int | None:
    """The seed of the run that wrote the checkpoint now in ``out`` (None: none, or moving)."""
    try:
        metadata = read_safetensors_metadata(out / "checkpoints" / "last.safetensors", "checkpoint")
        return json.loads(metadata["config"])["run"]["seed"]
    except (GanzooError, OSError, KeyError, ValueError):
        return None


def seed_of(out: Path) -> int:
    return json.loads((out / "config.json").read_text())["run"]["seed"]


def kill_when(process: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"ended before the moment to kill it: {process.communicate()}"
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


def logged(out: Path) -> bool:
    try:
        return bool((out / "metrics.jsonl").read_text().strip())
    except FileNotFoundError:
        return False


def test_a_sigkilled_overwrite_before_its_first_checkpoint_gives_the_old_run_back(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert finish(ganzoo(*SLOW, "--epochs", "1", "--seed", "1", "--out", "run", cwd=tmp_path))[0] == 0
    before = snapshot(out)
    replacing = ganzoo(*SLOW, "--epochs", "200", "--seed", "2", "--set", "run.checkpoint_every_epochs=0", "--out", "run",
                       "--overwrite", cwd=tmp_path)  # its only checkpoint: at the end, after 1600 steps
    kill_when(replacing, lambda: (out / ".ganzoo-replaced" / ".complete").exists() and logged(out))
    assert seed_of(out) == 2 and checkpoint_step(out) == -1  # killed mid-way: the new run's files, no checkpoint
    code, lines = finish(ganzoo(*SLOW, "--epochs", "1", "--seed", "1", "--out", "run", cwd=tmp_path))
    assert code == 2 and "'run' already holds a run; pass --resume" in lines[-1], lines
    assert {k: v for k, v in snapshot(out).items() if k != ".lock"} == before
    code, lines = finish(ganzoo(*SLOW, "--epochs", "2", "--seed", "1", "--out", "run", "--resume", cwd=tmp_path))
    assert code == 0 and checkpoint_step(out) == 16, lines


def test_a_sigkilled_overwrite_after_its_first_checkpoint_is_the_new_run_resumed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert finish(ganzoo(*SLOW, "--epochs", "1", "--seed", "1", "--out", "run", cwd=tmp_path))[0] == 0
    new = [*SLOW, "--epochs", "3", "--seed", "2", "--set", "run.checkpoint_every_steps=4", "--out", "run"]
    replacing = ganzoo(*new, "--overwrite", cwd=tmp_path)
    kill_when(replacing, lambda: checkpoint_seed(out) == 2)
    code, lines = finish(ganzoo(*new, "--resume", cwd=tmp_path))
    assert code == 0 and checkpoint_step(out) == 24 and seed_of(out) == 2, lines
    assert not (out / ".ganzoo-replaced").exists() and not (out / ".ganzoo-discarded").exists()


def test_an_overwrite_killed_while_moving_the_old_run_aside_is_undone(template: Path, tmp_path: Path, capsys) -> None:
    """The state a kill in the middle of the move leaves (some files moved, no ``.complete``), and
    one a kill in the middle of deleting the old run leaves (``.ganzoo-discarded``)."""
    finished_run()(tmp_path)
    run = tmp_path / "run"
    before = snapshot(run)
    (run / ".ganzoo-replaced" / "checkpoints").mkdir(parents=True)
    for name in ("config.json", "checkpoints/last.safetensors"):
        os.replace(run / name, run / ".ganzoo-replaced" / name)
    (run / ".ganzoo-discarded" / "samples").mkdir(parents=True)
    (run / ".ganzoo-discarded" / "samples" / "epoch-0001.png").write_text("an older run's")
    code = main(["train", "mlp", *FAST, "--out", str(run), "--resume", "--epochs", "2"])
    out = capsys.readouterr().out
    assert code == 0 and f"note: restored the run in {run} that an interrupted --overwrite was moving aside" in out
    assert checkpoint_step(run) == 4 and not (run / ".ganzoo-replaced").exists()
    assert not (run / ".ganzoo-discarded").exists()
    assert before.keys() <= snapshot(run).keys()


# -- --resume with nothing to resume starts the run ----------------------------------------------


def test_resume_with_nothing_to_resume_starts_the_run_and_says_so(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    for out in ("missing", "empty"):
        code = main(["train", "mlp", *FAST[:-1], "--out", str(tmp_path / out), "--resume"])
        shown = capsys.readouterr()
        assert code == 0, shown.err
        assert f"nothing to resume in {tmp_path / out} yet (no checkpoint): starting a new mlp run there" in shown.out
        assert checkpoint_step(tmp_path / out) == 2


def test_a_retry_loop_around_resume_converges_to_the_uninterrupted_run(tmp_path: Path) -> None:
    """``until ganzoo train mlp --out R --resume; do :; done``, killed before the first
    checkpoint and after one: it ends with the weights and log of a run never interrupted."""
    command = [*SLOW, "--epochs", "8", "--seed", "7", "--set", "run.checkpoint_every_steps=40"]
    reference = ganzoo(*command, "--out", "reference", cwd=tmp_path)
    out = tmp_path / "retried"
    first = ganzoo(*command, "--out", "retried", "--resume", cwd=tmp_path)
    kill_when(first, lambda: logged(out))
    assert checkpoint_step(out) == -1  # an unfinished start
    second = ganzoo(*command, "--out", "retried", "--resume", cwd=tmp_path)
    kill_when(second, lambda: checkpoint_step(out) >= 40)
    code, lines = finish(ganzoo(*command, "--out", "retried", "--resume", cwd=tmp_path))
    assert code == 0, lines
    assert finish(reference)[0] == 0
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        expected, _ = read_safetensors(tmp_path / "reference" / name, name)
        got, _ = read_safetensors(out / name, name)
        assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected), name
    rows = [[{k: v for k, v in json.loads(line).items() if k not in ("elapsed_s", "images_per_s")}
             for line in (directory / "metrics.jsonl").read_text().splitlines()] for directory in (out, tmp_path / "reference")]
    assert rows[0] == rows[1]


# -- a checkpoint that does not fit ------------------------------------------------------------


def _tamper(path: Path, edit: Callable[[dict], None]) -> None:
    state, progress, config = load_checkpoint(path)
    edit(state)
    save_checkpoint(path, state=state, progress=progress, config=config, written_by="'mlp' from ganzoo-mlp 0.0.1")


def _rename(state: dict) -> None:
    generator = state["generator"]
    name = next(iter(generator))
    generator[f"renamed.{name}"] = generator.pop(name)


def _widen(state: dict) -> None:
    generator = state["generator"]
    name = next(iter(generator))
    generator[name] = torch.zeros(generator[name].shape[0] + 1, *generator[name].shape[1:])


def _adam_moment(state: dict) -> None:
    moment = state["g_optimizer"]["state"][0]
    moment["exp_avg"] = torch.zeros(3, 3)


@pytest.mark.parametrize("edit, named", [
    (_rename, "generator.net.0.weight is missing from it"),
    (_widen, "generator.net.0.weight is [129, 100] in the checkpoint, [128, 100] in the model"),
    (lambda state: state.pop("discriminator"), "it has no 'discriminator' state"),
    (_adam_moment, "g_optimizer state 0.exp_avg is [3, 3] in the checkpoint, [128, 100] in the model"),
])
def test_a_checkpoint_that_does_not_fit_the_model_is_one_line(template: Path, tmp_path: Path, capsys, edit,
                                                              named) -> None:
    finished_run()(tmp_path)
    _tamper(tmp_path / "run" / "checkpoints" / "last.safetensors", edit)
    before = snapshot(tmp_path)
    code, lines = run_here(["train", "mlp", *FAST, "--out", "run", "--resume", "--epochs", "2"], tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "error: checkpoint 'run/checkpoints/last.safetensors' does not fit the run built now ('mlp' from " in lines[0]
    assert f"): {named}; it was written by 'mlp' from ganzoo-mlp 0.0.1: resume with the variant and plugin version " \
           "that wrote it, or start a new run with another --out (or --overwrite)" in lines[0], lines[0]
    assert snapshot(tmp_path) == before


def widths_plugin(hidden: int) -> str:
    """A third-party variant whose hidden layer is ``hidden`` wide in this version of the plugin."""
    return f"""
    from torch import nn

    from ganzoo.plugin import Discriminator, Generator, VariantSpec, hookimpl


    class G(Generator):
        def __init__(self, options, image_shape, num_classes):
            super().__init__()
            self.latent_dim, self.image_shape, self.num_classes = 8, tuple(image_shape), None
            pixels = image_shape[0] * image_shape[1] * image_shape[2]
            self.net = nn.Sequential(nn.Linear(8, {hidden}), nn.ReLU(), nn.Linear({hidden}, pixels))

        def forward(self, latents, labels=None):
            return self.net(latents).tanh().view(len(latents), *self.image_shape)


    class D(Discriminator):
        def __init__(self, options, image_shape, num_classes):
            super().__init__()
            self.image_shape, self.num_classes = tuple(image_shape), None
            self.net = nn.Linear(image_shape[0] * image_shape[1] * image_shape[2], 1)

        def forward(self, images, labels=None):
            return self.net(images.flatten(1)).flatten()


    @hookimpl
    def ganzoo_register_variants():
        return [VariantSpec(name="widths", build_generator=G, build_discriminator=D)]
"""


def test_resume_with_a_newer_plugin_whose_tensors_changed_names_both_versions(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = install_plugin(site, "ganzoo-test-widths", "0.1", widths_plugin(16))
    assert finish(ganzoo("train", "widths", *FAST, "--out", "run", cwd=tmp_path, env=env))[0] == 0
    env = install_plugin(site, "ganzoo-test-widths", "0.2", widths_plugin(32))
    before = snapshot(tmp_path / "run")
    code, lines = finish(ganzoo("train", "widths", *FAST, "--epochs", "2", "--out", "run", "--resume", cwd=tmp_path,
                                env=env))
    assert code == 2 and len(lines) == 1, lines
    assert lines[0] == ("error: checkpoint 'run/checkpoints/last.safetensors' does not fit the run built now ('widths' "
                        "from ganzoo-test-widths 0.2): generator.net.0.weight is [16, 8] in the checkpoint, [32, 8] in "
                        "the model; it was written by 'widths' from ganzoo-test-widths 0.1: resume with the variant "
                        "and plugin version that wrote it, or start a new run with another --out (or --overwrite)")
    assert snapshot(tmp_path / "run") == before
