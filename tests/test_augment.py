"""DiffAugment: each augmentation keeps shapes, lets gradients through and does what it says on
hand-made images; D sees augmented reals and fakes in both updates, under every registered
strategy; a plugin adds its own augmentation through ``ganzoo_register_augmentations``, and
``ganzoo list`` shows them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganzoo.builtin.augmentations import color, cutout, translation
from ganzoo.core.registry import PluginInfo, build_registry, get_registry
from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.plugin import AlternatingOptions, AlternatingStrategy, AugmentationSpec, StrategySpec, hookimpl
from ganzoo.testing import assert_discriminator_sees_only_augmented_images, logged_steps
from ganzoo.training.augment import Augmenter
from ganzoo.training.checkpoints import load_checkpoint
from ganzoo.training.loop import train
from ganzoo.training.plan import make_plan

AUGMENTATIONS = {"translation": translation, "cutout": cutout, "color": color}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_shapes_are_kept_and_gradients_pass(name: str) -> None:
    images = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    out = AUGMENTATIONS[name](images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    out.square().sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_translation_shifts_whole_images_by_at_most_an_eighth_with_zero_fill() -> None:
    images = torch.arange(1.0, 1 + 64 * 64).reshape(1, 1, 64, 64).expand(64, 1, 64, 64).contiguous()
    out = translation(images, torch.Generator().manual_seed(1))
    shifts = set()
    for image in out[:, 0]:
        # the pixel holding value 1 + 64 * r + c came from (r, c): find the shift from any kept pixel
        kept = image.nonzero()
        y, x = kept[0].tolist()
        source = int(image[y, x]) - 1
        dy, dx = source // 64 - y, source % 64 - x
        assert abs(dy) <= 8 and abs(dx) <= 8  # 64 / 8
        expected = torch.zeros(64, 64)
        rows, cols = torch.arange(64), torch.arange(64)
        ok_rows, ok_cols = ((rows + dy >= 0) & (rows + dy < 64)), ((cols + dx >= 0) & (cols + dx < 64))
        grid = images[0, 0]
        expected[ok_rows[:, None] & ok_cols[None, :]] = grid[(rows + dy)[ok_rows]][:, (cols + dx)[ok_cols]].flatten()
        assert torch.equal(image, expected)
        shifts.add((dy, dx))
    assert len(shifts) > 10  # per-image random shifts


def test_cutout_zeroes_one_square_of_half_the_side_at_most() -> None:
    images = torch.ones(200, 1, 16, 16)
    out = cutout(images, torch.Generator().manual_seed(2))
    zeroed = (out == 0).flatten(1).sum(dim=1)
    assert int(zeroed.max()) == 64  # an 8x8 square, whole when it lies inside the image
    assert int(zeroed.min()) > 0 and set(out.unique().tolist()) <= {0.0, 1.0}
    for image in out[:, 0]:
        rows, cols = (image == 0).any(dim=1).nonzero().flatten(), (image == 0).any(dim=0).nonzero().flatten()
        assert int((image == 0).sum()) == len(rows) * len(cols)  # a rectangle (a clipped square)
        assert len(rows) <= 8 and len(cols) <= 8


def test_color_on_a_grey_constant_image_is_brightness_only() -> None:
    images = torch.full((100, 1, 4, 4), 0.25)
    out = color(images, torch.Generator().manual_seed(3))
    offsets = out[:, 0, 0, 0] - 0.25
    assert torch.allclose(out, out[:, :, :1, :1].expand_as(out))  # still constant: contrast, saturation act on 0
    assert float(offsets.min()) >= -0.5 and float(offsets.max()) <= 0.5 and float(offsets.std()) > 0.1


def test_the_augmenter_draws_only_from_its_own_rng_and_restores_it() -> None:
    augmenter = Augmenter([translation, cutout, color], torch.device("cpu"), seed=5)
    images = torch.rand(4, 3, 8, 8)
    state = augmenter.state_dict()
    torch.manual_seed(0)
    first = augmenter(images)
    global_state = torch.get_rng_state()
    augmenter.load_state_dict(state)
    assert torch.equal(augmenter(images), first)
    assert torch.equal(torch.get_rng_state(), global_state)  # the run's RNG is untouched
    assert not Augmenter([], torch.device("cpu"), seed=0)


class FlipPlugin:
    """A third party's augmentation: a horizontal flip of a random half of the batch."""

    calls = 0

    @staticmethod
    def flip(images: Tensor, rng: torch.Generator) -> Tensor:
        FlipPlugin.calls += 1
        flip = torch.rand(len(images), generator=rng, device=images.device) < 0.5
        return torch.where(flip[:, None, None, None], images.flip(-1), images)

    @hookimpl
    def ganzoo_register_augmentations(self) -> list[AugmentationSpec]:
        return [AugmentationSpec("my-flip", FlipPlugin.flip, "flip half the batch left to right")]


