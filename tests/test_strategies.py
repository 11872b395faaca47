"""The alternating strategy and its building blocks, on real models and real batches.

* ``fake_batch``: "fresh" generates the D update's batch without autograd and draws another for
  the G update; "reuse" generates once, with autograd, and the G update backpropagates through it.
* the template's hooks: a penalty is added to the D loss and logged under its name;
  ``after_discriminator_update`` runs after every D optimiser step.
* the relativistic-average loss, against values worked out by hand, and the real logits the
  generator update hands only to a loss that asks for them.
* ``Game.optimize`` zeroes the gradients it steps on.

A step runs on the ``Game`` a real ``TrainingRun`` assembles; where a test must see inside a
step, it wraps the plugin side (a generator, a loss), never ganzoo's own code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor

from ganzoo.builtin.losses import BCEOptions, NonSaturatingLoss, RelativisticAverageLoss
from ganzoo.core.registry import PluginInfo, Registry, build_registry
from ganzoo.plugin import (
    AlternatingOptions,
    AlternatingStrategy,
    Batch,
    Callback,
    Game,
    Generator,
    StrategySpec,
    generator_update,
    hookimpl,
)
from ganzoo.runtime.distributed import Cluster
from ganzoo.runtime.precision import Precision
from ganzoo.testing import assert_finite_step, logged_steps
from ganzoo.training.build import build
from ganzoo.training.loop import TrainingRun, train
from ganzoo.training.plan import RunPlan
from ganzoo.training.rundir import RunDirectory

CPU = torch.device("cpu")
DRIFT_WEIGHT = 0.01


class DriftPenalisedStrategy(AlternatingStrategy):
    """ProGAN's drift penalty on D's real logits, and a count of D updates with the Adam step each saw."""

    def __init__(self, options: AlternatingOptions) -> None:
        super().__init__(options)
        self.adam_steps_seen: list[int] = []

    def discriminator_penalty(self, game: Game, real: Batch, fake: Batch) -> dict[str, Tensor]:
        return {"drift": DRIFT_WEIGHT * game.discriminator(real.images, real.labels).float().square().mean()}

    def after_discriminator_update(self, game: Game) -> None:
        first = next(iter(game.discriminator.parameters()))
        self.adam_steps_seen.append(int(game.d_optimizer.state[first]["step"]))


class StrategyPlugin:
    @hookimpl
    def ganzoo_register_strategies(self) -> list[StrategySpec]:
        return [StrategySpec("drift-penalised", DriftPenalisedStrategy, AlternatingOptions)]


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Overrides ganzoo.testing's, so ``tiny_config`` resolves through it too."""
    _, registry = build_registry([(StrategyPlugin(), PluginInfo("drift", "ganzoo-test-drift", "0.1"))])
    return registry


def training_run(plan: RunPlan) -> TrainingRun:
    """A run's parts and ``Game``, assembled as ``train`` does, without starting the loop."""
    return TrainingRun(plan, build(plan, CPU), run_dir=RunDirectory(plan.config.run.out_dir),
                       precision=Precision(CPU, "fp32"), cluster=Cluster())


def first_batches(run: TrainingRun) -> list[Batch]:
    return next(run.batches_of_this_epoch())


class GradModeRecorder(Generator):
    """Wraps a real generator; records, per forward, whether autograd was on and what it made."""

    def __init__(self, inner: Generator) -> None:
        super().__init__()
        self.inner = inner
        self.latent_dim, self.image_shape, self.num_classes = inner.latent_dim, inner.image_shape, inner.num_classes
        self.grad_enabled: list[bool] = []
        self.outputs: list[Tensor] = []

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        images = self.inner(latents, labels)
        self.outputs.append(images)
        return images


def alternating(fake_batch: str, d_steps: int = 1) -> dict[str, object]:
    return {"name": "alternating", "options": {"fake_batch": fake_batch, "d_steps": d_steps}}


# -- fake_batch: fresh or reuse ------------------------------------------------------------------

