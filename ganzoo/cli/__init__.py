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
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from ganzoo.cli.output import plain_console, say
from ganzoo.errors import GanzooError, TrainingInterrupted
from ganzoo.io.files import describe_os_error
from ganzoo.version import __version__

SUBCOMMANDS = ("ganzoo.cli.train", "ganzoo.cli.sample", "ganzoo.cli.listing", "ganzoo.cli.bench",
               "ganzoo.cli.evaluate", "ganzoo.cli.interpolate", "ganzoo.cli.serve", "ganzoo.cli.export")
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a program stopped by SIGPIPE (128 + 13): the reader of stdout went away
(``ganzoo list | head -c 10``); nothing more is printed."""


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
    console, errors = plain_console(), plain_console(stderr=True)  # user text may hold "[x]" or ":x:"
    try:
        code = int(args.handler(args, console) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return stdout_gone()
    except TrainingInterrupted as exc:
        say(errors, str(exc), label="interrupted", style="yellow")
        return EXIT_INTERRUPTED
    except GanzooError as exc:
        if args.debug:
            traceback.print_exc()
        say(errors, str(exc), label="error", style="red")
        return EXIT_USER_ERROR
    except OSError as exc:  # the environment (a full disk, permissions, a path), not a bug
        if args.debug:
            traceback.print_exc()
        say(errors, describe_os_error(exc), label="error", style="red")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        say(errors, "stopped by Ctrl+C", label="interrupted", style="yellow")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        say(errors, f"{type(exc).__name__}: {first}; rerun with --debug for the traceback and report it",
            label="internal error", style="red")
        return 1


def stdout_gone() -> int:
    """The pipe on stdout closed: point stdout at /dev/null so that the interpreter's last flush
    stays quiet, and exit as SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
