"""The docs say what the code does: their examples run, their signatures and copies match the code,
and the reference pages cover every module, setting and plugin name.

Markers in the Markdown (HTML comments: invisible on GitHub and in the built site) say what a
fenced block is, on the line right above it:

* ``<!-- test: NAME -->``: a complete plugin module; it is executed, registered as a plugin
  and trained with here.
* ``<!-- signatures: ganzoo/PATH.py -->``: every class, function, field and alias in the block
  has the signature it has in that file (bodies and docstrings may differ).
* ``<!-- file: PATH -->``: a verbatim copy of ``docs/PATH``.
"""

from __future__ import annotations

import ast
import json
import math
import re
import sys
import types
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel

import ganzoo.plugin
from ganzoo.builtin.losses import RelativisticAverageLoss
from ganzoo.cli.train import FLAG_KEYS
from ganzoo.config import AugmentConfig, EMAConfig, OptimizerConfig, RunConfig, TrainConfig, parse_set_items
from ganzoo.core.options import DataConfig
from ganzoo.core.registry import PluginInfo, Registry, build_registry
from ganzoo.generators.weights import load_generator
from ganzoo.training.loop import RunResult, train
from ganzoo.training.plan import make_plan

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = DOCS / "pages"
PLUGIN_GUIDE = PAGES / "writing-a-plugin.md"
MAX_LOGIC_LINES = 15

MARKED_BLOCK = re.compile(r"^<!-- (test|signatures|file): (\S+) -->\n```(\w*)[^\n]*\n(.*?)^```[ \t]*$",
                          re.MULTILINE | re.DOTALL)
PYTHON_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: Path
    kind: str
    target: str
    code: str
    line: int


def marked_blocks(page: Path, kind: str) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, match.group(1), match.group(2), match.group(4), text.count("\n", 0, match.start()) + 2)
            for match in MARKED_BLOCK.finditer(text) if match.group(1) == kind]


# -- the examples of the plugin guide, as a real plugin ----------------------------------------


def load_example(block: Block) -> types.ModuleType:
    """Execute one ``<!-- test: NAME -->`` block as the module ``ganzoo_docs_example_NAME``."""
    name = f"ganzoo_docs_example_{block.target}"
    module = types.ModuleType(name)
    module.__file__ = f"{block.page}:{block.line}"
    sys.modules[name] = module  # pydantic resolves the postponed annotations through sys.modules
    exec(compile(block.code, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own docs
    return module


@pytest.fixture(scope="module")
def examples() -> dict[str, types.ModuleType]:
    blocks = marked_blocks(PLUGIN_GUIDE, "test")
    assert {block.target for block in blocks} >= {"variant", "loss", "strategy", "dataset", "callback"}
    return {block.target: load_example(block) for block in blocks}


@pytest.fixture(scope="module")
def docs_registry(examples: dict[str, types.ModuleType]) -> Registry:
    plugins = [(module, PluginInfo(f"docs-{name}", "docs-example", "0")) for name, module in examples.items()]
    _, registry = build_registry(extra_plugins=plugins)
    problems = [str(problem) for problem in registry.problems if problem.plugin.distribution == "docs-example"]
    assert not problems, problems
    return registry


def tiny_run(registry: Registry, out: Path, layer: dict[str, Any]) -> RunResult:
    base = {
        "data": {"name": "mnist-embedded", "image_size": 16, "limit": 256},
        "run": {"out_dir": str(out), "epochs": 1, "max_steps": 4, "batch_size": 32, "device": "cpu",
                "log_every_steps": 2, "num_fixed_samples": 16},
    }
    return train(make_plan([base, layer], registry))


def logged_rows(result: RunResult) -> list[dict[str, Any]]:
    lines = (result.out_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["kind"] == "step"]


def assert_finite_losses(result: RunResult) -> list[dict[str, Any]]:
    rows = logged_rows(result)
    assert rows, "the run logged nothing"
    for row in rows:
        assert math.isfinite(row["d_loss"]) and math.isfinite(row["g_loss"]), row
    return rows


def test_r1_strategy_trains_the_mlp_variant_and_logs_r1(docs_registry: Registry, tmp_path: Path) -> None:
    result = tiny_run(docs_registry, tmp_path / "run",
                      {"variant": "mlp", "strategy": {"name": "my-r1", "options": {"every": 2, "gamma": 5.0}}})
    assert result.progress.global_step == 4
    for row in assert_finite_losses(result):
        assert math.isfinite(row["r1"]) and row["r1"] > 0, row


def test_r1_penalty_is_gamma_over_two_times_the_squared_gradient_norm(examples: dict[str, types.ModuleType]) -> None:
    module = examples["strategy"]

    class Linear(ganzoo.plugin.Discriminator):  # D(x) = <w, x>, so grad_x D = w for every image
        def __init__(self) -> None:
            super().__init__()
            self.image_shape = (1, 2, 2)
            self.weight = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0]))

        def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            return images.flatten(start_dim=1) @ self.weight

    strategy = module.R1Strategy(module.R1Options(gamma=4.0, every=3))
    real = ganzoo.plugin.Batch(torch.randn(5, 1, 2, 2))
    # Only the discriminator and the step are read by the penalty.
    game = ganzoo.plugin.Game(generator=None, discriminator=Linear(), loss=None, g_optimizer=None,  # type: ignore[arg-type]
                              d_optimizer=None, autocast=nullcontext, optimize=lambda loss, optimizer: None, step=6)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the penalty must not inherit the run's precision
        terms = strategy.discriminator_penalty(game, real, real)
    expected = 3 * 4.0 / 2 * float(game.discriminator.weight.detach().square().sum())  # every * gamma/2 * ||w||^2
    assert terms["r1"].dtype == torch.float32
    assert float(terms["r1"].detach()) == pytest.approx(expected, rel=1e-6)
    terms["r1"].backward()  # create_graph: the penalty reaches D's weights
    assert game.discriminator.weight.grad is not None and game.discriminator.weight.grad.abs().sum() > 0
    game.step = 7
    assert strategy.discriminator_penalty(game, real, real) == {}  # lazy: only every k-th step


