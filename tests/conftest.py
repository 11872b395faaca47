"""Test-suite settings. The shared fixtures (``tiny_config``, ``run_cli``, ``registry``) come from
``ganzoo.testing``, installed as a pytest plugin so plugin distributions can use them too; the
evaluation tests share ``cache`` from here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ganzoo cache, and no Inception weights from anywhere on this machine."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GANZOO_CACHE", str(root))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    return root

