"""Benchmark fixtures (the measuring settings, ``record``), the order (the matmul ceiling is
measured first and again last) and the summary: after the run, the ratios are printed as one
table (``report.py``).

The helpers live beside the benchmarks (``measure.py``), which are not part of the installed
package, so this directory is put on ``sys.path`` for them.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from measure import Settings  # noqa: E402
from report import render  # noqa: E402

RESULTS = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture(scope="session")
def settings() -> Settings:
    settings = Settings.from_environment()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    return settings


@pytest.fixture
def record(request: pytest.FixtureRequest, settings: Settings) -> Callable[..., None]:
    """Store what a benchmark measured in its ``extra_info`` (saved in the JSON) and for the summary."""

    def store(benchmark: Any, **info: Any) -> None:
        benchmark.extra_info.update(device=settings.device, smoke=settings.smoke, **info)
        request.config.stash.setdefault(RESULTS, []).append(dict(benchmark.extra_info))

    return store


def pytest_configure(config: pytest.Config) -> None:
    saved = config.getoption("benchmark_json", None)
    if saved:  # pytest-benchmark writes it at the end and would fail on a missing folder
        Path(saved).parent.mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Measure the ceiling again after everything else (see ``test_ceiling.py``)."""
    last = [item for item in items if item.name == "test_matmul_ceiling[after]"]
    items[:] = [item for item in items if item not in last] + last


def pytest_report_header() -> str:
    settings = Settings.from_environment()
    return f"ganzoo benchmarks: device {settings.device}, torch threads {torch.get_num_threads()}, smoke {settings.smoke}"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    buffer = io.StringIO()
    render(results, file=buffer, width=max(config.get_terminal_writer().fullwidth, 80),
           color=terminalreporter.hasmarkup)
    terminalreporter.write_sep("=", "ganzoo benchmark summary")
    terminalreporter.write(buffer.getvalue())
