"""Pytest fixtures for ganzoo and its plugins, installed as a pytest plugin (entry point
``pytest11``), so a third-party plugin's tests get the same tiny real configs and CLI runner
as ganzoo's own: ``tiny_config``, ``run_cli`` and ``registry``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo.components import ResolvedConfig, build_config
from ganzoo.registry import Registry, get_registry

@pytest.fixture(scope="session")
def registry() -> Registry:
    return get_registry()


@pytest.fixture
def tiny_config(tmp_path: Path, registry: Registry) -> Callable[..., ResolvedConfig]:
    """Build a real, validated config for a few fast steps; keyword layers override it.

    ``tiny_config("mlp", run={"epochs": 2})`` -> 256 embedded MNIST digits at 16x16, batch 32.
    """

    def build(variant: str = "mlp", **sections: Any) -> ResolvedConfig:
        base: dict[str, Any] = {
            "variant": variant,
            "data": {"name": "mnist-embedded", "image_size": 16, "limit": 256},
            "run": {"out_dir": str(tmp_path / "run"), "epochs": 1, "batch_size": 32, "device": "cpu",
                    "log_every_steps": 2, "num_fixed_samples": 16},
        }
        return build_config([base, sections], registry)

    return build


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m ganzoo ARGS`` in a fresh process, as a user would, from ``tmp_path``."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "COLUMNS": "200", **(env or {})}
        return subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=timeout)

    return run