def base_config(out: Path, **sections: Any) -> dict[str, Any]:
    return {"variant": "mlp", "data": {"name": "mnist-embedded", "image_size": 16, "limit": 256},
            "run": {"out_dir": str(out), "epochs": 1, "max_steps": 3, "batch_size": 32, "device": "cpu",
                    "log_every_steps": 1, "num_fixed_samples": 16, "sample_every_epochs": 0}, **sections}


def test_a_plugin_augmentation_is_applied_to_every_image_d_sees(tmp_path: Path) -> None:
    _, registry = build_registry(extra_plugins=[(FlipPlugin(), PluginInfo("flip", "my-flip-plugin", "0.1"))])
    assert not registry.problems and registry.get("augmentation", "my-flip").plugin.distribution == "my-flip-plugin"
    assert {"translation", "cutout", "color", "my-flip"} <= set(registry.names("augmentation"))
    FlipPlugin.calls = 0
    plan = make_plan([base_config(tmp_path / "run", augment={"policy": ["color", "my-flip"]})], registry)
    result = train(plan)
    assert result.progress.global_step == 3 and all(math.isfinite(v) for v in result.last_stats.values())
    # each step: D update (real, fake) + G update (fake) = 3 batches through the policy
    assert FlipPlugin.calls == 3 * 3


TINY_DCGAN = {"data": {"image_size": 32, "limit": 64}, "model": {"ngf": 4, "ndf": 4, "latent_dim": 8}}
TINY_RESNET = {"data": {"limit": 64}, "model": {"latent_dim": 8, "g_channels": 8, "d_channels": 8}}
# Every adversarial strategy, and every path inside one that scores images: the D update's reals
# and fakes, the G update's fakes, its reals for a loss that asks for them, penalties' images.
EVERY_PATH = {
    "alternating": ("mlp", {}),
    "alternating, real logits in the G update": ("mlp", {"loss": {"name": "relativistic-average"}}),
    "r1": ("mlp", {"strategy": {"name": "r1", "options": {"every": 1}}}),
    "wgan-clip": ("wgan-clip", TINY_DCGAN),
    "wgan-gp": ("wgan-gp", TINY_DCGAN),
    "acgan": ("acgan", TINY_RESNET),
}


@pytest.mark.parametrize("case", sorted(EVERY_PATH))
def test_every_strategy_shows_d_only_augmented_images(case: str, tmp_path: Path) -> None:
    variant, sections = EVERY_PATH[case]
    config = base_config(tmp_path / "run", augment={"policy": "translation,cutout"},
                         **{key: value for key, value in sections.items() if key != "data"})
    config["variant"] = variant
    config["data"].update(sections.get("data", {}))
    config["run"].update(batch_size=8, max_steps=2)
    assert_discriminator_sees_only_augmented_images(make_plan([config]))


def test_the_cases_above_cover_every_adversarial_strategy() -> None:
    registry = get_registry()
    adversarial = {name for name in registry.names("strategy") if registry.get("strategy", name).spec.adversarial}
    covered = {make_plan([{"variant": variant, **sections}]).strategy.entry.spec.name
               for variant, sections in EVERY_PATH.values()}
    assert covered == adversarial


def test_the_audit_catches_a_strategy_that_skips_the_augmentation(tmp_path: Path) -> None:
    class Careless(AlternatingStrategy):  # scores an extra, unaugmented real batch every D update
        def discriminator_penalty(self, game: Any, real: Any, fake: Any) -> dict[str, Tensor]:
            return {"careless": 0 * game.discriminator(real.images, real.labels).mean()}

    class CarelessPlugin:
        @hookimpl
        def ganzoo_register_strategies(self) -> list[StrategySpec]:
            return [StrategySpec("careless", Careless, AlternatingOptions, "alternating, plus one unaugmented D call")]

    _, registry = build_registry(extra_plugins=[(CarelessPlugin(), PluginInfo("careless", "careless-plugin", "0.1"))])
    config = base_config(tmp_path / "run", augment={"policy": "translation"}, strategy={"name": "careless"})
    with pytest.raises(AssertionError, match="did not come out of game.augment"):
        assert_discriminator_sees_only_augmented_images(make_plan([config], registry))
    with pytest.raises(ValueError, match="augment.policy"):
        assert_discriminator_sees_only_augmented_images(make_plan([base_config(tmp_path / "plain")], registry))


