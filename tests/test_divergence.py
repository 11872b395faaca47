"""The divergence guard: a NaN/Inf loss or gradient is caught at the step it happens; the run
stops with one line naming the step and the likely causes, or rolls back to the last good
checkpoint with halved learning rates.

The poison comes from a test plugin's loss, registered through the same registry as any
plugin: it wraps the non-saturating loss and turns one generator loss (or only its gradient)
into NaN at a chosen call.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganzoo.builtin.losses import BCEOptions, NonSaturatingLoss
from ganzoo.core.registry import PluginInfo, Registry, build_registry
from ganzoo.errors import DivergenceError
from ganzoo.plugin import LossSpec, hookimpl
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.divergence import gradients_finite
from ganzoo.training.loop import train
from ganzoo.training.outputs import MetricsLog
from ganzoo.training.plan import make_plan

POISON_AT = 5  # the generator loss of this call (= global step, one G update per step) is poisoned


class PoisonedLoss(NonSaturatingLoss):
    """Non-saturating, except the ``POISON_AT``-th generator loss is NaN (or has a NaN gradient)."""

    def __init__(self, gradient_only: bool) -> None:
        super().__init__(BCEOptions())
        self.calls, self.gradient_only = 0, gradient_only

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        loss = super().generator_loss(fake_logits)
        self.calls += 1
        if self.calls != POISON_AT:
            return loss
        if self.gradient_only:  # value 0, gradient 0.5 / sqrt(0) * 0 = NaN
            return loss + torch.sqrt(fake_logits.float().mean() * 0)
        return loss * float("nan")


class PoisonPlugin:
    @hookimpl
    def ganzoo_register_losses(self) -> list[LossSpec]:
        return [LossSpec("nan-loss", lambda options: PoisonedLoss(gradient_only=False)),
                LossSpec("nan-gradient", lambda options: PoisonedLoss(gradient_only=True))]


@pytest.fixture(scope="module")
def poisoned_registry() -> Registry:
    _, registry = build_registry([(PoisonPlugin(), PluginInfo("poison", "ganzoo-test-poison", "0"))])
    return registry


def _config(registry: Registry, tmp_path: Path, loss: str, **run: Any) -> Any:
    layer = {"variant": "mlp", "loss": {"name": loss},
             "data": {"name": "mnist-embedded", "image_size": 16, "limit": 128},
             "run": {"out_dir": str(tmp_path / "run"), "epochs": 3, "batch_size": 32, "device": "cpu",
                     "log_every_steps": 1, "sample_every_epochs": 0, **run}}
    return make_plan([layer], registry)


@pytest.mark.parametrize("loss", ["nan-loss", "nan-gradient"])
def test_a_nan_stops_the_run_naming_the_step_and_the_causes(poisoned_registry: Registry, tmp_path: Path,
                                                             loss: str) -> None:
    config = _config(poisoned_registry, tmp_path, loss)
    with pytest.raises(DivergenceError) as caught:
        train(config)
    message = str(caught.value)
    assert f"training diverged at step {POISON_AT}:" in message and "\n" not in message
    assert "lr 0.0002: try --lr 5e-05" in message and "run.on_divergence=rollback" in message
    rows = MetricsLog(tmp_path / "run" / "metrics.jsonl").read("step")
    assert rows and max(row["step"] for row in rows) < POISON_AT  # nothing logged from a diverged step


def test_rollback_reloads_the_last_good_checkpoint_and_halves_the_learning_rates(poisoned_registry: Registry,
                                                                                 tmp_path: Path) -> None:
    config = _config(poisoned_registry, tmp_path, "nan-loss", on_divergence="rollback", checkpoint_every_steps=2)
    result = train(config)
    assert result.progress.global_step == 3 * 4  # 128 images / 32 per batch = 4 steps per epoch, 3 epochs
    assert result.progress.rollbacks == 1
    assert all(math.isfinite(value) for value in result.last_stats.values())
    state, _, _ = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    learning_rates = [group["lr"] for key in ("g_optimizer", "d_optimizer")
                      for group in state[key]["param_groups"]]
    assert learning_rates == [pytest.approx(1e-4)] * 2


def test_rollback_gives_up_after_max_rollbacks(poisoned_registry: Registry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PoisonedLoss, "generator_loss", lambda self, logits: logits.float().mean() * float("nan"))
    config = _config(poisoned_registry, tmp_path, "nan-loss", on_divergence="rollback", checkpoint_every_steps=1,
                     max_rollbacks=2)
    with pytest.raises(DivergenceError, match="after 2 rollbacks that halved the learning rate"):
        train(config)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_any_nonfinite_gradient_element_is_caught_and_huge_finite_ones_are_not(bad: float) -> None:
    module = torch.nn.Linear(4, 3)
    module(torch.ones(2, 4)).sum().backward()
    module.weight.grad[0] = 1e30  # large, finite: no false alarm
    assert bool(gradients_finite([module], "fp32"))
    module.weight.grad[1, 2] = bad
    assert not bool(gradients_finite([module], "fp32"))
    assert gradients_finite([module], "fp16") is None  # the GradScaler owns overflow under fp16


# -- a generator whose images are NaN although losses and gradients are finite ------------------

OVERSHOOT = {"optimizer": {"name": "sgd", "lr": 10.0}, "run": {"max_steps": 4}}  # huge weights, eval-mode NaN


def test_a_generator_that_makes_nan_images_is_never_saved(tiny_config) -> None:
    plan = tiny_config(**OVERSHOOT)
    with pytest.raises(DivergenceError, match=r"diverged at step 4: the generator's images .* became NaN/Inf"):
        train(plan)
    out = plan.config.run.out_dir
    assert not (out / "generator.safetensors").exists() and not (out / "checkpoints" / "last.safetensors").exists()


def test_rollback_never_returns_to_a_checkpoint_that_makes_nan_images(tiny_config) -> None:
    from ganzoo.generators.weights import load_generator

    plan = tiny_config(**{**OVERSHOOT, "run": {**OVERSHOOT["run"], "on_divergence": "rollback"}})
    result = train(plan)
    assert result.progress.rollbacks >= 1
    images = load_generator(result.generator_path).sample(64, seed=3)
    assert torch.isfinite(images).all()
    state, _, _ = load_checkpoint(result.checkpoint_path)
    assert state["g_optimizer"]["param_groups"][0]["lr"] < 10.0
