"""The errors ganzoo raises for people, not for programmers.

Every ``GanzooError`` carries one line that says what went wrong and how to fix it. The CLI maps
the whole family to exit code 2 and prints only that line (tracebacks only with ``--debug``), so
a message must make sense on its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none), for the
    one-line errors that name whose code raised it."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class GanzooError(Exception):
    """Base of every user-facing error: the message is the whole story."""


class ConfigError(GanzooError):
    """A configuration value is missing, malformed, out of range or contradictory."""


class UnknownNameError(ConfigError):
    """A variant, loss, strategy or dataset name that no installed plugin provides."""

    def __init__(self, kind: str, name: str, known: Iterable[str], broken: Iterable[str] = ()) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
            f"known {plural(kind)}: {', '.join(known) or 'none'}"
        )
        # A name that a broken plugin would have provided looks unknown; say so, or users hunt typos.
        broken = sorted(broken)
        also = (f"; plugins that failed to load: {', '.join(map(repr, broken))} (`ganzoo list` says why)"
                if broken else f" (run `ganzoo list` to see every {kind})")
        super().__init__(f"unknown {kind} {name!r}; {hint}{also}")
        self.kind, self.name, self.suggestions = kind, name, close


def plural(kind: str) -> str:
    """``strategy`` -> ``strategies``, ``loss`` -> ``losses``, ``variant`` -> ``variants``."""
    if kind.endswith("y"):
        return kind[:-1] + "ies"
    return kind + ("es" if kind.endswith("s") else "s")


class PluginError(GanzooError):
    """A plugin failed to load, registered a taken name, or returned something malformed."""


class DataError(GanzooError):
    """A dataset is missing, empty, unreadable or not what the run asked for."""


class WeightsError(GanzooError):
    """A weights or checkpoint file is missing, corrupt, unsafe or does not fit the model."""


class OutputError(GanzooError):
    """An output path cannot be written: a file in the way, no permission, a fifo, no space."""


class RunDirectoryError(GanzooError):
    """The output directory holds another run and the user did not ask to resume or overwrite."""


class DivergenceError(GanzooError):
    """Training produced a non-finite loss, gradient or generated image (at ``step``)."""

    step: int | None = None


class TrainingInterrupted(GanzooError):
    """The run was stopped by a signal after writing a checkpoint it can resume from."""


@contextmanager
def contain_plugin_errors(what: str | Callable[[], str], fix: str = "", *,
                          error: type[GanzooError] = PluginError) -> Iterator[None]:
    """Run plugin code (the ``with`` body) so that whatever it raises reaches people as one line.

    A ``GanzooError`` passes as it is: the plugin already said what to do. Anything else, a bug
    in the plugin or a device error inside its code, becomes ``error`` with the line
    ``"{what}: {type}: {first line of its message}; {fix}"``, so the line names the component
    (``what``) rather than showing a traceback; the original stays its ``__cause__`` for
    ``--debug``. ``what`` may be a function, for code that runs every step: it is called only on
    a failure.
    """
    try:
        yield
    except GanzooError:
        raise
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() must not end ganzoo either
        component = what() if callable(what) else what
        problem = f"{type(exc).__name__}: {first_line(exc)}" if str(exc).strip() else type(exc).__name__
        advice = f"; {fix}" if fix else ""
        raise error(f"{component}: {problem}{advice}") from exc
