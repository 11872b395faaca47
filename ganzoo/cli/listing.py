"""``ganzoo list``: every registered component, who provides it, and one ``broken:`` line per plugin problem.

It exits 0 whatever plugins are broken: it is how a user finds out why."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from ganzoo.cli.output import one_line, say
from ganzoo.core.registry import KINDS, get_registry


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("list", parents=[common],
                                   help="list variants, losses, strategies, datasets, callbacks and augmentations")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    registry = get_registry()
    for kind, entry in KINDS.items():
        table = Table(title=entry.plural.capitalize(), title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("plugin")
        table.add_column("version")
        table.add_column("description")
        for name in registry.names(kind):
            entry = registry.components[kind][name]
            table.add_row(name, entry.plugin.distribution, entry.plugin.version, one_line(entry.spec.description))
        console.print(table)
    for problem in registry.problems:
        say(console, str(problem), label="broken", style="red")
    return 0
