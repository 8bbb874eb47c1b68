"""One request budget for the whole process, shared by every thread.

Requests are spaced evenly (no bursts), and a 429 pauses *every* caller, not only the
one that received it, so concurrent workers back off together.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class RequestBudget:
    def __init__(self, requests_per_second: float, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.interval = 1.0 / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot, self._paused_until)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (after a 429 or a Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
