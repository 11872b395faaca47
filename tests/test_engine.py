"""The training engine on real (tiny) runs: files, determinism, resume."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from ganzoo.errors import ConfigError, RunDirectoryError
from ganzoo.training.display import ProgressDisplay
from ganzoo.training.loop import train


def test_a_run_writes_everything_a_user_needs(tiny_config):
    resolved = tiny_config(run={"epochs": 2, "checkpoint_every_epochs": 1})
    result = train(resolved)
    out = result.out_dir
    assert result.progress.global_step == 16 and result.progress.images_seen == 512
    assert (out / "samples" / "epoch-0001.png").exists() and (out / "samples" / "epoch-0002.png").exists()
    assert (out / "loss_curve.png").stat().st_size > 1000
    assert (out / "generator.safetensors").exists() and (out / "checkpoints" / "last.safetensors").exists()
    saved = json.loads((out / "config.json").read_text())
    assert saved["variant"] == "mlp" and saved["model"]["latent_dim"] == 100
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if line["kind"] == "step"]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "images_per_s"} <= set(steps[0])
    assert sum(line["kind"] == "epoch" for line in lines) == 2


def test_same_seed_same_run_and_another_seed_differs(tiny_config, tmp_path):
    first = train(tiny_config(run={"out_dir": str(tmp_path / "a")}))
    second = train(tiny_config(run={"out_dir": str(tmp_path / "b")}))
    third = train(tiny_config(run={"out_dir": str(tmp_path / "c"), "seed": 1}))
    a, b, c = (load_file(r.generator_path) for r in (first, second, third))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_continues_to_the_same_weights(tiny_config, tmp_path):
    straight = train(tiny_config(run={"out_dir": str(tmp_path / "straight"), "epochs": 2}))
    split = tmp_path / "split"
    train(tiny_config(run={"out_dir": str(split), "epochs": 1}))
    screen = StringIO()
    resumed = train(tiny_config(run={"out_dir": str(split), "epochs": 2}), resume=True,
                    callbacks=[ProgressDisplay(Console(file=screen, width=200))])
    assert f"resuming {split} at epoch 2, step 8" in screen.getvalue()
    assert resumed.progress.global_step == straight.progress.global_step
    a, b = load_file(straight.checkpoint_path), load_file(resumed.checkpoint_path)
    weights = [k for k in a if k.startswith(("state.generator", "state.discriminator", "state.g_optimizer"))]
    assert weights and all(torch.equal(a[k], b[k]) for k in weights)


def test_an_existing_run_is_never_overwritten_by_accident(tiny_config):
    resolved = tiny_config(run={"max_steps": 1})
    train(resolved)
    with pytest.raises(RunDirectoryError, match="already holds a run; pass --resume"):
        train(resolved)
    train(resolved, overwrite=True)


@pytest.mark.parametrize("changes, named", [
    ({"optimizer": {"lr": 0.1}}, "optimizer.lr was 0.0002, now 0.1"),
    ({"run": {"seed": 5}}, "run.seed was 0, now 5"),
    ({"run": {"batch_size": 16}}, "run.batch_size was 32, now 16"),
    ({"data": {"limit": 128}}, "data.limit was 256, now 128"),
    ({"model": {"latent_dim": 8}}, "model.latent_dim was 100, now 8"),
])
def test_resume_refuses_a_setting_that_changes_the_trajectory(tiny_config, changes, named):
    train(tiny_config(run={"max_steps": 2}))
    changed = tiny_config(**{**changes, "run": {"max_steps": 4, **changes.get("run", {})}})
    with pytest.raises(ConfigError, match=rf"cannot resume .* with different settings: {re.escape(named)};"):
        train(changed, resume=True)


def test_resume_allows_budgets_and_logging_to_change(tiny_config):
    train(tiny_config(run={"max_steps": 2}))
    resumed = train(tiny_config(run={"max_steps": 4, "epochs": 3, "log_every_steps": 1, "sample_every_epochs": 0}),
                    resume=True)
    assert resumed.progress.global_step == 4


def test_batch_larger_than_the_dataset_is_a_config_error(tiny_config):
    with pytest.raises(ConfigError, match="lower --batch-size"):
        train(tiny_config(run={"batch_size": 512}))


def test_bf16_autocast_runs_on_cpu(tiny_config):
    result = train(tiny_config(run={"precision": "bf16", "max_steps": 2}))
    assert result.precision == "bf16" and all(torch.isfinite(torch.tensor(v)) for v in result.last_stats.values())


@pytest.mark.parametrize(("budget", "shown"), [
    ({"epochs": 2}, "epoch 2/2 .* 16/16 "),  # the epoch count ends the run: say so, with a step-based ETA
    ({"epochs": 1000, "max_steps": 12}, "epoch 2 .* 12/12 "),  # a step budget undercuts 1000 epochs: no "/1000"
    ({"epochs": 1000, "max_seconds": 60, "max_steps": 12}, "epoch 2 .* 12/\\? "),  # a time budget: no total, no ETA
])
def test_the_progress_display_promises_only_what_ends_the_run(tiny_config, budget, shown):
    screen = StringIO()
    train(tiny_config(run=budget), callbacks=[ProgressDisplay(Console(file=screen, width=200))])
    last = screen.getvalue().splitlines()[-1]
    assert re.match(shown, last), last