def test_augmentation_example_keeps_shapes_and_trains_with_the_builtins(docs_registry: Registry,
                                                                         examples: dict[str, types.ModuleType],
                                                                         tmp_path: Path) -> None:
    images = torch.rand(64, 1, 4, 4, requires_grad=True)
    flipped = examples["augmentation"].random_flip(images, torch.Generator().manual_seed(0))
    mirrored = [bool(torch.equal(out, image.flip(-1))) for out, image in zip(flipped, images)]
    assert flipped.shape == images.shape and 16 < sum(mirrored) < 48
    flipped.sum().backward()
    assert images.grad is not None
    result = tiny_run(docs_registry, tmp_path / "run", {"variant": "mlp",
                                                       "augment": {"policy": "translation,my-flip"}})
    assert result.progress.global_step == 4
    assert_finite_losses(result)


def test_relativistic_loss_trains_the_mlp_variant(docs_registry: Registry, tmp_path: Path) -> None:
    result = tiny_run(docs_registry, tmp_path / "run", {"variant": "mlp", "loss": {"name": "my-relativistic"}})
    assert result.progress.global_step == 4
    assert_finite_losses(result)


def test_relativistic_loss_matches_ganzoos_own(examples: dict[str, types.ModuleType]) -> None:
    documented = examples["loss"].RelativisticAverageLoss(ganzoo.plugin.NoOptions())
    shipped = RelativisticAverageLoss()
    real, fake = torch.randn(16) * 3, torch.randn(16) * 3 - 1
    assert documented.generator_needs_real_logits
    torch.testing.assert_close(documented.discriminator_loss(real, fake), shipped.discriminator_loss(real, fake))
    torch.testing.assert_close(documented.generator_loss(fake, real), shipped.generator_loss(fake, real))


