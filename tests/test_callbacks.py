"""Callbacks watch a run: the events arrive in order, ``on_end`` comes last and carries the error
when the run fails, time spent in ``run.clock.paused()`` is not training time, and a plugin's
callback is chosen by name in ``run.callbacks``, its options validated and recorded.

Every run here is a real one (256 digits at 16x16, batch 32, 8 steps an epoch); the test
plugin registers its loss and callback through the real registry.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from pydantic import Field
from torch import Tensor

from ganzoo.builtin.losses import BCEOptions, NonSaturatingLoss
from ganzoo.core.registry import PluginInfo, Registry, build_registry
from ganzoo.errors import ConfigError, DivergenceError, PluginError
from ganzoo.plugin import Callback, CallbackSpec, LossSpec, Options, TrainingRun, hookimpl
from ganzoo.training.loop import train
from ganzoo.training.plan import RunPlan

STEPS_PER_EPOCH = 256 // 32


class EventRecorder(Callback):
    """Writes down every event, as short strings, and checks what each one is handed."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.error: BaseException | None = None

    def on_start(self, run: TrainingRun) -> None:
        self.events.append("start")

    def on_resume(self, run: TrainingRun, reason: str) -> None:
        self.events.append(f"resume {reason}")

    def on_step_end(self, run: TrainingRun, stats: Mapping[str, Tensor]) -> None:
        assert isinstance(stats["d_loss"], Tensor) and isinstance(stats["g_loss"], Tensor)
        self.events.append("step")

    def on_log(self, run: TrainingRun, stats: Mapping[str, float]) -> None:
        assert {"d_loss", "g_loss"} <= set(stats) and all(isinstance(value, float) for value in stats.values())
        self.events.append(f"log {run.progress.global_step}")

    def on_epoch_end(self, run: TrainingRun, epoch: int) -> None:
        assert run.progress.epoch == epoch
        self.events.append(f"epoch {epoch}")

    def on_checkpoint(self, run: TrainingRun, path: Path, best: bool) -> None:
        assert path.is_file() and run.run_dir.generator.is_file()
        self.events.append("checkpoint best" if best else "checkpoint")

    def on_end(self, run: TrainingRun, error: BaseException | None) -> None:
        self.events.append("end")
        self.error = error


class NaNLoss(NonSaturatingLoss):
    """Non-saturating, but the discriminator's loss is NaN: the run diverges at its first step."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return super().discriminator_loss(real_logits, fake_logits) * float("nan")


class StepLogOptions(Options):
    every: int = Field(1, gt=0, description="write every N-th step")
    filename: str = "steps.txt"


class StepLog(Callback):
    """A plugin's callback: writes the step number every ``every`` steps to its own file."""

    def __init__(self, options: StepLogOptions) -> None:
        self.options = options

    def on_step_end(self, run: TrainingRun, stats: Mapping[str, Tensor]) -> None:
        step = run.progress.global_step
        if step % self.options.every == 0:
            with open(run.run_dir.root / self.options.filename, "a", encoding="utf-8") as handle:
                handle.write(f"{step}\n")


class ExtrasPlugin:
    @hookimpl
    def ganzoo_register_losses(self) -> list[LossSpec]:
        return [LossSpec("nan", lambda options: NaNLoss(BCEOptions()))]

    @hookimpl
    def ganzoo_register_callbacks(self) -> list[CallbackSpec]:
        return [CallbackSpec("step-log", StepLog, StepLogOptions, "writes step numbers to a file")]


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Overrides ganzoo.testing's, so ``tiny_config`` resolves through it too."""
    _, registry = build_registry([(ExtrasPlugin(), PluginInfo("test-callbacks", "ganzoo-test-callbacks", "0.1"))])
    assert not registry.problems, registry.problems
    return registry


def test_a_callback_sees_the_events_of_a_run_in_order(tiny_config: Callable[..., RunPlan]) -> None:
    recorder = EventRecorder()
    plan = tiny_config("mlp", run={"epochs": 2, "log_every_steps": 4, "checkpoint_every_epochs": 1})
    train(plan, callbacks=[recorder])

    def epoch(number: int) -> list[str]:
        first = (number - 1) * STEPS_PER_EPOCH
        return ["step"] * 4 + [f"log {first + 4}"] + ["step"] * 4 + [f"log {first + 8}"] + [f"epoch {number}",
                                                                                              "checkpoint"]

    assert recorder.events == ["start", *epoch(1), *epoch(2), "checkpoint", "end"]
    assert recorder.error is None


