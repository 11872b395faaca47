"""The third-party plugin path, as a plugin author would walk it.

``docs/examples/ganzoo-minibatch`` is built into a wheel, installed into a private directory
(never into the shared environment), and put on ``PYTHONPATH``; then the real ``ganzoo``
command, in fresh processes, must list it, train it and sample from its weights. Nothing in
ganzoo is changed or told about the plugin: its entry point alone makes it appear.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ganzoo-minibatch"
VARIANT = "conv-minibatch"
DISTRIBUTION = "ganzoo-minibatch"

RunCli = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class InstalledExample:
    source: Path  # a copy of the example, so building never writes into the repository
    site: Path  # where the wheel was installed with ``pip install --target``

    @property
    def env(self) -> dict[str, str]:
        """What puts the plugin in front of a fresh process: its directory on PYTHONPATH."""
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(self.site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> InstalledExample:
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "ganzoo-minibatch"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    dist, site = root / "dist", root / "site"
    _check([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)])
    wheels = list(dist.glob("ganzoo_minibatch-*.whl"))
    assert len(wheels) == 1, wheels
    _check([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
            "--target", str(site), str(wheels[0])])
    return InstalledExample(source, site)


def _check(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_the_example_is_not_installed_in_the_shared_environment() -> None:
    # Otherwise the tests below would prove nothing about the wheel.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DISTRIBUTION)


def test_ganzoo_list_shows_the_installed_plugin(installed_example: InstalledExample, run_cli: RunCli) -> None:
    result = run_cli("list", env=installed_example.env)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if VARIANT in line)
    assert DISTRIBUTION in row and "0.1.0" in row
    assert "broken:" not in result.stdout


def test_train_then_sample_through_the_cli(installed_example: InstalledExample, run_cli: RunCli,
                                           tmp_path: Path) -> None:
    trained = run_cli("train", VARIANT, "--max-steps", "2", "--image-size", "16", "--limit", "128", "--batch-size", "32",
                      "--device", "cpu", "--set", "model.width=8", "--out", "run", "--quiet", env=installed_example.env)
    assert trained.returncode == 0, trained.stderr
    assert f"trained {VARIANT} for 2 steps" in trained.stdout
    weights = tmp_path / "run" / "generator.safetensors"

    grid = tmp_path / "grid.png"
    sampled = run_cli("sample", str(weights), "--num", "16", "--nrow", "8", "--seed", "3", "--device", "cpu",
                      "--out", str(grid), env=installed_example.env)
    assert sampled.returncode == 0, sampled.stderr
    with Image.open(grid) as image:
        assert image.size == (8 * (16 + 2) + 2, 2 * (16 + 2) + 2)  # make_grid: 2 rows of 8, padding 2
        low, high = image.convert("L").getextrema()
    assert high > low, "the sample grid is a constant image"


def test_the_examples_own_tests_pass_against_the_wheel(installed_example: InstalledExample) -> None:
    # From the example's own folder, so its pyproject's pytest settings apply, not ganzoo's.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=installed_example.source, env={**os.environ, **installed_example.env},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
