"""MkDocs hook: pages rendered from ganzoo itself at build time, so they cannot drift.

A page asks for generated content with a marker line:

* ``<!-- ganzoo:cli-reference -->``: every subcommand's ``--help``, from ``ganzoo.cli.build_parser()``.
* ``<!-- ganzoo:components -->``: every registered variant, loss, strategy and dataset, with
  its plugin, defaults and the options its config model accepts, from ``ganzoo.get_registry()``.

A marker that this hook does not know, or a plugin that failed to load, is logged as a warning,
which fails the ``--strict`` build that the test suite runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

log = logging.getLogger("mkdocs.hooks.ganzoo")

MARKER = re.compile(r"^<!-- ganzoo:([a-z-]+) -->$", re.MULTILINE)
HELP_WIDTH = 80  # what fits a code block of the theme without scrolling


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        renderer = RENDERERS.get(match.group(1))
        if renderer is None:
            log.warning("%s: unknown generated-content marker %r; known: %s",
                        page.file.src_uri, match.group(1), ", ".join(RENDERERS))
            return match.group(0)
        return renderer()

    return MARKER.sub(replace, markdown)


# --- CLI reference ---------------------------------------------------------------------------

def render_cli_reference() -> str:
    from ganzoo.cli import build_parser

    with _fixed_terminal_width(HELP_WIDTH):
        parser = build_parser()
        sections = ["## `ganzoo`", "", _fenced(parser.format_help())]
        for name, summary, subparser in _subcommands(parser):
            sections += [f"## `ganzoo {name}`", "", f"{_sentence(summary)}", "", _fenced(subparser.format_help())]
    return "\n".join(sections)


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                yield name, summaries.get(name, ""), subparser


@contextmanager
def _fixed_terminal_width(columns: int) -> Iterator[None]:
    """argparse wraps help to the terminal; pin it so the page is the same on every machine."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


# --- registered components -------------------------------------------------------------------

def render_components() -> str:
    from ganzoo.core.registry import KINDS, get_registry

    registry = get_registry()
    for problem in registry.problems:
        log.warning("ganzoo plugin problem while rendering the components page: %s", problem)
    lines: list[str] = []
    for kind in ("variant", "loss", "strategy", "dataset"):
        lines += [f"## {KINDS[kind].plural.capitalize()}", "", "| name | plugin | description |", "| --- | --- | --- |"]
        for name in registry.names(kind):
            entry = registry.components[kind][name]
            link = f"[`{name}`](#{_anchor(kind, name)})" if kind != "dataset" else f"`{name}`"
            lines.append(f"| {link} | {entry.plugin.distribution} {entry.plugin.version} | "
                         f"{_cell(entry.spec.description)} |")
        lines.append("")
        if kind == "dataset":
            continue
        for name in registry.names(kind):
            lines += _component_section(registry.components[kind][name])
    return "\n".join(lines)


def _component_section(entry: Any) -> list[str]:
    spec = entry.spec
    lines = [f"### {spec.name} {{#{_anchor(entry.kind, spec.name)}}}", "", f"{_sentence(spec.description)}",
             "", f"Provided by **{entry.plugin.distribution}** {entry.plugin.version}."]
    defaults = getattr(spec, "defaults", None)
    if defaults:
        shown = ", ".join(f"{section} = `{_short(value)}`" for section, value in defaults.items())
        lines += ["", f"Recommended settings (your config and flags override them): {shown}."]
    if getattr(spec, "conditional", False):
        lines += ["", "Conditional: needs a labelled dataset; sample a class with `ganzoo sample --label N`."]
    lines += ["", *_options_table(spec.config_model, entry.kind), ""]
    return lines


def _options_table(model: type[BaseModel], kind: str) -> list[str]:
    prefix = {"variant": "model", "loss": "loss.options", "strategy": "strategy.options"}[kind]
    if not model.model_fields:
        return ["No options."]
    rows = [f"Options (`--set {prefix}.NAME=VALUE`, or `[{prefix}]` in a config file):", "",
            "| option | type | default | description |", "| --- | --- | --- | --- |"]
    for field_name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        rows.append(f"| `{field_name}` | `{_cell(_type_name(field.annotation))}` | `{_cell(repr(default))}` | "
                    f"{_cell(field.description or '')} |")
    return rows


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_short(item)}" for key, item in value.items()) + "}"
    return str(value)


def _anchor(kind: str, name: str) -> str:
    """A component's heading id: the bare name for variants (``variants.md#dcgan``, linked from
    the README), prefixed by kind otherwise, since a strategy may share its variant's name."""
    slug = re.sub(r"[^\w\-]", "-", name).lower()
    return slug if kind == "variant" else f"{kind}-{slug}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


def _fenced(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


RENDERERS: dict[str, Callable[[], str]] = {
    "cli-reference": render_cli_reference,
    "components": render_components,
}
