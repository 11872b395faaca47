"""The model card ``runs/NAME/README.md``: what a run writes, that its code runs, and that
``ganzoo eval`` replaces only its metrics section."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ganzoo.core.registry import get_registry
from ganzoo.training.loop import train
from ganzoo.training.model_card import METRICS_END, METRICS_START, update_metrics_section


def metrics_section(card: str) -> str:
    return card[card.index(METRICS_START) + len(METRICS_START):card.index(METRICS_END)].strip()


def test_a_run_writes_its_card(tiny_config, tmp_path: Path) -> None:
    result = train(tiny_config(run={"epochs": 2, "eval_every_epochs": 1, "eval_num_samples": 100}))
    run_dir = Path(result.out_dir)
    card = (run_dir / "README.md").read_text()

    plugin = get_registry().get("variant", "mlp").plugin
    assert card.startswith("# mlp, trained with ganzoo")
    assert f"| variant | `mlp` ({plugin.distribution} {plugin.version}) |" in card
    assert "| data | 256 images of 1x16x16 |" in card
    assert f"| trained | {result.progress.global_step} steps, 2 epochs, 512 images in " in card
    assert "| device | cpu, fp32 |" in card

    grid = re.search(r"!\[[^\]]*\]\(([^)]+)\)", card).group(1)
    assert grid == "samples/epoch-0002.png" and (run_dir / grid).is_file()  # relative: the folder can move

    config = json.loads(card.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert config == json.loads((run_dir / "config.json").read_text())

    section = metrics_section(card)
    assert section.startswith("Last evaluation during training: FD ") and "at epoch 2" in section
    assert "generator-best.safetensors" in section  # epoch 1's evaluation is always a best

    code = card.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert code.splitlines()[0] == "from ganzoo import load_generator"
    shape = subprocess.run([sys.executable, "-c", code + "\nprint(tuple(images.shape))"], capture_output=True,
                           text=True, timeout=120)
    assert shape.stdout.strip() == "(16, 1, 16, 16)", shape.stderr  # the card's three lines work as printed


def test_a_run_without_evaluation_says_how_to_get_one(tiny_config) -> None:
    result = train(tiny_config())
    section = metrics_section((Path(result.out_dir) / "README.md").read_text())
    assert section.startswith("No evaluation yet: `ganzoo eval ") and "generator.safetensors" in section


def test_eval_replaces_only_the_metrics_section(tiny_config, run_cli) -> None:
    result = train(tiny_config())
    card_path = Path(result.out_dir) / "README.md"
    edited = card_path.read_text().replace("## Training", "Trained for the docs.\n\n## Training") + "\nMy notes.\n"
    card_path.write_text(edited)

    evaluation = run_cli("eval", str(result.generator_path), "--num", "200", "--num-real", "200", "--metrics", "fid",
                         "--backbone", "mnist-classifier", "--no-baseline")
    assert evaluation.returncode == 0, evaluation.stderr
    assert "metrics section updated" in evaluation.stdout

    card = card_path.read_text()
    section = metrics_section(card)
    assert section.startswith("| metric | backbone | value | real vs real | better |")
    assert "| FD | mnist-classifier |" in section and "200 generated vs 200 real" in section
    assert card.replace(section, "") == edited.replace(metrics_section(edited), "")  # the rest as the user left it


def test_a_card_without_markers_is_left_alone(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    assert not update_metrics_section(card, "| x |")  # no card: nothing written
    assert not card.exists()
    card.write_text("# my own README\n")
    assert not update_metrics_section(card, "| x |")
    assert card.read_text() == "# my own README\n"


def test_the_card_records_the_sampling_options_that_changed_the_samples() -> None:
    """Truncation and a precision other than fp32 change the images the metrics saw, so the
    card's protocol line says so, exactly as ``ganzoo eval`` prints it."""
    from ganzoo.metrics.result import EvaluationResult
    from ganzoo.training.model_card import evaluation_markdown

    protocol = {"num_generated": 1000, "num_real": 500, "real_dataset": "mnist-embedded", "real_split": "test",
                "resolution": [1, 32, 32], "seed": 0, "weights": "runs/x/generator.safetensors"}
    plain = evaluation_markdown(EvaluationResult(values=[], protocol=protocol))
    assert plain.endswith("`ganzoo eval` of `generator.safetensors`: 1,000 generated vs 500 real "
                          "(mnist-embedded, test split) at 1x32x32, seed 0.")
    changed = EvaluationResult(values=[], protocol={**protocol, "truncation": 0.7, "sampling_precision": "bf16"})
    assert evaluation_markdown(changed).endswith("seed 0, truncation 0.7, sampled in bf16.")
    assert changed.describe_protocol().endswith("seed 0, truncation 0.7, sampled in bf16")