@pytest.mark.parametrize(("fake_batch", "d_steps", "grad_enabled"), [
    ("fresh", 1, [False, True]),         # D's batch without a graph, then a fresh one for G
    ("reuse", 1, [True]),                # one batch, with its graph, for both updates
    ("fresh", 2, [False, False, True]),
    ("reuse", 2, [False, True]),         # only the last D update's batch is reused
])
def test_the_generator_runs_with_autograd_only_where_its_graph_is_used(
        tiny_config: Callable[..., RunPlan], fake_batch: str, d_steps: int, grad_enabled: list[bool]) -> None:
    run = training_run(tiny_config("mlp", strategy=alternating(fake_batch, d_steps)))
    recorder = GradModeRecorder(run.game.generator)
    run.parts.strategy.step(replace(run.game, generator=recorder), first_batches(run))
    assert recorder.grad_enabled == grad_enabled
    assert [output.grad_fn is not None for output in recorder.outputs] == grad_enabled


def test_reuse_backpropagates_the_generator_update_through_the_reused_batch(
        tiny_config: Callable[..., RunPlan]) -> None:
    run = training_run(tiny_config("mlp", strategy=alternating("reuse")))
    recorder = GradModeRecorder(run.game.generator)
    before = [parameter.detach().clone() for parameter in recorder.parameters()]
    stats = run.parts.strategy.step(replace(run.game, generator=recorder), first_batches(run))

    assert len(recorder.outputs) == 1
    assert all(parameter.grad is not None for parameter in recorder.parameters())
    assert any(parameter.grad.abs().sum() > 0 for parameter in recorder.parameters())
    assert all(not torch.equal(old, new) for old, new in zip(before, recorder.parameters()))
    assert math.isfinite(float(stats["g_loss"])) and math.isfinite(float(stats["d_loss"]))


@pytest.mark.parametrize("fake_batch", ["fresh", "reuse"])
def test_both_fake_batch_options_train_to_finite_losses(tiny_config: Callable[..., RunPlan], fake_batch: str) -> None:
    result = train(tiny_config("mlp", strategy=alternating(fake_batch), run={"max_steps": 3, "log_every_steps": 1}))
    assert_finite_step(result, (1, 16, 16))
    assert len(logged_steps(result)) == 3


# -- the template's hooks ------------------------------------------------------------------------

class StrategyOf(Callback):
    """Keeps the run's strategy object, to look at after the run."""

    def on_start(self, run: TrainingRun) -> None:
        self.strategy = run.parts.strategy


def test_a_penalty_is_added_to_the_discriminator_loss_and_logged_under_its_name(
        tiny_config: Callable[..., RunPlan], tmp_path: Path) -> None:
    """Same seed, same first batch: the penalised first d_loss is the plain one plus the drift."""
    one_step = {"max_steps": 1, "log_every_steps": 1}
    plain = logged_steps(train(tiny_config("mlp", run={**one_step, "out_dir": str(tmp_path / "plain")})))
    penalised = logged_steps(train(tiny_config("mlp", strategy={"name": "drift-penalised"},
                                               run={**one_step, "out_dir": str(tmp_path / "drift")})))
    assert "drift" not in plain[0] and penalised[0]["drift"] > 0
    assert penalised[0]["d_loss"] == pytest.approx(plain[0]["d_loss"] + penalised[0]["drift"], rel=1e-5)
    assert penalised[0]["d_real"] == pytest.approx(plain[0]["d_real"], rel=1e-5)  # the loss's own terms, unchanged


def test_after_discriminator_update_runs_after_every_discriminator_step(tiny_config: Callable[..., RunPlan]) -> None:
    watcher = StrategyOf()
    plan = tiny_config("mlp", strategy={"name": "drift-penalised", "options": {"d_steps": 2}}, run={"max_steps": 3})
    result = train(plan, callbacks=[watcher])
    assert result.progress.global_step == 3
    assert watcher.strategy.adam_steps_seen == [1, 2, 3, 4, 5, 6]  # d_steps per step, each after its D step


# -- the relativistic-average loss ---------------------------------------------------------------

def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


REAL, FAKE = [1.0, -0.5], [0.2, -1.0]  # mean real 0.25, mean fake -0.4


