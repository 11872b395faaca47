"""``--logger tensorboard``: the event file holds the run's scalars at its steps, a sample grid per
epoch and the config; a resume appends without duplicates; a missing package is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed: pip install 'ganzoo[tensorboard]'")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from ganzoo.training.loop import train  # noqa: E402
from ganzoo.training.metrics_log import MetricsLog  # noqa: E402
from ganzoo.training.tensorboard import flatten_config  # noqa: E402

TINY = ("--limit", "256", "--image-size", "16", "--batch-size", "32", "--device", "cpu", "--quiet",
        "--set", "run.log_every_steps=3", "--set", "run.num_fixed_samples=16")


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0,
                                                                                "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_event_file_holds_scalars_images_and_config(tmp_path: Path, run_cli) -> None:
    result = run_cli("train", "mlp", *TINY, "--epochs", "2", "--logger", "tensorboard", "--out", "runs/tb")
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "runs" / "tb"
    board = events(run_dir)

    logged = MetricsLog(run_dir / "metrics.jsonl").read("step")  # 8 steps an epoch: logs at 3, 6, 8, 11, 14, 16
    for name in ("d_loss", "g_loss"):
        scalars = board.Scalars(name)
        assert [event.step for event in scalars] == [row["step"] for row in logged]
        assert [event.value for event in scalars] == pytest.approx([row[name] for row in logged], rel=1e-6)

    epochs = MetricsLog(run_dir / "metrics.jsonl").read("epoch")
    images = board.Images("samples")
    assert [image.step for image in images] == [row["step"] for row in epochs] == [8, 16]
    with Image.open(run_dir / "samples" / "epoch-0002.png") as grid:  # the grid the run wrote, not another
        assert (images[-1].width, images[-1].height) == grid.size

    config = json.loads((run_dir / "config.json").read_text())
    text = board.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert json.loads(text.removeprefix("```json\n").removesuffix("\n```")) == config
    assert set(board.PluginTagToContent("hparams")) == {"_hparams_/experiment", "_hparams_/session_start_info",
                                                        "_hparams_/session_end_info"}


def test_resume_appends_and_drops_rows_past_the_checkpoint(tiny_config, tmp_path: Path) -> None:
    from ganzoo.core.callback import Callback

    class StopAt(Callback):  # ends the run abruptly, as a kill would: no checkpoint at that step
        def on_step_end(self, run, stats) -> None:
            if run.progress.global_step == 7:
                raise KeyboardInterrupt

    sections = {"run": {"epochs": 2, "checkpoint_every_steps": 4, "log_every_steps": 2,
                        "callbacks": [{"name": "tensorboard"}]}}
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(**sections), callbacks=[StopAt()])  # logged 2, 4, 6; checkpoint at 4
    train(tiny_config(**sections), resume=True)

    steps = [event.step for event in events(tmp_path / "run").Scalars("d_loss")]
    assert steps == [2, 4, 6, 8, 10, 12, 14, 16]  # step 6 of the first process was purged, not doubled
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 2


def test_missing_package_is_one_line_naming_the_extra(tmp_path: Path, run_cli) -> None:
    shadow = tmp_path / "no-tensorboard" / "tensorboard"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named tensorboard')\n")
    result = run_cli("train", "mlp", *TINY, "--logger", "tensorboard", "--out", "runs/x",
                     env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --logger tensorboard needs the tensorboard extra: pip install " \
                                    "'ganzoo[tensorboard]'"
    assert not (tmp_path / "runs" / "x" / "metrics.jsonl").exists()  # refused before training started


def test_config_is_flattened_to_scalars() -> None:
    flat = flatten_config({"variant": "mlp", "run": {"epochs": 5, "max_steps": None, "compile": "off"},
                           "optimizer": {"betas": [0.5, 0.999], "lr": 2e-4}})
    assert flat == {"variant": "mlp", "run.epochs": 5, "run.compile": "off", "optimizer.betas": "[0.5, 0.999]",
                    "optimizer.lr": 2e-4}
