"""Every request counted once, where it is sent (``StripeClient``), by endpoint and by whom it served.

Stripe counts read requests against an allocation (docs/read_allocation.md), so a sync says
what it spent. The client counts each request it sends here, retries included, under its
method, endpoint template (``/v1/customers/{customer}/sources``), ``Stripe-Account`` and the
label its caller set for the calling thread with ``serving(...)`` (the streams a child list
serves, say), or none. The source turns the counts into its closing log lines
(``source/read_cost.py``); nothing here knows about streams.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from source_stripe_proxy.core.endpoints import endpoint_template

Label = tuple[str, ...]  # who a request served (the caller's words); () when the caller said nothing


@dataclass(frozen=True)
class Counted:
    """What a count is kept under."""

    method: str
    endpoint: str  # the path template
    account: str | None  # Stripe-Account, or None for the key's own account
    label: Label = ()


class RequestMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._local = threading.local()

    def count(self, method: str, path: str, account: str | None) -> None:
        key = Counted(method.upper(), endpoint_template(path), account, self.label())
        with self._lock:
            self._counts[key] += 1

    def label(self) -> Label:
        return getattr(self._local, "label", ())

    @contextmanager
    def serving(self, label: Label) -> Iterator[None]:
        """Requests this thread sends inside the block are counted under ``label``."""
        before = self.label()
        self._local.label = tuple(label)
        try:
            yield
        finally:
            self._local.label = before

    def snapshot(self) -> dict[Counted, int]:
        with self._lock:
            return dict(self._counts)

    def since(self, earlier: dict[Counted, int]) -> dict[Counted, int]:
        """The requests counted after ``earlier`` (a ``snapshot``)."""
        now = self.snapshot()
        return {key: count - earlier.get(key, 0) for key, count in now.items() if count > earlier.get(key, 0)}