def test_an_unknown_augmentation_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="augmentation 'transaltion'"):
        make_plan([base_config(tmp_path / "run", augment={"policy": "transaltion"})])


def test_ganzoo_list_shows_the_augmentations(run_cli: Any) -> None:
    listing = run_cli("list")
    assert listing.returncode == 0, listing.stderr
    assert "Augmentations" in listing.stdout
    assert all(name in listing.stdout for name in ("translation", "cutout", "color"))


# -- the probability of each augmentation, and ADA's control of it -----------------------------


def plus_one(images: Tensor, rng: torch.Generator) -> Tensor:
    """A test augmentation whose effect is countable: every pixel + 1."""
    return images + 1


def test_probability_zero_is_the_identity_and_one_is_plain_diffaugment() -> None:
    images = torch.rand(16, 1, 8, 8)
    assert torch.equal(Augmenter([translation, cutout], torch.device("cpu"), seed=3, probability=0.0)(images), images)
    always = Augmenter([translation, cutout], torch.device("cpu"), seed=3)
    rng = torch.Generator().manual_seed(3)  # probability 1 draws nothing beyond the augmentations' own
    assert torch.equal(always(images), cutout(translation(images, rng), rng))


def test_each_augmentation_meets_each_image_with_the_probability() -> None:
    augmenter = Augmenter([plus_one, plus_one], torch.device("cpu"), seed=4, probability=0.3)
    counts = torch.bincount(augmenter(torch.zeros(20_000, 1, 2, 2))[:, 0, 0, 0].long(), minlength=3) / 20_000
    expected = torch.tensor([0.7 * 0.7, 2 * 0.3 * 0.7, 0.3 * 0.3])  # independent per augmentation and image
    assert torch.allclose(counts, expected, atol=0.015), counts
    images = torch.zeros(64, 1, 2, 2, requires_grad=True)
    augmenter(images).sum().backward()
    assert torch.equal(images.grad, torch.ones_like(images))  # where() passes the gradient of either branch


class SignedCritic(torch.nn.Module):
    """D(x) = the sign it is told to give, per image: +1 for all, or +1 for the first ``positive``."""

    def __init__(self) -> None:
        super().__init__()
        self.positive = 10**9

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        scores = -torch.ones(len(images))
        scores[:self.positive] = 1.0
        return scores + 0 * images.sum()


def play(augmenter: Augmenter, critic: SignedCritic, steps: range, batch: int = 50) -> list[dict[str, float]]:
    """``steps`` steps of a D update: augmented reals and fakes through ``critic``."""
    rows = []
    for step in steps:
        reals = torch.zeros(batch, 1, 4, 4)
        augmenter.begin_step([reals])
        critic(augmenter(reals))
        critic(augmenter(torch.zeros(batch, 1, 4, 4)))  # a fake batch: its scores must not count
        rows.append({k: float(v) for k, v in augmenter.end_step(step, batch, all_sum=lambda t: t).items()})
    return rows


def test_ada_moves_the_probability_by_sign_of_rt_minus_target_times_images_over_adjust_images() -> None:
    augmenter = Augmenter([plus_one], torch.device("cpu"), seed=0, probability=0.0, target=0.6, adjust_every=2,
                          adjust_images=500)
    critic = SignedCritic()
    augmenter.watch(critic, threshold=0.0)
    # D calls every augmented real real (r_t = 1 > 0.6, overfitting): p rises by 50 x 2 / 500 = 0.2 every 2 steps
    rows = play(augmenter, critic, range(1, 13))
    assert [round(row["augment_p"], 6) for row in rows] == [0, 0, .2, .2, .4, .4, .6, .6, .8, .8, 1, 1]
    assert rows[-1]["augment_rt"] == 1.0
    # 35 of 50 real (r_t = (35 - 15) / 50 = 0.4 < 0.6): p falls again, never below 0
    critic.positive = 35
    rows = play(augmenter, critic, range(13, 31))
    assert [round(row["augment_p"], 6) for row in rows[1::2]] == [1, .8, .6, .4, .2, 0, 0, 0, 0]
    assert abs(rows[-1]["augment_rt"] - 0.4) < 1e-6


