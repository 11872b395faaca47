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

from ganzoo.augment import Augmenter, color, cutout, translation
from ganzoo.errors import UnknownNameError
from ganzoo.plan import make_plan
from ganzoo.plugin import AlternatingOptions, AlternatingStrategy, AugmentationSpec, StrategySpec, hookimpl
from ganzoo.registry import PluginInfo, build_registry, get_registry
from ganzoo.testing import assert_discriminator_sees_only_augmented_images
from ganzoo.training.loop import train

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
