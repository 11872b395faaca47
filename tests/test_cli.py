"""The ganzoo command end to end, in fresh processes, as a user runs it."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_train_then_sample_on_the_embedded_data(run_cli, tmp_path):
    trained = run_cli("train", "mlp", "--epochs", "1", "--limit", "1024", "--batch-size", "32", "--device", "cpu",
                      "--out", "run", "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "trained mlp for 32 steps" in trained.stdout
    sampled = run_cli("sample", "run/generator.safetensors", "--num", "16", "--nrow", "4", "--out", "grid.png",
                      "--seed", "1")
    assert sampled.returncode == 0, sampled.stderr
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size == (4 * 32 + 5 * 2, 4 * 32 + 5 * 2)  # 4x4 images of 32 px with 2 px padding
    pixels = np.asarray(grid.convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # not a constant image
    singles = run_cli("sample", "run/generator.safetensors", "--num", "3", "--format", "png", "--out", "pngs")
    assert singles.returncode == 0 and sorted(p.name for p in (tmp_path / "pngs").iterdir()) == [
        "sample-00000.png", "sample-00001.png", "sample-00002.png"]


def test_list_shows_every_kind_with_its_plugin(run_cli):
    listed = run_cli("list")
    assert listed.returncode == 0, listed.stderr
    for expected in ("Variants", "mlp", "ganzoo-mlp", "non-saturating", "alternating", "mnist-embedded"):
        assert expected in listed.stdout


def test_user_errors_are_one_line_and_exit_code_2(run_cli):
    unknown = run_cli("train", "mpl")
    assert unknown.returncode == 2 and unknown.stderr.strip().count("\n") == 0
    assert "unknown variant 'mpl'; did you mean 'mlp'?" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = run_cli("sample", "nowhere.safetensors")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    debug = run_cli("sample", "nowhere.safetensors", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_an_error_line_shows_the_user_text_as_typed(run_cli):
    """rich would draw ``:x:`` (here from ``{name:x}``, a missing space) as an emoji."""
    typo = run_cli("train", "mlp", "--set", "run.callbacks=[{name:x}]")
    assert typo.returncode == 2 and "run.callbacks.0.name:x: unknown setting" in typo.stderr