def test_relativistic_average_loss_matches_the_formulas_worked_by_hand() -> None:
    """BCE with logits: target 1 costs softplus(-x), target 0 softplus(x); each averaged over the batch."""
    mean_real, mean_fake = sum(REAL) / 2, sum(FAKE) / 2
    d_expected = (sum(softplus(-(r - mean_fake)) for r in REAL) / 2      # BCE(r - mean f, 1)
                  + sum(softplus(f - mean_real) for f in FAKE) / 2)      # + BCE(f - mean r, 0)
    g_expected = (sum(softplus(-(f - mean_real)) for f in FAKE) / 2      # BCE(f - mean r, 1)
                  + sum(softplus(r - mean_fake) for r in REAL) / 2)      # + BCE(r - mean f, 0)
    assert (d_expected, g_expected) == pytest.approx((0.4824 + 0.4602, 1.1102 + 1.1324), abs=1e-4)  # by calculator

    loss = RelativisticAverageLoss()
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    assert float(loss.discriminator_loss(real, fake)) == pytest.approx(d_expected, rel=1e-6)
    assert float(loss.generator_loss(fake, real)) == pytest.approx(g_expected, rel=1e-6)
    assert loss.generator_needs_real_logits


class RealLogitsRecorder(NonSaturatingLoss):
    """The non-saturating loss, saying whether it wants real logits and recording what it got."""

    def __init__(self, wants_real_logits: bool) -> None:
        super().__init__(BCEOptions())
        self.generator_needs_real_logits = wants_real_logits
        self.real_logits_seen: list[Tensor | None] = []

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        self.real_logits_seen.append(real_logits)
        return super().generator_loss(fake_logits)


@pytest.mark.parametrize("wants_real_logits", [False, True])
def test_generator_update_passes_real_logits_only_to_a_loss_that_asks(
        tiny_config: Callable[..., RunPlan], wants_real_logits: bool) -> None:
    run = training_run(tiny_config("mlp"))
    loss = RealLogitsRecorder(wants_real_logits)
    real = first_batches(run)[0]
    generator_update(replace(run.game, loss=loss), real)

    [seen] = loss.real_logits_seen
    if not wants_real_logits:
        assert seen is None
        return
    assert seen is not None and seen.shape == (len(real),) and not seen.requires_grad
    with torch.no_grad():  # D did not move in the G update, so it scores the reals the same now
        assert torch.allclose(seen, run.game.discriminator(real.images, real.labels))


def test_training_with_the_relativistic_average_loss_is_finite(run_cli: Callable[..., object],
                                                               tmp_path: Path) -> None:
    trained = run_cli("train", "mlp", "--loss", "relativistic-average", "--max-steps", "3", "--image-size", "16",
                      "--limit", "128", "--batch-size", "32", "--device", "cpu", "--out", "run", "--quiet",
                      "--set", "run.log_every_steps=1")
    assert trained.returncode == 0, trained.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if row["kind"] == "step"]
    assert len(steps) == 3
    assert all(math.isfinite(row[key]) for row in steps for key in ("d_loss", "g_loss", "d_real", "d_fake"))
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["loss"]["name"] == "relativistic-average"


# -- Game.optimize -------------------------------------------------------------------------------

def test_optimize_zeroes_gradients_before_it_steps(tiny_config: Callable[..., RunPlan]) -> None:
    """Garbage left in ``.grad`` does not leak into the step: it equals a clean one."""
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(training_run(tiny_config("mlp")))
    real = first_batches(runs[0])[0]
    fake = torch.rand_like(real.images) * 2 - 1
    for parameter in runs[1].game.discriminator.parameters():
        parameter.grad = torch.full_like(parameter, 1e3)

    for run in runs:
        game = run.game
        d_loss = game.loss.discriminator_loss(game.discriminator(real.images), game.discriminator(fake))
        game.optimize(d_loss, game.d_optimizer)

    clean, dirty = (list(run.game.discriminator.parameters()) for run in runs)
    assert all(torch.equal(a, b) for a, b in zip(clean, dirty))
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(clean, dirty))
