"""The ``ganzoo`` command: parse arguments, call the library, print with rich.

Each subcommand lives in its own module exposing ``register(subparsers, common)``; adding one
means adding a module and listing it in ``SUBCOMMANDS``. Errors meant for people
(``GanzooError``) and errors the environment causes (``OSError``: no space, no permission, a
file where a directory should be, a read-only disk) print one line and exit 2; tracebacks only
with ``--debug``. Anything else is a bug in ganzoo and says so.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from ganzoo.errors import GanzooError, TrainingInterrupted
from ganzoo.io.files import describe_os_error
from ganzoo.version import __version__

SUBCOMMANDS = ("ganzoo.cli.train", "ganzoo.cli.sample", "ganzoo.cli.listing", "ganzoo.cli.bench",
               "ganzoo.cli.evaluate", "ganzoo.cli.interpolate", "ganzoo.cli.serve", "ganzoo.cli.export")
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (exit 2) like every other user error,
    pointing at ``--help`` instead of printing the whole usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message}; see `{self.prog} --help`\n")
        sys.exit(EXIT_USER_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="ganzoo", description="Train, sample, evaluate and benchmark GANs.")
    parser.add_argument("--version", action="version", version=f"ganzoo {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `train --nproc` relaunches it
    console = Console(emoji=False)  # user text (paths, settings) may hold ":x:"
    errors = Console(stderr=True, soft_wrap=True, emoji=False)
    try:
        return int(args.handler(args, console) or 0)
    except TrainingInterrupted as exc:
        errors.print(f"[yellow]interrupted:[/] {escape(str(exc))}")
        return EXIT_INTERRUPTED
    except GanzooError as exc:
        if args.debug:
            traceback.print_exc()
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_USER_ERROR
    except OSError as exc:  # the environment (a full disk, permissions, a path), not a bug
        if args.debug:
            traceback.print_exc()
        errors.print(f"[red]error:[/] {escape(describe_os_error(exc))}")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        errors.print(f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc).splitlines()[0] if str(exc) else '')}; "
                     "rerun with --debug for the traceback and report it")
        return 1


if __name__ == "__main__":
    sys.exit(main())
