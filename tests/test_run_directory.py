"""One run per directory: the lock, the restart rule for a run without a checkpoint, resume
from a damaged config.json, and a log that reads the same after a crash and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli import main
from ganzoo.core.callback import Callback
from ganzoo.errors import GanzooError, RunDirectoryError
from ganzoo.training.loop import train
from ganzoo.training.runlock import RunLock, locked_run_directory


def test_a_second_process_on_a_locked_run_gets_one_line_naming_the_holder(tiny_config, capsys):
    plan = tiny_config(run={"max_steps": 1})
    out = plan.config.run.out_dir
    train(plan)
    holder = RunLock(out)
    holder.acquire()
    try:
        with pytest.raises(RunDirectoryError, match=rf"is in use by process {os.getpid()} "):
            train(plan, overwrite=True)
        code = main(["train", "mlp", "--out", str(out), "--limit", "64", "--image-size", "16", "--batch-size", "32",
                     "--max-steps", "1", "--device", "cpu", "--quiet", "--resume"])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and f"in use by process {os.getpid()}" in lines[0]
    finally:
        holder.release()
    train(plan, overwrite=True)  # free again
    assert not (out / ".lock").exists()


def test_a_sigkilled_holder_leaves_no_stuck_lock(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    script = ("import sys, time; from pathlib import Path; from ganzoo.training.runlock import RunLock; "
              "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(RunDirectoryError, match=f"in use by process {process.pid} "):
            RunLock(out).acquire()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (out / ".lock").exists()  # the file stays, the lock does not
    lock = RunLock(out)
    lock.acquire()
    assert (out / ".lock").read_text().strip() == str(os.getpid())
    lock.release()


def test_a_refused_start_leaves_no_directory_behind(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError):
        with locked_run_directory(out):
            assert (out / ".lock").exists()
            raise RuntimeError("refused")
    assert not out.exists()


def test_a_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(GanzooError, match="is under .*notes.txt', which is a file, not a directory; choose another --out"):
        with locked_run_directory(tmp_path / "notes.txt" / "run"):
            pass


class StopAt(Callback):
    """Ends the process's run abruptly at a step, as a SIGKILL would (no checkpoint written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, run, stats) -> None:
        if run.progress.global_step == self.step:
            raise KeyboardInterrupt


def _steps(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("elapsed_s", "images_per_s")} for row in rows
            if row["kind"] in ("step", "epoch")]


def test_a_run_killed_before_its_first_checkpoint_restarts_with_or_without_resume(tiny_config, tmp_path):
    plan = tiny_config(run={"epochs": 2, "log_every_steps": 3})
    with pytest.raises(KeyboardInterrupt):
        train(plan, callbacks=[StopAt(5)])
    out = plan.config.run.out_dir
    assert (out / "config.json").exists() and not (out / "checkpoints" / "last.safetensors").exists()
    resumed = train(plan, resume=True)
    assert resumed.progress.global_step == 16
    other = tiny_config(run={"epochs": 2, "log_every_steps": 3, "out_dir": str(tmp_path / "other")})
    with pytest.raises(KeyboardInterrupt):
        train(other, callbacks=[StopAt(3)])
    again = train(other)  # no --resume, no --overwrite: nothing to lose, it starts over
    assert again.progress.global_step == 16


def test_the_log_after_a_crash_and_resume_is_the_log_of_the_uninterrupted_run(tiny_config, tmp_path):
    sections = {"run": {"epochs": 2, "log_every_steps": 3, "checkpoint_every_steps": 4, "sample_every_epochs": 0}}
    straight = train(tiny_config(**{"run": {**sections["run"], "out_dir": str(tmp_path / "straight")}}))
    plan = tiny_config(**{"run": {**sections["run"], "out_dir": str(tmp_path / "crashed")}})
    with pytest.raises(KeyboardInterrupt):
        train(plan, callbacks=[StopAt(11)])  # checkpoint at step 8; the log window 7-9 was open there
    train(plan, resume=True)
    assert _steps(tmp_path / "crashed") == _steps(straight.out_dir)


def test_resume_without_config_json_uses_the_checkpoints_copy(tiny_config):
    plan = tiny_config(run={"max_steps": 2})
    train(plan)
    out = plan.config.run.out_dir
    (out / "config.json").write_text("{ damaged")
    code = main(["train", "--out", str(out), "--resume", "--max-steps", "4", "--quiet"])
    assert code == 0
    assert json.loads((out / "config.json").read_text())["run"]["max_steps"] == 4


def test_resume_with_another_variant_names_the_variant(tiny_config, capsys):
    plan = tiny_config(run={"max_steps": 1})
    train(plan)
    out = plan.config.run.out_dir
    code = main(["train", "dcgan", "--out", str(out), "--resume", "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert f"holds a 'mlp' run, not 'dcgan'; resume it with `ganzoo train mlp --out {out} --resume`" in lines[0]
