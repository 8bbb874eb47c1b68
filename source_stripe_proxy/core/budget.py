"""A request budget shared by every thread: the client keeps one for the whole process
and one per Stripe endpoint (see ``client.py``).

* Requests are spaced evenly (no bursts): each caller gets the next free time slot.
* A 429 pauses *every* caller, not only the one that got it.
* Under steady overload the rate settles just below the server's real limit instead of
  oscillating: a 429 at rate r marks r as too fast, drops to 80% of it, then climbs back
  only to 95% of the lowest rate that drew a 429. After a quiet period the estimate is
  raised by 5% at a time, to find headroom again if the limit was temporary; one at the
  configured rate is forgotten (else a single 429 would hold the budget at 95% for good).
* A 429 says something only about the rate its request was sent at. Requests already in
  flight when the rate drops were sent at the old rate; their 429s (they arrive up to a
  latency later) are the same burst and do not lower the rate again. Counting them once
  each used to take a budget of 100 to 80 and then 64, settling at 76 for minutes.
* The quiet period before a probe is short (``PROBE_AFTER_SECONDS``): settled 5% low, a
  budget loses 5% of its requests for as long as it waits, while a probe that draws a 429
  costs one retried request and a fraction of a second at 80%. Against a steady limit,
  probing every 15 s draws under one 429 per 15 s (well under 1% of the requests).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

BACKOFF_FACTOR = 0.8  # rate after a 429, relative to the rate that drew it
SETTLE_FACTOR = 0.95  # how close to the estimated limit we climb back
CLIMB_STEP = 0.01  # per successful request, as a share of the configured rate
PROBE_AFTER_SECONDS = 15.0  # quiet time before probing above the estimate (see the docstring)
PROBE_FACTOR = 1.05
TYPICAL_LATENCY_SECONDS = 0.4  # a Stripe list or write request, seen from outside Stripe's network
MAX_DEFAULT_CONCURRENCY = 32


def in_flight_to_fill(rate: float, latency: float, slack: int = 0) -> int:
    """Requests in flight that keep ``rate`` busy when each takes ``latency`` seconds."""
    return math.ceil(rate * latency) + slack


def default_concurrency(requests_per_second: float) -> int:
    """Workers for a connector whose config leaves ``concurrency`` unset: enough to fill the
    budget at a typical latency (10 at 25 req/s, 32 at 100)."""
    return max(2, min(MAX_DEFAULT_CONCURRENCY, in_flight_to_fill(requests_per_second, TYPICAL_LATENCY_SECONDS)))


class RequestBudget:
    def __init__(
        self,
        requests_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.configured_rate = requests_per_second
        self.rate = requests_per_second
        self.limit_estimate: float | None = None  # lowest rate that drew a 429
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._last_429 = -math.inf
        self._slowed_at = -math.inf  # when the rate last dropped for a 429

    def now(self) -> float:
        """This budget's clock: a caller notes when its request went out (see ``rate_limited``)."""
        return self._clock()

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot, self._paused_until)
            self._next_slot = slot + 1.0 / self.rate
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def sibling(self, requests_per_second: float) -> RequestBudget:
        """A new budget on this one's clock and sleep (so a fake clock in tests covers both)."""
        return RequestBudget(requests_per_second, clock=self._clock, sleep=self._sleep)

    def went_out_late(self) -> None:
        """A request that had its slot here was then held back elsewhere (by the global budget):
        the next slot counts from now, so requests held back together do not leave in a burst."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + 1.0 / self.rate)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (a Retry-After, for example)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def rate_limited(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """A 429 arrived for a request sent at ``sent_at`` (None: just now): remember how fast
        was too fast, slow down, pause everyone. A request sent before the last slowdown went
        out at the old rate: its 429 is that burst's, so it pauses but does not slow down again."""
        with self._lock:
            now = self._clock()
            sent = now if sent_at is None else sent_at
            if sent > self._slowed_at and now - self._last_429 > 1.0 / self.rate:  # one 429 burst counts once
                self.limit_estimate = min(self.limit_estimate or self.rate, self.rate)
                self.rate = max(self.configured_rate * 0.01, self.limit_estimate * BACKOFF_FACTOR)
                self._slowed_at = now
            self._last_429 = now
            pause = retry_after if retry_after is not None else 1.0 / self.rate
            self._paused_until = max(self._paused_until, now + pause)

    def succeeded(self) -> None:
        """A request went through: climb back toward the target rate."""
        with self._lock:
            if self.limit_estimate is not None and self._clock() - self._last_429 > PROBE_AFTER_SECONDS:
                # An estimate at the configured rate settles 5% below it for good: forget it instead.
                raised = self.limit_estimate * PROBE_FACTOR
                self.limit_estimate = None if self.limit_estimate >= self.configured_rate else min(self.configured_rate, raised)
                self._last_429 = self._clock()  # next probe after another quiet period
            target = self.configured_rate
            if self.limit_estimate is not None:
                target = min(target, self.limit_estimate * SETTLE_FACTOR)
            if self.rate < target:
                self.rate = min(target, self.rate + self.configured_rate * CLIMB_STEP)