def test_on_end_receives_the_error_when_training_diverges(tiny_config: Callable[..., RunPlan]) -> None:
    recorder = EventRecorder()
    with pytest.raises(DivergenceError) as caught:
        train(tiny_config("mlp", loss={"name": "nan"}), callbacks=[recorder])
    assert recorder.error is caught.value
    assert recorder.events[0] == "start" and recorder.events[-1] == "end"
    assert "checkpoint" not in recorder.events  # nothing is saved from a diverged state


class PausedWork(Callback):
    """Sleeps inside ``run.clock.paused()`` each epoch (like an evaluation), and briefly outside it once."""

    PAUSE = 0.3
    OUTSIDE = 0.1

    def __init__(self) -> None:
        self.moved_while_paused: list[float] = []
        self.moved_outside = 0.0

    def on_epoch_end(self, run: TrainingRun, epoch: int) -> None:
        before = run.clock.elapsed()
        with run.clock.paused():
            time.sleep(self.PAUSE)
        self.moved_while_paused.append(run.clock.elapsed() - before)
        if epoch == 1:
            before = run.clock.elapsed()
            time.sleep(self.OUTSIDE)
            self.moved_outside = run.clock.elapsed() - before


def test_paused_time_is_not_training_time(tiny_config: Callable[..., RunPlan]) -> None:
    work = PausedWork()
    started = time.perf_counter()
    result = train(tiny_config("mlp", run={"epochs": 2}), callbacks=[work])
    wall = time.perf_counter() - started

    assert len(work.moved_while_paused) == 2 and max(work.moved_while_paused) < 0.05
    assert work.moved_outside >= PausedWork.OUTSIDE
    assert 0 < result.progress.elapsed_seconds <= wall - 2 * PausedWork.PAUSE


# -- callbacks from plugins, chosen in the config ------------------------------------------------

def test_a_plugin_callback_is_chosen_by_name_and_recorded_with_its_options(tiny_config: Callable[..., RunPlan]) -> None:
    plan = tiny_config("mlp", run={"callbacks": [{"name": "step-log", "options": {"every": 3}}]})
    result = train(plan)

    assert (result.out_dir / "steps.txt").read_text().split() == ["3", "6"]
    recorded = json.loads((result.out_dir / "config.json").read_text())
    assert recorded["run"]["callbacks"] == [{"name": "step-log", "options": {"every": 3, "filename": "steps.txt"}}]


def test_a_misspelt_callback_option_names_where_it_is(tiny_config: Callable[..., RunPlan]) -> None:
    with pytest.raises(ConfigError, match=r"run\.callbacks\[0\]\.options") as caught:
        tiny_config("mlp", run={"callbacks": [{"name": "step-log", "options": {"evrey": 3}}]})
    assert "evrey" in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_callback_name_suggests_the_registered_one(tiny_config: Callable[..., RunPlan]) -> None:
    with pytest.raises(ConfigError, match="unknown callback 'step-logs'; did you mean 'step-log'"):
        tiny_config("mlp", run={"callbacks": [{"name": "step-logs"}]})


def test_a_run_resumes_with_another_callback_list(tiny_config: Callable[..., RunPlan]) -> None:
    """Callbacks watch, they do not define what is trained: changing them is no reason to refuse."""
    with_log = {"callbacks": [{"name": "step-log", "options": {"every": 4}}]}
    first = train(tiny_config("mlp", run={"epochs": 1, **with_log}))
    assert first.progress.global_step == STEPS_PER_EPOCH

    recorder = EventRecorder()
    resumed = train(tiny_config("mlp", run={"epochs": 2}), callbacks=[recorder], resume=True)
    assert resumed.progress.global_step == 2 * STEPS_PER_EPOCH
    assert recorder.events[:2] == ["start", "resume resume"]
    assert (first.out_dir / "steps.txt").read_text().split() == ["4", "8"]  # the log stopped with its callback
    assert json.loads((first.out_dir / "config.json").read_text())["run"]["callbacks"] == []

    with pytest.raises(ConfigError, match="cannot resume .*loss"):  # what is trained may not change
        train(tiny_config("mlp", run={"epochs": 3}, loss={"name": "hinge"}), resume=True)
    assert all(math.isfinite(value) for value in resumed.last_stats.values())


class BrokenLogger(Callback):
    def on_log(self, run: TrainingRun, stats: Mapping[str, float]) -> None:
        raise KeyError("d_los")


def test_a_third_party_callback_that_raises_is_named_not_an_internal_error(
        tiny_config: Callable[..., RunPlan]) -> None:
    with pytest.raises(PluginError) as caught:
        train(tiny_config(run={"max_steps": 2}), callbacks=[BrokenLogger()])
    message = str(caught.value)
    assert "callback BrokenLogger (" in message and "failed in on_log: KeyError: 'd_los'" in message
    assert "\n" not in message
