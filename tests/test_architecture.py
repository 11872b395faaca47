"""The shape of the code, held by tests: ganzoo's modules import each other without cycles, the
plugin boundary (``ganzoo.core``) imports nothing above it, at most eight modules stand at the top
level, and plugins (ours and the documented example) import ganzoo only through ``ganzoo.plugin``.

The import graph is read from the source with ``ast``, so every import counts: the ones inside
functions (a lazy import still ties two modules together) and the ones under
``if TYPE_CHECKING:`` (a type-only import is still a dependency a reader has to follow).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import ganzoo.plugin

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ganzoo"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of a module: at the top, in functions, under ``TYPE_CHECKING``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def import_targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that one import statement loads.

    ``from ganzoo.x import y`` loads ``ganzoo.x.y`` when that is a module, else ``ganzoo.x``;
    importing a submodule is no edge to its parent package.
    """
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names} & modules


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module of ``package`` (a package's ``__init__`` included) -> the modules of it that it imports."""
    paths = {module_name(path, package.parent): path for path in package.rglob("*.py")}
    modules = set(paths)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = set().union(*(import_targets(node, name, path.name == "__init__.py", modules)
                                    for node in imports(tree)))
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every node a path of one or more edges leads to from ``start``."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One spelled-out cycle (``[a, b, a]``) per strongly connected component that has one
    (two or more modules, or one that imports itself)."""
    reach = {node: reachable(graph, node) for node in graph}
    found: list[list[str]] = []
    placed: set[str] = set()
    for node in sorted(graph):
        if node in reach[node] and node not in placed:
            component = {other for other in reach[node] if node in reach[other]}
            placed |= component
            found.append(_cycle_through(node, component, graph))
    return found


def _cycle_through(start: str, component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path start -> ... -> start inside ``component`` (breadth first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a cycle that was not found")


def test_the_import_graph_is_read_the_way_python_imports() -> None:
    graph = import_graph()
    assert {"ganzoo", "ganzoo.training", "ganzoo.training.loop", "ganzoo.plugin"} <= set(graph)  # packages too
    assert "ganzoo.core.hookspecs" in graph["ganzoo.core.registry"]  # `from ganzoo.core import hookspecs`: the module
    assert "ganzoo" not in graph["ganzoo.core.registry"]
    assert {"ganzoo.training.build", "ganzoo.training.callbacks"} <= graph["ganzoo.training.loop"]
    assert "ganzoo.training" not in graph["ganzoo.training.loop"]  # a submodule is no edge to its package
    assert "ganzoo.training.loop" in graph["ganzoo"]  # inside a function, and under TYPE_CHECKING: both count


def test_a_cycle_through_a_lazy_or_a_type_only_import_is_found(tmp_path: Path) -> None:
    toy = tmp_path / "toy"
    (toy / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from toy.sub import c\n",
        "a.py": "def later():\n    from toy import b\n",
        "b.py": "import toy.a\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toy\nelse:\n    from . import d\n",
        "sub/d.py": "from toy.sub.c import thing\n",
    }
    for name, source in files.items():
        (toy / name).write_text(source, encoding="utf-8")
    graph = import_graph(toy)
    assert graph == {"toy": {"toy.sub.c"}, "toy.a": {"toy.b"}, "toy.b": {"toy.a"}, "toy.sub": set(),
                     "toy.sub.c": {"toy", "toy.sub.d"}, "toy.sub.d": {"toy.sub.c"}}
    assert cycles(graph) == [["toy", "toy.sub.c", "toy"], ["toy.a", "toy.b", "toy.a"]]


def test_cycle_finder_spells_out_the_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": set(), "d": {"d"}}
    assert cycles(graph) == [["a", "b", "a"], ["d", "d"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_ganzoo_modules_import_each_other_without_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in ganzoo: " + "; ".join(" -> ".join(cycle) for cycle in found)


BOUNDARY = "ganzoo.core"
BELOW_THE_BOUNDARY = {"ganzoo.errors", "ganzoo.version"}
"""What the plugin boundary may import besides itself: nothing that knows runs, files or devices."""


def boundary_violations(graph: dict[str, set[str]]) -> list[str]:
    """``module -> target`` for each import from the boundary to anything above it."""
    inside = {name for name in graph if name == BOUNDARY or name.startswith(BOUNDARY + ".")}
    return sorted(f"{name} -> {target}" for name in inside for target in graph[name]
                  if target not in inside | BELOW_THE_BOUNDARY)


def test_the_plugin_boundary_imports_nothing_above_it() -> None:
    problems = boundary_violations(import_graph())
    assert not problems, "ganzoo.core imports modules above it:\n" + "\n".join(problems)


def test_the_boundary_rule_catches_an_import_from_above() -> None:
    graph = {"ganzoo.core": set(), "ganzoo.core.specs": {"ganzoo.errors", "ganzoo.training.callbacks"},
             "ganzoo.training.callbacks": {"ganzoo.core.specs"}}
    assert boundary_violations(graph) == ["ganzoo.core.specs -> ganzoo.training.callbacks"]


MOST_TOP_LEVEL_MODULES = 8


def top_level_modules(package: Path = PACKAGE) -> list[str]:
    """The plain modules directly in ``package`` (subpackages are folders, not counted)."""
    return sorted(path.stem for path in package.glob("*.py"))


def test_at_most_eight_modules_stand_at_the_top_level() -> None:
    modules = top_level_modules()
    assert {"__init__", "plugin", "config", "errors"} <= set(modules)
    assert len(modules) <= MOST_TOP_LEVEL_MODULES, (
        f"{len(modules)} modules at ganzoo's top level ({', '.join(modules)}); at most "
        f"{MOST_TOP_LEVEL_MODULES}: put a new one in the package of its concern (core, data, runtime, generators, "
        "io, training, metrics, ...)")


# -- plugins import only ganzoo.plugin -----------------------------------------------------------

PLUGIN_SOURCES = sorted([*ROOT.glob("plugins/*/ganzoo_*/**/*.py"), *ROOT.glob("docs/examples/*/src/*/**/*.py")])


def forbidden_ganzoo_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: statement`` for each import of ganzoo other than ``ganzoo.plugin``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            if (module == "ganzoo" or module.startswith("ganzoo.")) and module != "ganzoo.plugin":
                problems.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return problems


def test_plugin_sources_are_found() -> None:
    tops = {path.relative_to(ROOT).parts[:2] for path in PLUGIN_SOURCES}
    assert {("plugins", family) for family in ("mlp", "dcgan", "wgan", "conditional")} <= tops
    assert ("docs", "examples") in tops


def test_plugins_import_ganzoo_only_through_ganzoo_plugin() -> None:
    problems = [problem for path in PLUGIN_SOURCES for problem in forbidden_ganzoo_imports(path)]
    assert not problems, "plugins must import ganzoo only as `from ganzoo.plugin import ...`:\n" + "\n".join(problems)


def test_the_import_rule_catches_every_other_form(tmp_path: Path) -> None:
    source = tmp_path / "sneaky.py"
    source.write_text("import ganzoo\nfrom ganzoo.config import StrictModel\nfrom ganzoo import plugin\n"
                      "from ganzoo.plugin import hookimpl\nfrom ganzoo_dcgan.models import DCGANOptions\n"
                      "def f():\n    import ganzoo.core.registry\n", encoding="utf-8")
    problems = forbidden_ganzoo_imports(source, root=tmp_path)
    assert [problem.split(": ", 1)[0] for problem in problems] == ["sneaky.py:1", "sneaky.py:2", "sneaky.py:3",
                                                                    "sneaky.py:7"]
    assert problems[1].endswith("from ganzoo.config import StrictModel")


# -- the plugin surface --------------------------------------------------------------------------


def test_everything_in_plugin_all_resolves() -> None:
    names = ganzoo.plugin.__all__
    missing = [name for name in names if not hasattr(ganzoo.plugin, name)]
    assert not missing, f"ganzoo.plugin.__all__ names {missing}, which do not resolve"
    assert len(set(names)) == len(names)
    star: dict[str, object] = {}
    exec("from ganzoo.plugin import *", star)  # what a plugin author's star import gets
    assert set(names) <= set(star)


def test_the_names_the_plugin_docstring_promises_exist() -> None:
    promised = set(re.findall(r"``(\w+)``", ganzoo.plugin.__doc__ or ""))
    assert {"hookimpl", "Game", "AlternatingStrategy", "Callback", "TrainingRun"} <= promised
    missing = sorted(name for name in promised if not hasattr(ganzoo.plugin, name))
    assert not missing, f"ganzoo.plugin's docstring names {missing}, which it does not provide"
    assert not sorted(promised - set(ganzoo.plugin.__all__)), "a promised name is missing from __all__"


@pytest.mark.parametrize("name", ["Generator", "Loss", "Game", "Callback", "AlternatingStrategy"])
def test_plugin_names_are_the_real_objects(name: str) -> None:
    """Re-exports, not copies: a plugin's ``Generator`` is the class the contracts check."""
    homes = {"Generator": "ganzoo.core.interfaces", "Loss": "ganzoo.core.interfaces", "Game": "ganzoo.core.interfaces",
             "Callback": "ganzoo.core.callback", "AlternatingStrategy": "ganzoo.core.steps"}
    assert getattr(ganzoo.plugin, name) is getattr(importlib.import_module(homes[name]), name)


def test_structured_files_are_parsed_in_one_bounded_place() -> None:
    """Every JSON, YAML and TOML text ganzoo reads goes through ``ganzoo.io.structured``, which
    bounds its depth and size and refuses duplicate keys: a bare parser call elsewhere is one
    more place a hostile file could end in a RecursionError or a silent last-key-wins."""
    bare = re.compile(r"\b(json\.loads?|yaml\.(safe_)?load|yaml\.load_all|tomllib\.loads?)\(")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sorted(PACKAGE.rglob("*.py"))
             if path != PACKAGE / "io" / "structured.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if bare.search(line)]
    assert not found, "parse structured files with ganzoo.io.structured instead: " + ", ".join(found)
