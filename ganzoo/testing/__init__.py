"""Pytest fixtures for ganzoo and its plugins, installed as a pytest plugin (entry point
``pytest11``), so a third-party plugin's tests get the same tiny real configs and CLI runner
as ganzoo's own: ``tiny_config``, ``run_cli`` and ``registry``, plus the checks every variant's
tests share (``train_quietly``, ``assert_finite_step``, ``assert_learned``), the one every
strategy's should (``assert_discriminator_sees_only_augmented_images``), and
``install_plugin``, which puts a plugin in front of fresh ``ganzoo`` processes as pip would."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo.core.registry import ENTRY_POINT_GROUP, Registry, get_registry
from ganzoo.training.plan import RunPlan, make_plan


@pytest.fixture(scope="session")
def registry() -> Registry:
    return get_registry()


@pytest.fixture
def tiny_config(tmp_path: Path, registry: Registry) -> Callable[..., RunPlan]:
    """Build a real, resolved ``RunPlan`` for a few fast steps; keyword layers override it.

    ``tiny_config("mlp", run={"epochs": 2})`` -> 256 embedded MNIST digits at 16x16, batch 32.
    """

    def build(variant: str = "mlp", **sections: Any) -> RunPlan:
        base: dict[str, Any] = {
            "variant": variant,
            "data": {"name": "mnist-embedded", "image_size": 16, "limit": 256},
            "run": {"out_dir": str(tmp_path / "run"), "epochs": 1, "batch_size": 32, "device": "cpu",
                    "log_every_steps": 2, "num_fixed_samples": 16},
        }
        return make_plan([base, sections], registry)

    return build


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m ganzoo ARGS`` in a fresh process, as a user would, from ``tmp_path``."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "COLUMNS": "200", **(env or {})}
        return subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=timeout)

    return run


def install_plugin(site: Path, distribution: str, modules: dict[str, str], entry_points: dict[str, str],
                   version: str = "1.0") -> dict[str, str]:
    """Install ``modules`` (module name -> source) into ``site`` with the ``.dist-info`` pip would
    write for ``distribution``, announcing ``entry_points`` (name -> module) in the ``ganzoo``
    group; return the environment (``PYTHONPATH``) that makes a fresh process find it, exactly
    as ``importlib.metadata`` finds an installed distribution."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        path = site.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in path.relative_to(site).parents[:-1]:
            (site / package / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
                                   encoding="utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def resigned(metadata: dict[str, str]) -> dict[str, str]:
    """A generator file's header strings with their digest recomputed after an edit: what tests
    need to reach the checks behind it (a file whose fields lie consistently, as a careless
    third-party writer would make one). A plain edit is refused by the digest alone."""
    from ganzoo.generators.weights import DIGEST_KEY, metadata_digest

    return {**metadata, DIGEST_KEY: metadata_digest(metadata)} if DIGEST_KEY in metadata else dict(metadata)


def train_quietly(plan: RunPlan) -> Any:
    """Train a plan through the real run loop with no display; returns its ``RunResult``."""
    from ganzoo.training.loop import train

    return train(plan)


def logged_steps(result: Any) -> list[dict[str, float]]:
    """The ``step`` rows a run wrote to its metrics.jsonl."""
    from ganzoo.training.metrics_log import MetricsLog

    return MetricsLog(Path(result.out_dir) / "metrics.jsonl").read("step")


def assert_learned(result: Any, keys: tuple[str, ...] = ("d_loss", "g_loss"), min_pixel_std: float = 0.05) -> None:
    """A brief run must have moved its losses and produce samples that differ from each other.

    Compares the first and last logged values of each of ``keys`` and the per-pixel standard
    deviation across 32 samples of the saved generator (a collapsed or dead G gives ~0).
    """
    from ganzoo.generators.weights import load_generator

    rows = logged_steps(result)
    assert len(rows) >= 2, "the run logged fewer than two steps; lower run.log_every_steps"
    for key in keys:
        first, last = rows[0][key], rows[-1][key]
        assert abs(last - first) > 1e-3, f"{key} did not move: {first} -> {last}"
    samples = load_generator(result.generator_path, device="cpu").sample(32, seed=0)
    assert torch.isfinite(samples).all()
    assert samples.std(dim=0).mean() > min_pixel_std, "samples are (nearly) constant"


def assert_finite_step(result: Any, image_shape: tuple[int, int, int]) -> None:
    """A run finished its steps with finite losses and a generator that makes ``image_shape`` images.
    Every game logs ``g_loss``; a GAN's also ``d_loss`` (the loop refuses a strategy that omits it)."""
    from ganzoo.generators.weights import load_generator

    assert result.progress.global_step >= 1
    assert "g_loss" in result.last_stats
    assert all(math.isfinite(value) for value in result.last_stats.values()), result.last_stats
    samples = load_generator(result.generator_path, device="cpu").sample(4, seed=0)
    assert samples.shape == (4, *image_shape) and samples.abs().max() <= 1


def assert_discriminator_sees_only_augmented_images(plan: RunPlan) -> None:
    """Train ``plan`` and check that every image its discriminator scored came out of ``game.augment``.

    DiffAugment only works if D never sees an unaugmented image, real, fake or penalised
    (interpolates, R1's reals): a strategy that calls ``game.discriminator(images)`` directly
    silently trains without the run's ``augment.policy``. The plan needs a policy (with none,
    ``game.augment`` is the identity and every image would pass).
    """
    from ganzoo.core.callback import Callback
    from ganzoo.training.loop import train

    if not plan.config.augment.policy:
        raise ValueError("give the plan an augment.policy (e.g. augment={'policy': 'translation'}): with none "
                         "game.augment is the identity and every image would pass")

    class Audit(Callback):
        def __init__(self) -> None:
            self.augmented: list[torch.Tensor] = []  # kept alive, so identity checks cannot alias
            self.scored = 0
            self.unaugmented = 0

        def on_start(self, run: Any) -> None:
            augment = run.game.augment

            def recording(images: torch.Tensor) -> torch.Tensor:
                out = augment(images)
                self.augmented.append(out)
                return out

            run.game.augment = recording
            self.hook = run.game.discriminator.register_forward_pre_hook(self.check)

        def check(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            self.scored += 1
            self.unaugmented += not any(args[0] is out for out in self.augmented)

        def on_end(self, run: Any, error: BaseException | None) -> None:
            self.hook.remove()

    audit = Audit()
    train(plan, callbacks=[audit])
    assert audit.scored > 0, "the discriminator scored no images"
    assert audit.unaugmented == 0, (f"{audit.unaugmented} of the {audit.scored} discriminator calls scored images "
                                    "that did not come out of game.augment; pass every image D scores through it")