def test_ada_sums_the_signs_over_ranks() -> None:
    augmenter = Augmenter([plus_one], torch.device("cpu"), seed=0, probability=0.0, target=0.6, adjust_every=1,
                          adjust_images=1000)
    critic = SignedCritic()
    critic.positive = 35  # this rank alone: r_t = (35 - 15) / 50 = 0.4, below the target
    augmenter.watch(critic, threshold=0.0)
    reals = torch.zeros(50, 1, 4, 4)
    augmenter.begin_step([reals])
    critic(augmenter(reals))
    other_rank = torch.tensor([50.0, 50.0])  # the other rank's 50 reals, all scored real
    row = augmenter.end_step(1, 100, all_sum=lambda signs: signs + other_rank)
    assert abs(float(row["augment_rt"]) - (20 + 50) / 100) < 1e-6  # 0.7 over both ranks: above the target
    assert float(row["augment_p"]) == 0.0 and abs(float(augmenter.probability) - 100 / 1000) < 1e-7


def test_ada_refuses_a_strategy_that_never_shows_d_an_augmented_real() -> None:
    augmenter = Augmenter([plus_one], torch.device("cpu"), seed=0, target=0.6, adjust_every=2)
    critic = SignedCritic()
    augmenter.watch(critic, threshold=0.0)
    for step in (1, 2):
        reals = torch.zeros(8, 1, 4, 4)
        augmenter.begin_step([reals])
        critic(augmenter(reals.clone()))  # a copy of the reals is not the batch the loop handed over
        if step == 2:
            with pytest.raises(PluginError, match="showed D none"):
                augmenter.end_step(step, 8, all_sum=lambda t: t)
        else:
            augmenter.end_step(step, 8, all_sum=lambda t: t)


def test_an_adaptive_run_logs_p_and_rt_and_follows_the_rule(tmp_path: Path) -> None:
    config = base_config(tmp_path / "run", augment={"policy": "translation,color", "target": 0.6,
                                                    "adjust_every": 1, "adjust_images": 320})
    config["run"].update(max_steps=8, checkpoint_every_steps=4)
    result = train(make_plan([config]))
    rows = logged_steps(result)
    assert [row["step"] for row in rows] == list(range(1, 9))
    assert rows[0]["augment_p"] == 0.0
    for before, after in zip(rows, rows[1:]):  # 32 images per step / 320: p moves by 0.1 after each step
        expected = min(1.0, max(0.0, before["augment_p"] + 0.1 * math.copysign(1, before["augment_rt"] - 0.6)))
        assert abs(after["augment_p"] - expected) < 1e-6, (before, after)
        assert -1.0 <= after["augment_rt"] <= 1.0
    state, _, _ = load_checkpoint(result.checkpoint_path)
    assert set(state["augment"]) == {"rng", "probability", "signs", "last_rt"}


def test_a_resumed_adaptive_run_continues_exactly(tmp_path: Path) -> None:
    augment = {"policy": "translation,cutout", "target": 0.6, "adjust_every": 3, "adjust_images": 640}
    whole = base_config(tmp_path / "whole", augment=augment)
    whole["run"].update(max_steps=8)
    reference = logged_steps(train(make_plan([whole])))
    halves = base_config(tmp_path / "halves", augment=augment)
    halves["run"].update(max_steps=4, checkpoint_every_steps=4)
    train(make_plan([halves]))
    halves["run"].update(max_steps=8)
    resumed = logged_steps(train(make_plan([halves]), resume=True))

    def without_clock(rows: list[dict[str, float]]) -> list[dict[str, float]]:
        return [{k: v for k, v in row.items() if k not in ("elapsed_s", "images_per_s")} for row in rows]

    assert without_clock(resumed) == without_clock(reference)  # step 4 falls inside an adjustment window


@pytest.mark.parametrize(("settings", "message"), [
    (["--set", "augment.target=0.6"], "augment.target sets how often augment.policy is applied, and the policy is empty"),
    (["--set", "augment.policy=translation", "--set", "augment.target=1.5"], "augment.target"),
    (["--set", "augment.policy=translation", "--set", "augment.probability=-0.1"], "augment.probability"),
])
def test_bad_augment_settings_get_one_line(settings: list[str], message: str, run_cli: Any) -> None:
    done = run_cli("train", "mlp", "--device", "cpu", "--limit", "64", "--max-steps", "1", "--out", "run", *settings)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_ada_refuses_a_loss_without_a_real_fake_threshold(run_cli: Any, tmp_path: Path) -> None:
    done = run_cli("train", "wgan-gp", "--device", "cpu", "--limit", "64", "--batch-size", "8", "--max-steps", "1",
                   "--out", "run",
                   "--set", "augment.policy=translation", "--set", "augment.target=0.6")
    assert done.returncode == 2, done.stderr
    assert "loss 'wasserstein' has no output value that separates real from fake" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run" / "config.json").exists()
