"""The README's variant table is the registry's: every built-in variant, each with its plugin.

A variant added to a plugin without a README row, a row naming the wrong plugin, or a row for a
variant that no longer exists fails here. Built-in means shipped in ``plugins/``; the one row
that names something not installed is the plugin guide's example, marked "(example, not
installed)" in its plugin column.
"""

from __future__ import annotations

import re
from pathlib import Path

import ganzoo

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_MARK = "(example, not installed)"


def builtin_distributions() -> set[str]:
    """The distribution names of the plugins this repository ships, from their pyproject files."""
    names = set()
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        project = re.search(r'^\[project\]\s*\nname = "([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        assert project, f"{pyproject}: no [project] name"
        names.add(project.group(1))
    return names


def readme_variants(readme: str) -> dict[str, str]:
    """Variant name -> plugin cell, from the table under the README's "## Variants" heading."""
    section = readme.split("\n## Variants\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # header, separator
    assert rows, "the README's ## Variants section has no table"
    table: dict[str, str] = {}
    for line in rows:
        name_cell, plugin_cell = [cell.strip() for cell in line.strip("|").split("|")][:2]
        names = re.findall(r"`([^`]+)`", name_cell)
        assert names, f"README variant row without a `name` in its first column: {line}"
        for name in names:
            assert name not in table, f"README lists variant {name!r} twice"
            table[name] = plugin_cell
    return table


def test_readme_lists_every_builtin_variant_with_its_plugin() -> None:
    registry = ganzoo.get_registry()
    table = readme_variants((ROOT / "README.md").read_text(encoding="utf-8"))
    builtin = builtin_distributions()
    assert {"ganzoo-mlp", "ganzoo-resnet"} <= builtin, builtin
    for name in registry.names("variant"):
        distribution = registry.get("variant", name).plugin.distribution
        if distribution not in builtin:
            continue  # a third-party plugin installed beside ganzoo
        assert name in table, f"variant {name!r} ({distribution}) is missing from the README's variant table"
        assert table[name] == distribution, (
            f"README says variant {name!r} comes from {table[name]!r}; the registry says {distribution!r}")


def test_every_variant_in_the_readme_is_registered() -> None:
    registry = ganzoo.get_registry()
    registered = set(registry.names("variant"))
    table = readme_variants((ROOT / "README.md").read_text(encoding="utf-8"))
    examples = {name for name, plugin in table.items() if plugin.endswith(EXAMPLE_MARK)}
    assert examples == {"conv-minibatch"}, f"rows marked {EXAMPLE_MARK!r}: {sorted(examples)}"
    for name in sorted(set(table) - examples):
        assert name in registered, f"the README lists variant {name!r}, which no installed plugin registers"