def test_variant_dataset_and_callback_train_together(docs_registry: Registry, tmp_path: Path) -> None:
    selection = parse_set_items(["run.callbacks=[{name: my-logger}]"])  # exactly what the guide tells users
    assert selection == {"run": {"callbacks": [{"name": "my-logger"}]}}
    # A data layer that names another dataset replaces the earlier layer's data settings whole.
    layer = {"variant": "tiny-linear", "data": {"name": "my-squares", "image_size": 16, "limit": 256}, **selection}
    result = tiny_run(docs_registry, tmp_path / "run", layer)
    assert_finite_losses(result)
    logged = [json.loads(line) for line in (result.out_dir / "my-log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logged] == [2, 4]
    assert all(math.isfinite(row["d_loss"]) for row in logged)
    generator = load_generator(result.generator_path, device="cpu", registry=docs_registry)
    samples = generator.sample(4, seed=0)
    assert samples.shape == (4, 1, 16, 16) and samples.abs().max() <= 1


# -- the examples stay short -------------------------------------------------------------------


def logic_lines(code: str, class_name: str) -> list[str]:
    """The lines of ``class_name`` that do something: its statements and method bodies, less the
    class and def lines, decorators, docstrings, options fields, blank lines and comments."""
    tree = ast.parse(code)
    cls = next(node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == class_name)
    numbers: set[int] = set()
    for statement in _without_docstring(cls.body):
        if isinstance(statement, (ast.Import, ast.ImportFrom, ast.AnnAssign)):
            continue  # imports and (options) fields
        body = _without_docstring(statement.body) if isinstance(statement, ast.FunctionDef) else [statement]
        for inner in body:
            numbers.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    source = code.splitlines()
    lines = [source[number - 1] for number in sorted(numbers)]
    return [line for line in lines if line.strip() and not line.strip().startswith("#")]


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_docstring = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str))
    return body[1:] if is_docstring else body


@pytest.mark.parametrize(("example", "class_name"), [("strategy", "R1Strategy"), ("loss", "RelativisticAverageLoss")])
def test_examples_fit_in_fifteen_lines_of_logic(example: str, class_name: str) -> None:
    block = next(block for block in marked_blocks(PLUGIN_GUIDE, "test") if block.target == example)
    lines = logic_lines(block.code, class_name)
    assert 0 < len(lines) <= MAX_LOGIC_LINES, "\n".join(lines)


def test_guide_code_imports_only_the_plugin_api() -> None:
    for code in PYTHON_BLOCK.findall(PLUGIN_GUIDE.read_text(encoding="utf-8")):
        for node in ast.walk(ast.parse(code)):
            modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                       else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for module in modules:
                internal = module.startswith("ganzoo.") and module != "ganzoo.plugin"
                assert not internal, f"writing-a-plugin.md imports {module}; plugins import only ganzoo.plugin"


def test_every_plugin_api_name_is_documented() -> None:
    for page in (PLUGIN_GUIDE, PAGES / "api.md"):
        text = page.read_text(encoding="utf-8")
        missing = [name for name in ganzoo.plugin.__all__ if f"`{name}`" not in text]
        assert not missing, f"{page.name} does not mention {missing}"


# -- signatures and copies match the code ------------------------------------------------------


def _signature_blocks() -> list[Block]:
    return [block for page in sorted(PAGES.glob("*.md")) for block in marked_blocks(page, "signatures")]


@pytest.mark.parametrize("block", _signature_blocks(), ids=lambda block: f"{block.page.name}:{block.line}")
def test_signatures_shown_are_the_codes(block: Block) -> None:
    source = ast.parse((ROOT / block.target).read_text(encoding="utf-8"))
    shown = ast.parse(block.code)
    problems = _compare_scope(shown.body, source.body, block.target)
    assert not problems, f"{block.page.name} line {block.line} differs from {block.target}:\n" + "\n".join(problems)


