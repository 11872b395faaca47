"""The plugin boundary is checked before anything trains: a generator that makes the wrong
shape or range, a discriminator that does not return one logit per image, a declared
image_shape that is not the data's, a model that crashes: each stops the build with one line
naming the variant, the plugin's distribution and the shapes involved. The check itself leaves
no trace (RNG, weights, BatchNorm buffers), and ``load_generator`` refuses weights that make
NaN images.

The broken variants come from a test plugin registered through the real registry, exactly as
an installed plugin's would be.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from einops import rearrange
from torch import Tensor, nn

from ganzoo.core.registry import PluginInfo, Registry, build_registry
from ganzoo.errors import PluginError, WeightsError
from ganzoo.generators.weights import load_generator, save_generator
from ganzoo.plugin import Discriminator, Generator, ImageShape, VariantSpec, hookimpl
from ganzoo.training.build import build, build_models, load_dataset
from ganzoo.training.loop import train
from ganzoo.training.plan import RunPlan

DISTRIBUTION = "ganzoo-test-broken"
LATENT_DIM = 64


class BrokenGenerator(Generator):
    """A linear generator that gets one part of the contract wrong, as ``fault`` says."""

    def __init__(self, image_shape: ImageShape, fault: str | None) -> None:
        super().__init__()
        self.fault, self.latent_dim, self.num_classes = fault, LATENT_DIM, None
        channels, height, width = image_shape
        half = (channels, height // 2, width // 2)
        self.image_shape = half if fault == "declared-shape" else image_shape  # what it declares
        self.made_shape = half if fault in ("declared-shape", "wrong-shape") else image_shape  # what it makes
        in_features = LATENT_DIM // 2 if fault == "crashes" else LATENT_DIM  # a matmul that cannot work
        self.net = nn.Linear(in_features, math.prod(self.made_shape))

    def forward(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        channels, height, width = self.made_shape
        images = rearrange(self.net(latents), "b (c h w) -> b c h w", c=channels, h=height, w=width)
        return torch.full_like(images, 5.0) if self.fault == "wrong-range" else torch.tanh(images)


class BrokenDiscriminator(Discriminator):
    """A linear discriminator; with ``fault = "logit-shape"`` it keeps the (B, 1) of its last layer."""

    def __init__(self, image_shape: ImageShape, fault: str | None) -> None:
        super().__init__()
        self.fault, self.image_shape, self.num_classes = fault, image_shape, None
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(image_shape), 1))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        logits = self.net(images)
        return logits if self.fault == "logit-shape" else rearrange(logits, "b 1 -> b")


def broken_variant(name: str, *, generator: str | None = None, discriminator: str | None = None) -> VariantSpec:
    return VariantSpec(name, lambda options, shape, classes: BrokenGenerator(shape, generator),
                       lambda options, shape, classes: BrokenDiscriminator(shape, discriminator))


class BrokenPlugin:
    @hookimpl
    def ganzoo_register_variants(self) -> list[VariantSpec]:
        return [broken_variant("well-behaved"),
                broken_variant("wrong-shape", generator="wrong-shape"),
                broken_variant("wrong-range", generator="wrong-range"),
                broken_variant("declared-shape", generator="declared-shape"),
                broken_variant("crashes", generator="crashes"),
                broken_variant("logit-shape", discriminator="logit-shape")]


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Overrides ganzoo.testing's, so ``tiny_config`` resolves through it too."""
    _, registry = build_registry([(BrokenPlugin(), PluginInfo("broken", DISTRIBUTION, "0.1"))])
    assert not registry.problems, registry.problems
    return registry


def build_error(plan: RunPlan) -> str:
    with pytest.raises(PluginError) as caught:
        build(plan, torch.device("cpu"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"variant {plan.variant.name!r} ({DISTRIBUTION}): "), message
    return message


def test_a_well_behaved_test_variant_builds(tiny_config: Callable[..., RunPlan]) -> None:
    parts = build(tiny_config("well-behaved"), torch.device("cpu"))
    assert parts.generator.sample(3, seed=0).shape == (3, 1, 16, 16)


# (variant, what the one line must say besides the variant and the distribution)
FAULTS = [
    ("wrong-shape", ["generator returned shape (2, 1, 8, 8)", "expected (2, 1, 16, 16)"]),
    ("wrong-range", ["lie in [5, 5], outside [-1, 1]", "tanh"]),
    ("declared-shape", ["declares image_shape (1, 8, 8)", "the data is (1, 16, 16)"]),
    ("crashes", ["generator failed on a probe batch of shape (2, 64)", "RuntimeError", "2x64 and 32x256"]),
    ("logit-shape", ["discriminator returned shape (2, 1) for 2 images", "expected (2,)"]),
]


@pytest.mark.parametrize(("variant", "fragments"), FAULTS, ids=[variant for variant, _ in FAULTS])
def test_a_broken_model_stops_the_build_with_one_line_naming_it(tiny_config: Callable[..., RunPlan], variant: str,
                                                               fragments: list[str]) -> None:
    message = build_error(tiny_config(variant))
    for fragment in fragments:
        assert fragment in message, message


def test_training_a_broken_variant_fails_before_touching_the_run_directory(
        tiny_config: Callable[..., RunPlan]) -> None:
    plan = tiny_config("logit-shape")
    with pytest.raises(PluginError, match="one logit per image"):
        train(plan)
    assert not plan.config.run.out_dir.exists()


def test_the_probe_changes_no_rng_weight_or_buffer(tiny_config: Callable[..., RunPlan]) -> None:
    """Building checks the models; building them without the check leaves exactly the same state."""
    plan = tiny_config("dcgan", data={"image_size": 32}, model={"ngf": 8, "ndf": 8})
    dataset = load_dataset(plan.config.data, plan.dataset.entry)
    torch.manual_seed(0)
    generator, discriminator = build_models(plan.variant, dataset)
    rng_after_checked_build = torch.get_rng_state()

    torch.manual_seed(0)
    spec, options = plan.variant.spec, plan.variant.options
    unchecked = (spec.build_generator(options, dataset.image_shape, None),
                 spec.build_discriminator(options, dataset.image_shape, None))

    assert torch.equal(torch.get_rng_state(), rng_after_checked_build)
    for checked, fresh in zip((generator, discriminator), unchecked):
        assert checked.training, "the probe must hand the model back in training mode"
        assert any(isinstance(module, nn.BatchNorm2d) for module in checked.modules())
        checked_state, fresh_state = checked.state_dict(), fresh.state_dict()
        assert checked_state.keys() == fresh_state.keys()
        changed = [name for name in checked_state if not torch.equal(checked_state[name], fresh_state[name])]
        assert not changed, f"the probe changed {changed}"


def test_load_generator_refuses_weights_that_make_nan_images(registry: Registry, tmp_path: Path) -> None:
    """Finite weights can still overflow to NaN images (a diverged run's); loading says so."""
    entry = registry.get("variant", "mlp")
    options = entry.spec.config_model()
    generator = entry.spec.build_generator(options, (1, 16, 16), None)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.copy_(torch.randn_like(parameter).sign() * 1e30)
    assert all(torch.isfinite(parameter).all() for parameter in generator.parameters())
    path = tmp_path / "generator.safetensors"
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(mode="json"), plugin=entry.plugin)

    with pytest.raises(WeightsError, match="makes NaN or Inf images") as caught:
        load_generator(path, device="cpu", registry=registry)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
