"""Fault injection shared by the Stripe emulator and the proxy emulators.

A FaultInjector only *decides* which fault a request gets; each server renders
it (see httpbase.BaseHandler.send_fault). Decisions happen under a lock, in
request arrival order, so a seed plus a script gives reproducible runs.

Kinds:
  429, 429_no_retry_after, 500, 502, 503  error status with a JSON body (no processing)
  html_502           proxy-style HTML error page (no processing)
  401_proxy          proxies: expired token; Stripe emulator: expired API key
  reset              headers + part of the body, then a TCP reset (no processing)
  drop               TCP reset before any byte of the response (no processing)
  truncate           200 with cut JSON; Content-Length matches the cut body (no processing)
  slow               sleep slow_seconds, then answer normally
  commit_then_reset  process the request (e.g. create the object), then reset
                     the connection instead of answering: a "lost response"
"""

import random
import threading
from collections import Counter

KINDS = (
    "429",
    "429_no_retry_after",
    "500",
    "502",
    "503",
    "html_502",
    "401_proxy",
    "reset",
    "drop",
    "truncate",
    "slow",
    "commit_then_reset",
)
# Kinds answered without running the request at all.
SHORT_CIRCUIT = frozenset(KINDS) - {"slow", "commit_then_reset"}


class FaultInjector:
    def __init__(self, seed=None, retry_after=1, slow_seconds=5.0):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._script = []
        self._rates = {}
        self._prefix = None
        self.retry_after = retry_after  # value of the Retry-After header on "429"
        self.slow_seconds = slow_seconds
        self.injected = Counter()

    def script(self, entries):
        """The next eligible requests get these faults in order (None = no fault).

        Replaces any script still pending; after it runs out, rates (if any) apply.
        """
        entries = list(entries)
        for kind in entries:
            _check(kind)
        with self._lock:
            self._script = entries
        return self

    def set_rates(self, rates, slow_seconds=None):
        """Random faults: {kind: probability}; the probabilities must sum to <= 1."""
        for kind in rates:
            _check(kind)
        if sum(rates.values()) > 1:
            raise ValueError("fault rates sum to more than 1")
        with self._lock:
            self._rates = {k: float(v) for k, v in sorted(rates.items()) if v}
            if slow_seconds is not None:
                self.slow_seconds = slow_seconds
        return self

    def only_paths(self, prefix):
        """Only requests whose path starts with prefix are eligible (None: all)."""
        with self._lock:
            self._prefix = prefix
        return self

    @property
    def lost_response_after_commit(self):
        return self._rates.get("commit_then_reset", 0.0)

    @lost_response_after_commit.setter
    def lost_response_after_commit(self, rate):
        rates = dict(self._rates)
        rates["commit_then_reset"] = rate
        self.set_rates(rates)

    def clear(self):
        """Back to no faults (keeps the counters)."""
        with self._lock:
            self._script, self._rates, self._prefix = [], {}, None

    def decide(self, path):
        """The fault for one request, or None. Called once per request."""
        with self._lock:
            if self._prefix is not None and not path.startswith(self._prefix):
                return None
            if self._script:
                kind = self._script.pop(0)
            elif self._rates:
                kind = self._pick()
            else:
                return None
            if kind:
                self.injected[kind] += 1
            return kind

    def _pick(self):
        # One draw per request against cumulative rates in a fixed (sorted) order.
        draw, total = self._rng.random(), 0.0
        for kind, rate in self._rates.items():
            total += rate
            if draw < total:
                return kind
        return None


def _check(kind):
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
