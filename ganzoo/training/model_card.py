"""``runs/NAME/README.md``: the model card, so a run directory explains itself wherever it is opened.

The card says what was trained (variant, plugins and their versions, the resolved config), on
what data, for how long on which device, how well (the last evaluation), shows the last sample
grid and gives the three lines that load and sample the generator. ``ModelCard`` rewrites it at
every checkpoint and at the end of the run; ``ganzoo eval`` replaces only the part between the
metrics markers (``update_metrics_section``), so what a user writes elsewhere in the card stays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.core.callback import Callback
from ganzoo.errors import OutputError
from ganzoo.io.files import atomic_write_text
from ganzoo.io.inputs import read_input_text
from ganzoo.metrics.catalogue import METRICS
from ganzoo.training.metrics_log import MetricsLog
from ganzoo.training.rundir import RunDirectory
from ganzoo.version import __version__

if TYPE_CHECKING:
    from ganzoo.metrics.result import EvaluationResult
    from ganzoo.training.view import TrainingRunView

METRICS_START = "<!-- ganzoo:metrics -->"
METRICS_END = "<!-- /ganzoo:metrics -->"


class ModelCard(Callback):
    """Writes the card after every checkpoint (so an interrupted run has one) and at the end."""

    def on_checkpoint(self, run: TrainingRunView, path: Path, best: bool) -> None:
        write_model_card(run)

    def on_end(self, run: TrainingRunView, error: BaseException | None) -> None:
        if error is None:
            write_model_card(run)  # after the final sample grid (standard callbacks run in order)


@dataclass(frozen=True)
class TrainingFacts:
    """What the card reports about a run, gathered in one place from the live ``TrainingRunView``."""

    variant: str
    components: list[tuple[str, str, str]]  # (what, name, "distribution version")
    dataset: str
    num_images: int
    image_shape: tuple[int, int, int]
    class_names: list[str] | None
    steps: int
    epochs: int
    images_seen: int
    seconds: float
    device: str
    precision: str
    config: dict
    generator_path: str


def training_facts(run: TrainingRunView) -> TrainingFacts:
    plan, parts, progress = run.plan, run.parts, run.progress
    components = [(what, choice.name, f"{choice.entry.plugin.distribution} {choice.entry.plugin.version}")
                  for what, choice in (*plan.components, *(("callback", c) for c in plan.callbacks))]
    return TrainingFacts(
        variant=plan.variant.name, components=components, dataset=plan.dataset.name,
        num_images=len(parts.dataset), image_shape=tuple(parts.generator.image_shape),
        class_names=parts.dataset.class_names if parts.generator.num_classes else None,
        steps=progress.global_step, epochs=progress.epoch, images_seen=progress.images_seen,
        seconds=progress.elapsed_seconds, device=str(run.device), precision=run.precision,
        config=run.config_record, generator_path=run.run_dir.generator.as_posix())


def write_model_card(run: TrainingRunView) -> None:
    run_dir = run.run_dir
    metrics = training_metrics_markdown(MetricsLog(run_dir.metrics).read("eval"), run_dir)
    atomic_write_text(render_model_card(training_facts(run), metrics, last_sample_grid(run_dir)), run_dir.model_card)


def last_sample_grid(run_dir: RunDirectory) -> str | None:
    """The newest ``samples/epoch-NNNN.png``, relative to the card (the zero-padded names sort)."""
    grids = sorted(run_dir.samples.glob("epoch-*.png")) if run_dir.samples.is_dir() else []
    return grids[-1].relative_to(run_dir.root).as_posix() if grids else None


def render_model_card(facts: TrainingFacts, metrics: str, sample_grid: str | None) -> str:
    channels, height, width = facts.image_shape
    classes = f", {len(facts.class_names)} classes" if facts.class_names else ""
    minutes, seconds = divmod(facts.seconds, 60)
    lines = [f"# {facts.variant}, trained with ganzoo", "",
             f"The `{facts.variant}` GAN generator trained on `{facts.dataset}` for {facts.steps:,} steps "
             f"({facts.epochs} epochs), written by ganzoo {__version__}.", ""]
    if sample_grid:
        lines += [f"![the run's fixed latents, last sample grid]({sample_grid})", ""]
    lines += ["## Load and sample it", "", "```python",
              "from ganzoo import load_generator",
              f"g = load_generator({json.dumps(facts.generator_path)})",
              f"images = g.sample(16, seed=0)  # (16, {channels}, {height}, {width}) in [-1, 1]",
              "```", "",
              "## Training", "", "| | |", "| --- | --- |"]
    lines += [f"| {what} | `{name}` ({version}) |" for what, name, version in facts.components]
    lines += [f"| data | {facts.num_images:,} images of {channels}x{height}x{width}{classes} |",
              f"| trained | {facts.steps:,} steps, {facts.epochs} epochs, {facts.images_seen:,} images "
              f"in {int(minutes)}m{seconds:04.1f}s |",
              f"| device | {facts.device}, {facts.precision} |", "",
              "## Metrics", "", METRICS_START, metrics.strip(), METRICS_END, "",
              "## Config", "", "<details><summary>The resolved config (also in config.json)</summary>", "",
              "```json", json.dumps(facts.config, indent=2, sort_keys=True), "```", "", "</details>", ""]
    return "\n".join(lines)


def training_metrics_markdown(eval_rows: list[dict], run_dir: RunDirectory) -> str:
    """The best-checkpoint evaluations the run logged (``eval`` rows), or how to get one."""
    if not eval_rows:
        return (f"No evaluation yet: `ganzoo eval {run_dir.generator.as_posix()}` measures this generator "
                "and fills in this section.")
    last, best = eval_rows[-1], [row for row in eval_rows if row.get("best")]
    metric = next(key for key in last if key not in ("kind", "epoch", "step", "backbone", "num_samples", "best"))
    label = METRICS[metric].label if metric in METRICS else metric
    lines = [f"Last evaluation during training: {label} {last[metric]:.4f} at epoch {last['epoch']} "
             f"(step {last['step']:,}; {last['backbone']}, {last['num_samples']:,} samples)."]
    if best:
        lines.append(f"Best: {label} {best[-1][metric]:.4f} at epoch {best[-1]['epoch']}, kept as "
                     "`generator-best.safetensors`.")
    return "\n".join(lines)


def evaluation_markdown(result: EvaluationResult) -> str:
    """A ``ganzoo eval`` result as the card's metrics section: a table and the protocol line."""
    protocol = result.protocol
    lines = ["| metric | backbone | value | real vs real | better |", "| --- | --- | --- | --- | --- |"]
    lines += [_table_row(value.label, value.backbone, value.shown, value.baseline_shown,
                         "lower" if value.lower_is_better else "higher") for value in result.values]
    weights = f" of `{Path(protocol['weights']).name}`" if protocol.get("weights") else ""
    lines += ["", f"`ganzoo eval`{weights}: {result.describe_protocol()}."]
    return "\n".join(lines)


def _table_row(*cells: str) -> str:
    """A markdown table row; a ``|`` inside a cell (``KL(gen || real)``) would start a new column."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def update_metrics_section(card: Path, markdown: str) -> bool:
    """Replace what lies between the card's metrics markers; False (nothing written) when there
    is no card or its markers were removed, so a user's own README is never rewritten."""
    if not card.is_file():
        return False
    text = read_input_text(card, "model card", error=OutputError)
    start, end = text.find(METRICS_START), text.find(METRICS_END)
    if start < 0 or end < start:
        return False
    updated = text[:start + len(METRICS_START)] + "\n" + markdown.strip() + "\n" + text[end:]
    atomic_write_text(updated, card)
    return True