def _compare_scope(shown: list[ast.stmt], actual: list[ast.stmt], where: str) -> list[str]:
    definitions = {name: node for node in actual for name in _names(node)}
    problems: list[str] = []
    for node in shown:
        names = _names(node)
        if not names:
            continue  # imports, docstrings, `...`
        name = names[0]
        real = definitions.get(name)
        if real is None or type(real) is not type(node):
            problems.append(f"{where}.{name}: not in the code")
        elif isinstance(node, ast.ClassDef):
            assert isinstance(real, ast.ClassDef)
            if _unparse_all(node.bases) != _unparse_all(real.bases):
                problems.append(f"{where}.{name}: bases {_unparse_all(node.bases)} != {_unparse_all(real.bases)}")
            problems += _compare_scope(node.body, real.body, f"{where}.{name}")
        elif _signature(node) != _signature(real):
            problems.append(f"{where}.{name}:\n  docs: {_signature(node)}\n  code: {_signature(real)}")
    return problems


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    return []


def _signature(node: ast.stmt) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        returns = ast.unparse(node.returns) if node.returns else ""
        return f"({ast.unparse(node.args)}) -> {returns}"
    if isinstance(node, ast.AnnAssign):
        value = ast.unparse(node.value) if node.value else ""
        return f": {ast.unparse(node.annotation)} = {value}"
    if isinstance(node, ast.Assign):
        return f"= {ast.unparse(node.value)}"
    return ast.unparse(node)


def _unparse_all(nodes: list[ast.expr]) -> list[str]:
    return [ast.unparse(node) for node in nodes]


def _file_blocks() -> list[Block]:
    return [block for page in sorted(PAGES.glob("*.md")) for block in marked_blocks(page, "file")]


@pytest.mark.parametrize("block", _file_blocks(), ids=lambda block: block.target)
def test_copied_files_are_verbatim(block: Block) -> None:
    assert block.code.strip() == (DOCS / block.target).read_text(encoding="utf-8").strip(), (
        f"{block.page.name} line {block.line} no longer matches docs/{block.target}; copy the file again")


def test_the_guide_has_copies_and_signatures() -> None:
    assert len(marked_blocks(PLUGIN_GUIDE, "signatures")) >= 5
    assert len(marked_blocks(PLUGIN_GUIDE, "file")) >= 2


# -- the reference pages cover the code --------------------------------------------------------


def test_architecture_names_every_module() -> None:
    text = (PAGES / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "ganzoo"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if not re.search(rf"(?<![\w/.])(?:ganzoo/)?{re.escape(relative)}(?![\w/])", text):
            missing.append(f"ganzoo/{relative}")
    assert not missing, f"architecture.md does not say what these modules do: {missing}"


def shown_default(value: Any) -> str:
    """A default as configuration.md writes it: as a user would type it in a config file."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return json.dumps(list(value))
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def _section(text: str, title: str) -> str:
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2]))
    assert title in sections, f"configuration.md has no '## {title}' section"
    return sections[title]


@pytest.mark.parametrize(("title", "model"), [("data", DataConfig), ("optimizer", OptimizerConfig),
                                              ("ema", EMAConfig), ("augment", AugmentConfig), ("run", RunConfig)])
def test_configuration_lists_every_field_with_its_default(title: str, model: type[BaseModel]) -> None:
    section = _section((PAGES / "configuration.md").read_text(encoding="utf-8"), title)
    for name, field in model.model_fields.items():
        row = re.search(rf"^\| `{re.escape(name)}` \| ([^|]*) \| (.*) \|$", section, re.MULTILINE)
        assert row, f"configuration.md, section {title}: no row for `{name}`"
        default = shown_default(field.get_default(call_default_factory=True))
        assert row.group(1).strip() == f"`{default}`", f"{title}.{name}: the page says {row.group(1)}, code {default!r}"
        assert row.group(2).strip(), f"{title}.{name}: say what it does"


def test_configuration_lists_every_section_and_flag() -> None:
    text = (PAGES / "configuration.md").read_text(encoding="utf-8")
    for name in TrainConfig.model_fields:
        assert re.search(rf"^\| `{name}` \|", text, re.MULTILINE), f"configuration.md: no row for section `{name}`"
    for flag, key in FLAG_KEYS.items():
        option = "--" + flag.replace("_", "-")
        assert re.search(rf"^\| `{option}` \| `{re.escape(key)}` \|$", text, re.MULTILINE), (
            f"configuration.md: no row `{option}` -> `{key}` in the flags table")
    assert "run.callbacks" in text
