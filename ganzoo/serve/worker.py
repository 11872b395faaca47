"""Generation off the event loop: a small thread pool with a bounded queue, and a rate limit.

The event loop only parses, validates and answers; every picture is made by ``SampleWorker``'s
threads, so the page (and other tabs) stay responsive while a big grid renders. Work is bounded
twice: ``SampleRate`` caps samples per second for the whole server (HTTP 429 past it), and the
worker refuses jobs beyond ``max_pending`` waiting or running ones (HTTP 503), so a burst of
requests queues neither without end nor unseen.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ganzoo.errors import GanzooError

Result = TypeVar("Result")


class RateLimited(GanzooError):
    """More samples per second than the server allows; ``retry_after`` seconds until there is room."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(GanzooError):
    """Every worker is busy and the queue is full."""


class SampleRate:
    """A token bucket of samples: ``per_second`` refill, room for ``burst`` at once."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0 or burst <= 0:
            raise ValueError("per_second and burst must be positive")
        self.per_second, self.burst, self.clock = per_second, burst, clock
        self._tokens, self._updated = float(burst), clock()
        self._lock = threading.Lock()

    def take(self, samples: int) -> None:
        """Spend ``samples`` tokens, or raise ``RateLimited`` and spend none."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now
            if samples <= self._tokens:
                self._tokens -= samples
                return
            wait = (samples - self._tokens) / self.per_second
        raise RateLimited(f"too many samples: this server makes at most {self.per_second:g} per second "
                          f"(bursts of {self.burst}); try again in {wait:.1f} s", retry_after=wait)


class SampleWorker:
    """``workers`` threads; at most ``max_pending`` jobs waiting or running at once."""

    def __init__(self, workers: int = 2, max_pending: int = 8) -> None:
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganzoo-serve")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Jobs waiting or running now."""
        return self._pending

    async def run(self, job: Callable[[], Result]) -> Result:
        """``job()`` in a worker thread, awaited without blocking the event loop."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(f"the server is busy ({self._pending} pictures in the making); try again in a moment")
            self._pending += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(job))
        finally:
            with self._lock:
                self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
