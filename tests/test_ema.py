"""EMA of the generator weights: the decay schedule and the update by hand, what a run samples,
saves and checkpoints with it, and a resumed run with EMA, DiffAugment and R1 on that is
bit-for-bit the uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo.config import EMAConfig
from ganzoo.core.interfaces import Generator
from ganzoo.io.safe_state import read_safetensors
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.ema import GeneratorEMA, ema_decay
from ganzoo.training.loop import train


def test_decay_is_zero_before_the_start_then_constant() -> None:
    config = EMAConfig(enabled=True, decay=0.99, start_step=3)
    assert [ema_decay(step, config) for step in range(6)] == [0.0, 0.0, 0.0, 0.99, 0.99, 0.99]


def test_rampup_is_min_of_decay_and_one_plus_t_over_ten_plus_t() -> None:
    config = EMAConfig(enabled=True, decay=0.5, start_step=2, rampup=True)
    # t = step - start_step: 1/10, 2/11, 3/12, 4/13, then (5/14 = 0.357...) ... capped at 0.5 from t = 8 (9/18)
    expected = [0.0, 0.0, 1 / 10, 2 / 11, 3 / 12, 4 / 13, 5 / 14, 6 / 15, 7 / 16, 8 / 17, 0.5, 0.5]
    assert [ema_decay(step, config) for step in range(12)] == pytest.approx(expected, abs=0, rel=1e-15)


class Tiny(Generator):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = 2, (1, 1, 2)
        self.linear = nn.Linear(2, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.norm(self.linear(latents))).reshape(-1, 1, 1, 2)


def test_update_moves_each_weight_by_one_minus_decay_and_copies_buffers() -> None:
    live = Tiny()
    ema = GeneratorEMA(live, EMAConfig(enabled=True, decay=0.75))
    before = {name: tensor.clone() for name, tensor in ema.state_dict().items()}
    with torch.no_grad():
        for parameter in live.parameters():
            parameter.add_(torch.arange(parameter.numel(), dtype=parameter.dtype).reshape(parameter.shape) + 1.0)
    live(torch.randn(8, 2))  # train mode: BatchNorm running statistics move
    ema.update(live, step=0)
    for name, parameter in live.named_parameters():
        expected = 0.75 * before[name] + 0.25 * parameter.detach()
        torch.testing.assert_close(ema.state_dict()[name], expected, rtol=0, atol=1e-6)
    for name, buffer in live.named_buffers():
        assert torch.equal(ema.state_dict()[name], buffer), name
    assert not any(parameter.requires_grad for parameter in ema.module.parameters())


def test_before_start_step_the_copy_is_the_generator() -> None:
    live = Tiny()
    ema = GeneratorEMA(live, EMAConfig(enabled=True, decay=0.9, start_step=5))
    with torch.no_grad():
        live.linear.weight.add_(1.0)
    ema.update(live, step=4)
    assert torch.equal(ema.module.linear.weight, live.linear.weight)


TOOLBOX = {"ema": {"enabled": True, "decay": 0.8, "rampup": True},
           "augment": {"policy": "translation,cutout,color"},
           "strategy": {"name": "r1", "options": {"every": 2, "gamma": 1.0}}}


def plan_for(tiny_config: Any, out: Path, steps: int, **run: Any) -> Any:
    return tiny_config("mlp", **TOOLBOX, model={"generator_widths": [32, 64], "discriminator_widths": [64],
                                                 "latent_dim": 8},
                       run={"out_dir": str(out), "max_steps": steps, "epochs": 2, "checkpoint_every_steps": 1,
                            "sample_every_epochs": 0, **run})


def test_the_saved_generator_is_the_ema_copy_and_the_checkpoint_keeps_both(tiny_config: Any, tmp_path: Path) -> None:
    result = train(plan_for(tiny_config, tmp_path / "run", 5))
    state, progress, _ = load_checkpoint(result.checkpoint_path)
    saved, metadata = read_safetensors(result.generator_path, "generator")
    assert progress.global_step == 5 and metadata["weights"] == "ema"
    assert set(saved) == set(state["ema_generator"]) == set(state["generator"])
    assert all(torch.equal(saved[name], state["ema_generator"][name]) for name in saved)
    assert any(not torch.equal(state["generator"][name], state["ema_generator"][name]) for name in saved)
    assert "rng" in state["augment"]


def test_resumed_run_with_ema_augmentation_and_r1_is_bit_identical(tiny_config: Any, tmp_path: Path) -> None:
    reference = train(plan_for(tiny_config, tmp_path / "reference", 12))  # 8 steps per epoch: crosses one
    stopped = train(plan_for(tiny_config, tmp_path / "resumed", 5))
    assert stopped.progress.global_step == 5
    resumed = train(plan_for(tiny_config, tmp_path / "resumed", 12), resume=True)
    assert resumed.progress.global_step == 12
    for name in ("checkpoints/last.safetensors", "generator.safetensors"):
        expected, _ = read_safetensors(reference.out_dir / name, name)
        got, _ = read_safetensors(resumed.out_dir / name, name)
        assert expected.keys() == got.keys()
        different = [key for key in expected if not torch.equal(expected[key], got[key])]
        assert not different, f"{name}: {different[:5]} differ"
