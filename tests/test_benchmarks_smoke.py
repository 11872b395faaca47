"""The benchmarks keep working: ``pytest benchmarks`` in smoke mode (``GANZOO_BENCH_SMOKE=1``:
one tiny round of every benchmark, no compilation) runs every code path, saves the
pytest-benchmark JSON and prints the ratio table, and ``report.py`` rebuilds the table from
the JSON. Nothing is timed here; the real numbers come from ``make bench``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganzoo.runtime.speed import bf16_pays, fast_path

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_the_benchmarks_run_in_smoke_mode_and_print_one_table(tmp_path: Path) -> None:
    saved = tmp_path / "benchmark.json"
    env = {**os.environ, "GANZOO_BENCH_SMOKE": "1", "GANZOO_BENCH_DEVICE": "cpu", "COLUMNS": "120"}
    run = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "--benchmark-only",
                          f"--benchmark-json={saved}", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = run.stdout.split("ganzoo benchmark summary", 1)[-1]
    assert "ganzoo step throughput" in summary and "mlp-32-b8" in summary
    assert "fp32 matmul ceiling" in summary and "target engine/plain >= 0.97" in summary
    assert "sampling cost dcgan-vs-ddpm-32" in summary and "DDPM 1000 steps" in summary
    assert "epoch dcgan-64 b64 on 128 digits: tutorial" in summary and "ganzoo --speed off" in summary
    assert "target >= 2x:" in summary and "target fp32 sampling >= 70% of the ceiling" in summary

    infos = [bench["extra_info"] for bench in json.loads(saved.read_text())["benchmarks"]]
    kinds = {"ceiling", "step", "sample", "load", "serve", "data", "sampler-cost", "epoch"}
    assert {info["kind"] for info in infos} == kinds
    loops = {name for info in infos if info["kind"] == "step" for name in info["loops"]}
    cpu = torch.device("cpu")  # the fast arm starts with bf16 on a CPU where the dcgan row takes it
    chain = ["bf16"] if bf16_pays(fast_path(cpu, "dcgan"), cpu) else []
    chain += ["channels_last", "foreach"]
    added = {"engine+" + "+".join(chain[:n]) for n in range(1, len(chain) + 1)}
    assert loops == {"plain", "engine", "engine-reuse", "engine-auto", "plain-again", *added}
    epoch = next(info for info in infos if info["kind"] == "epoch")
    assert set(epoch["arms"]) == {"tutorial", "ganzoo", "ganzoo --speed off"}
    assert all(len(times) == epoch["rounds"] for times in epoch["seconds"].values())

    markdown = tmp_path / "benchmark.md"
    rebuilt = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(saved),
                              "--markdown", str(markdown)], env=env, capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "| mlp-32-b8 |" in markdown.read_text() and "- epoch dcgan-64 b64 on 128 digits" in markdown.read_text()


def test_the_gpu_speed_script_runs_its_rows_on_the_cpu(tmp_path: Path) -> None:
    """``benchmarks/gpu_speed.py`` fills the GPU table in docs/pages/gpu.md; CI has no GPU, so its
    CPU smoke mode proves the plain loop, an engine row and the JSON it writes still work."""
    saved = tmp_path / "gpu_speed.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_speed.py"), "--device", "cpu", "--models",
                          "mlp", "--configs", "0", "--seconds", "1", "--out", str(saved)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(saved.read_text())
    assert result["errors"] == []
    rows = {row["config"]: row for row in result["rows"]}
    assert set(rows) == {"plain fp32 tutorial loop", "ganzoo fp32"}
    assert all(row["images_per_s"] > 0 and row["flops_per_image"] > 0 for row in rows.values())


def test_the_step_profiler_names_the_operators_that_take_the_time(tmp_path: Path) -> None:
    """``benchmarks/profile_step.py`` is how a missed speed target gets its explanation: on a tiny
    MLP run it profiles real engine steps and reports operators whose shares add up to at most 1."""
    saved = tmp_path / "profile.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_step.py"), "mlp", "--batch-size", "8",
                          "--warmup", "1", "--steps", "2", "--out", str(saved)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(saved.read_text())
    ops = [row["op"] for row in result["top"]]
    assert any("addmm" in op or "linear" in op or "mm" in op for op in ops), ops
    assert 0 < sum(row["share"] for row in result["top"]) <= 1.0 + 1e-9
    assert result["step_ms"] > 0
