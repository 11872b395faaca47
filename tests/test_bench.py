"""``ganzoo bench``: every variant under one budget, evaluated with one protocol, reported as
a table, JSON, Markdown and a plot; mean and spread over seeds."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from ganzoo.bench.config import BenchConfig
from ganzoo.bench.report import markdown_table, metric_label, write_report
from ganzoo.bench.runner import run_bench
from ganzoo.metrics.catalogue import lower_is_better
from ganzoo.training.display import ProgressDisplay

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(variants=["mlp", "cgan-mlp"], budget_images=192, seeds=2, limit=256, image_size=16,
                         batch_size=32, device="cpu", eval_points=2, eval_samples=64, out_dir=out,
                         overrides={"model": {"latent_dim": 8}})
    screen = StringIO()
    console = Console(file=screen, width=120)
    bench = run_bench(config, callbacks=[ProgressDisplay(console)], note=console.print)
    (out / "screen.txt").write_text(screen.getvalue())
    return bench, out


def test_every_variant_and_seed_trains_the_same_budget(report) -> None:
    bench, _ = report
    for variant in bench.variants:
        assert [seed.seed for seed in variant.seeds] == [0, 1]
        assert all(seed.images == 192 and seed.peak_memory_bytes > 0 for seed in variant.seeds)
        assert all(len(seed.curve) == 2 and seed.curve[0]["images"] < seed.curve[1]["images"] for seed in variant.seeds)
        assert all(seed.curve[0]["images"] == 96 and seed.curve[0]["train_seconds"] <= seed.train_seconds
                   for seed in variant.seeds)


def test_each_run_is_one_continuous_run_evaluated_along_the_way(report) -> None:
    """The evaluation curve is a callback of one run: no segments, nothing resumed."""
    _, out = report
    screen = (out / "screen.txt").read_text()
    assert "bench: mlp seed 0" in screen and "bench: cgan-mlp seed 1" in screen
    assert "epoch 1" in screen and "resuming" not in screen


def test_metrics_come_from_the_shared_protocol_with_a_baseline(report) -> None:
    bench, _ = report
    protocol = bench.protocol["evaluation"]
    assert list(protocol["backbones"]) == ["mnist-classifier"]
    assert protocol["num_generated"] == 64 and protocol["resolution"] == [1, 16, 16]
    assert protocol["real_vs_real"]["mnist-classifier.fid"] < 1  # two halves of the real data are close
    assert any("inception" in note for note in protocol["notes"])  # offline: said, not silently dropped
    mlp, conditional = bench.variants
    for key in ("mnist-classifier.fid", "mnist-classifier.kid", "mnist-classifier.is",
                "mnist-classifier.classes_covered"):
        assert f"final.{key}" in mlp.summary and mlp.summary[f"final.{key}"]["n"] == 2
    assert "final.mnist-classifier.cond_accuracy" in conditional.summary
    assert "final.mnist-classifier.cond_accuracy" not in mlp.summary
    for seed in mlp.seeds:  # the best point is the best of the curve, in the metric's direction
        fids = [row["mnist-classifier.fid"] for row in seed.curve]
        assert seed.best["mnist-classifier.fid"] == min(fids) and lower_is_better("mnist-classifier.fid")
        assert not lower_is_better("mnist-classifier.is")


def test_the_report_files_agree_with_the_table(report) -> None:
    bench, out = report
    paths = write_report(bench, out)
    saved = json.loads(paths["json"].read_text())
    assert [variant["variant"] for variant in saved["variants"]] == ["mlp", "cgan-mlp"]
    markdown = paths["markdown"].read_text()
    assert markdown == markdown_table(bench)
    assert "mean±std over seeds" in markdown and metric_label("inception.fid") == "FID"
    assert "| real vs real |" in markdown and "| FD | " in markdown
    assert paths["plot"].stat().st_size > 1000


def test_the_command_refuses_bad_budgets_and_names_in_one_line(run_cli, tmp_path: Path) -> None:
    empty = run_cli("bench", "mlp", "--budget-images", "0")
    assert empty.returncode == 2 and "bench.budget_images: Input should be greater than 0" in empty.stderr
    with pytest.raises(ValueError, match="give exactly one budget"):
        BenchConfig(variants=["mlp"], budget_images=64, budget_seconds=5)
    unknown = run_cli("bench", "mpl", "--budget-images", "64")
    assert unknown.returncode == 2 and "did you mean 'mlp'" in unknown.stderr
