"""The documentation builds with warnings as errors, and its generated pages match the code.

A broken link, a nav entry to a missing page, a docstring mkdocstrings cannot parse, a missing
snippet of the example plugin or a plugin that fails to load all fail this test, so the docs
cannot rot silently.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli import build_parser
from ganzoo.core.registry import Registry

DOCS = Path(__file__).resolve().parents[1] / "docs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # NO_MKDOCS_2_WARNING silences mkdocs-material's banner about MkDocs 2; it is not a warning
    # of this build and would only clutter the failure message.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(DOCS / "mkdocs.yml"),
         "--site-dir", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    assert "WARNING" not in log, log
    return out


def _text(page: Path) -> str:
    """The visible text of a built page, so assertions do not depend on the theme's markup."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_every_page_in_the_nav_is_built(site: Path) -> None:
    for page in ("index.html", "getting-started/index.html", "concepts/index.html", "architecture/index.html",
                 "variants/index.html", "writing-a-plugin/index.html", "cli/index.html", "api/index.html"):
        assert (site / page).is_file(), page
    assert (site / "images" / "mlp-samples.png").is_file()


def test_cli_reference_is_the_help_of_every_subcommand(site: Path) -> None:
    text = _text(site / "cli" / "index.html")
    parser = build_parser()
    subcommands = next(action for action in parser._actions if action.dest == "command").choices
    assert subcommands, "the ganzoo parser has no subcommands"
    for name, subparser in subcommands.items():
        assert f"usage: ganzoo {name}" in text, f"`ganzoo {name}` is missing from the CLI reference"
        for action in subparser._actions:
            for flag in action.option_strings:
                assert flag in text, f"`ganzoo {name} {flag}` is missing from the CLI reference"


def test_variants_page_lists_every_registered_component(site: Path, registry: Registry) -> None:
    text = _text(site / "variants" / "index.html")
    for kind in ("variant", "loss", "strategy", "dataset"):
        for name in registry.names(kind):
            assert name in text, f"{kind} {name!r} is missing from the variants page"


def test_plugin_guide_shows_the_example_plugin_source(site: Path) -> None:
    text = _text(site / "writing-a-plugin" / "index.html")
    plugin_source = (DOCS / "examples" / "ganzoo-minibatch" / "src" / "ganzoo_minibatch" / "plugin.py")
    assert 'name="conv-minibatch"' in plugin_source.read_text(encoding="utf-8")
    assert 'name="conv-minibatch"' in text
    assert "ganzoo_register_variants" in text and "VariantSpec" in text
