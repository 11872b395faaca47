"""How the ganzoo command prints: plain text, never markup, one line per message.

User-supplied text (paths, names, settings, a weights file's metadata, a plugin's description)
reaches almost every line the command prints. So the consoles here read nothing as rich markup,
emoji codes or highlighting: ``out/[red]x[/].png`` is printed as it is, and the path a user copies
exists. Control characters are shown escaped (``\\n``, ``\\x1b``), so a newline in a file or
variant name cannot split one message into two or forge a second ``error:`` line.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every control character escaped as Python writes it (``\\n``, ``\\x1b``)."""
    return CONTROL_CHARACTERS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class PlainConsole(Console):
    """rich's console, except that a closed pipe is raised as ``BrokenPipeError`` for the command
    to exit quietly (rich's own answer is exit code 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def plain_console(*, stderr: bool = False) -> Console:
    """A console that prints text as given: no markup, no emoji codes, no highlighting."""
    return PlainConsole(stderr=stderr, markup=False, emoji=False, highlight=False)


def say(console: Console, message: str, *, label: str | None = None, style: str = "") -> None:
    """Print ``message`` as one line, after a styled ``label:`` when given (``error:``, ``note:``)."""
    text = Text(one_line(message))
    if label is not None:
        text = Text.assemble((f"{label}:", style), " ", text)
    console.print(text, soft_wrap=True)
