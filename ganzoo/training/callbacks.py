"""The list that calls every callback in turn; the loop talks to this one object.

The ``Callback`` protocol and the ``RunView`` callbacks are handed are ``ganzoo.core.callback``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from ganzoo.core.callback import Callback, RunView
from ganzoo.errors import contain_plugin_errors


class CallbackList(Callback):
    """Calls each callback in order; the loop talks to this one object.

    A callback from outside ganzoo that raises something other than a ``GanzooError`` is named
    in one line (``PluginError``) instead of reading as a bug in ganzoo; ganzoo's own callbacks'
    exceptions pass through as they are.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_start(self, run: RunView) -> None:
        self._each("on_start", run)

    def on_resume(self, run: RunView, reason: str) -> None:
        self._each("on_resume", run, reason)

    def on_step_end(self, run: RunView, stats: Mapping[str, Tensor]) -> None:
        self._each("on_step_end", run, stats)

    def on_log(self, run: RunView, stats: Mapping[str, float]) -> None:
        self._each("on_log", run, stats)

    def on_epoch_end(self, run: RunView, epoch: int) -> None:
        self._each("on_epoch_end", run, epoch)

    def on_checkpoint(self, run: RunView, path: Path, best: bool) -> None:
        self._each("on_checkpoint", run, path, best)

    def on_note(self, run: RunView, message: str) -> None:
        self._each("on_note", run, message)

    def on_end(self, run: RunView, error: BaseException | None) -> None:
        self._each("on_end", run, error)

    def _each(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, event)
            module = type(callback).__module__
            if module == "ganzoo" or module.startswith("ganzoo."):
                method(*args)  # ganzoo's own callback: an exception is a real bug, reported as one
                continue
            what = f"callback {type(callback).__name__} ({module}) failed in {event}"
            with contain_plugin_errors(what, "fix it, or drop it from run.callbacks"):
                method(*args)
