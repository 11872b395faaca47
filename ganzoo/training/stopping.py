"""SIGINT and SIGTERM as a request the loop honours between steps.

The step that is running finishes, a checkpoint is written, and the process exits with a line
saying how to resume. The handlers stay installed until the run's last checkpoint is on disk,
so a signal that arrives after the last step still ends in a complete, resumable run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class StopRequest:
    requested: str | None = None


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    request = StopRequest()
    handlers = {}

    def handle(signum: int, _frame: Any) -> None:
        request.requested = signal.Signals(signum).name

    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, handle)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield request
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
