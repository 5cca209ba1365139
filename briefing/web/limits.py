"""Rate limits for the subscribe form: so many requests per key (a client, an address) per window.

Counted in this process's memory: `briefing serve` is one process, and a restart forgetting
the counts costs at most one more window's worth of requests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 100_000


class RateLimit:
    """A sliding window: `allow(key)` is true for at most `limit` calls per `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        moment = self._clock()
        with self._lock:
            if len(self._calls) >= MAX_KEYS:
                self._forget_idle(moment)
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= moment - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return False
            calls.append(moment)
            return True

    def _forget_idle(self, moment: float) -> None:
        """Drop keys with no call in the window, so a flood of new keys cannot fill memory."""
        for key in [k for k, calls in self._calls.items() if calls[-1] <= moment - self.window]:
            del self._calls[key]
        if len(self._calls) >= MAX_KEYS:
            self._calls.clear()
