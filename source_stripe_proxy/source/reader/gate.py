"""Backpressure between the reader's workers and the caller's thread."""

from __future__ import annotations

import threading

PAGES_WAITING = 8  # parsed pages the caller may lag behind before workers stop fetching


class PageGate:
    """Counts pages handed to the caller and not yet emitted; a worker about to fetch waits
    while ``limit`` of them are waiting. A slow caller then holds a few pages in memory, not
    one per worker, and workers sleep instead of polling a full queue."""

    def __init__(self, limit: int = PAGES_WAITING):
        self._limit = limit
        self._waiting = 0
        self._closed = False
        self._condition = threading.Condition()

    def enter(self) -> None:
        with self._condition:
            while self._waiting >= self._limit and not self._closed:
                self._condition.wait()

    def queued(self) -> None:
        with self._condition:
            self._waiting += 1

    def emitted(self) -> None:
        with self._condition:
            self._waiting -= 1
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
