"""What the ganzoo command prints is what it means: user text is never read as markup, a message
is one line whatever control characters it carries, and a closed stdout pipe ends it quietly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from ganzoo.cli.output import one_line, plain_console, say

RunCli = Callable[..., subprocess.CompletedProcess[str]]
MARKUP = "ü 🐍 [red]x[/] [bold] :x: [link=http://a]b[/link]"


def test_control_characters_are_escaped_and_the_rest_kept() -> None:
    assert one_line("a\nb\tc\x1b[31md\x7f\u2028") == "a\\nb\\tc\\x1b[31md\\x7f\\u2028"
    assert one_line(MARKUP) == MARKUP


def test_say_prints_markup_as_it_is_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    console = plain_console()
    say(console, f"wrote {MARKUP}\nerror: forged", label="note")
    assert capsys.readouterr().out == f"note: wrote {MARKUP}\\nerror: forged\n"
    assert isinstance(console, Console) and not console._markup  # tables of user text too


def test_success_lines_name_the_paths_that_exist(run_cli: RunCli, tmp_path: Path) -> None:
    out = f"runs/{MARKUP}"
    trained = run_cli("train", "mlp", "--max-steps", "2", "--limit", "64", "--batch-size", "32", "--quiet",
                      "--out", out)
    assert trained.returncode == 0, trained.stderr
    line = next(line for line in trained.stdout.splitlines() if line.startswith("generator: "))
    assert (tmp_path / line.removeprefix("generator: ")).is_file()
    grid = "grid [red]x[/].png"
    sampled = run_cli("sample", f"{out}/generator.safetensors", "--num", "4", "--out", grid)
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.strip() == f"wrote a grid of 4 samples to {grid}" and (tmp_path / grid).is_file()


def test_a_newline_in_a_name_cannot_forge_a_second_error_line(run_cli: RunCli, tmp_path: Path) -> None:
    weights = tmp_path / "w\nerror: forged [red]x[bold].safetensors"
    weights.write_bytes(b"not a safetensors file")
    result = run_cli("sample", str(weights), "--num", "1", "--out", "x.png")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert "[red]x[bold]" in result.stderr


def test_a_closed_stdout_pipe_exits_quietly_with_141() -> None:
    listing = subprocess.Popen([sys.executable, "-m", "ganzoo", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.read(10)
    listing.stdout.close()  # as `ganzoo list | head -c 10` does
    assert listing.wait(timeout=120) == 141
    assert listing.stderr.read() == b""
