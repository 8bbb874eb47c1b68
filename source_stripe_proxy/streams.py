"""Stripe list streams: one small declarative class per entity, all on one base.

A stream class only states facts: its name, its list path and the query parameters it
always sends. How a stream is read (concurrently, split by ``created``) lives in
``reader.py``; this module turns a stream, its sync mode and its state into a ``StreamJob``.

Incremental reads cut ``[start, now)`` into ``created`` windows (``slice_range_days``),
oldest first, with the last one open-ended; ``start`` is the saved cursor minus the
lookback, or ``start_date``. The cursor is the newest ``created`` read over a complete
prefix of windows, so the next sync resumes at ``created[gte]=<cursor>`` and re-reads only
that one second's objects.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin, Stream

from source_stripe_proxy.client import StripeClient
from source_stripe_proxy.reader import ConcurrentReader, StreamJob
from source_stripe_proxy.errors import ConfigError

SECONDS_PER_DAY = 86_400
CURSOR_FIELD = "created"


@dataclass(frozen=True)
class ReadOptions:
    """The read-related part of the config, validated once."""

    start_date: Optional[int] = None  # epoch seconds
    lookback_seconds: int = 0
    window_seconds: int = 365 * SECONDS_PER_DAY
    page_size: int = 100


@lru_cache(maxsize=None)
def load_schema(stream_name: str) -> Mapping[str, Any]:
    text = resources.files("source_stripe_proxy").joinpath("schemas", f"{stream_name}.json").read_text()
    return json.loads(text)


class StripeListStream(Stream, CheckpointMixin):
    """Base for every list endpoint; subclasses set ``name``, ``path`` and ``fixed_params``."""

    name: str = ""
    path: str = ""
    fixed_params: Mapping[str, Any] = {}
    primary_key = "id"
    cursor_field = CURSOR_FIELD

    def __init__(self, client: StripeClient, options: ReadOptions):
        self.client = client
        self.options = options
        self._cursor: Optional[int] = None

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {CURSOR_FIELD: self._cursor} if self._cursor is not None else {}

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        self._cursor = parse_cursor(self.name, value)

    # -- reading -----------------------------------------------------------------------

    def get_json_schema(self) -> Mapping[str, Any]:
        return load_schema(self.name)

    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        start = self.options.start_date
        if sync_mode == SyncMode.incremental and self._cursor is not None:
            resume_from = max(0, self._cursor - self.options.lookback_seconds)
            start = resume_from if start is None else max(start, resume_from)
        yield from created_windows(start, int(time.time()), self.options.window_seconds)

    def job(self, sync_mode: SyncMode) -> StreamJob:
        """What the concurrent reader needs to read this stream in ``sync_mode``."""
        windows = [
            (window.get("created_gte"), window.get("created_lt"))
            for window in self.stream_slices(sync_mode=sync_mode)
        ]
        return StreamJob(
            name=self.name,
            path=self.path,
            fixed_params=dict(self.fixed_params),
            windows=windows,
            page_size=self.options.page_size,
            state=self._cursor,
        )

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """The CDK's per-stream entry point; the source itself reads all streams at once."""
        job = self.job(sync_mode)
        if stream_slice:
            job.windows = [(stream_slice.get("created_gte"), stream_slice.get("created_lt"))]
        for event in ConcurrentReader(self.client, concurrency=1).run([job]):
            if event[0] == "records":
                yield from event[2]
            elif event[0] == "state":
                self._cursor = event[2]
            elif event[0] == "failed":
                raise event[2]


def created_windows(start: Optional[int], now: int, window_seconds: int) -> Iterable[Mapping[str, Any]]:
    """``[start, start+w), ..., [last, open)``; a single unfiltered window when there is no start."""
    if start is None:
        yield {}
        return
    lower = start
    while lower + window_seconds < now:
        yield {"created_gte": lower, "created_lt": lower + window_seconds}
        lower += window_seconds
    yield {"created_gte": lower}


def parse_cursor(stream_name: str, value: Any) -> Optional[int]:
    """Accept ``{"created": 1700000000}`` (also as a numeric string); refuse anything else clearly."""
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"The state of stream '{stream_name}' must be an object like {{\"created\": 1700000000}}.")
    cursor = value.get(CURSOR_FIELD)
    if cursor is None:
        return None
    if isinstance(cursor, str) and cursor.strip().isdigit():
        cursor = int(cursor)
    if isinstance(cursor, bool) or not isinstance(cursor, (int, float)) or cursor < 0:
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid 'created' cursor; "
            "it must be epoch seconds (a non-negative integer). Reset the stream to start over."
        )
    return int(cursor)


# -- the streams ---------------------------------------------------------------------------


class Customers(StripeListStream):
    name = "customers"
    path = "/v1/customers"


class Subscriptions(StripeListStream):
    name = "subscriptions"
    path = "/v1/subscriptions"
    fixed_params = {"status": "all"}  # without it Stripe leaves out canceled subscriptions


class Products(StripeListStream):
    name = "products"
    path = "/v1/products"


class Plans(StripeListStream):
    name = "plans"
    path = "/v1/plans"


class Prices(StripeListStream):
    name = "prices"
    path = "/v1/prices"


class BalanceTransactions(StripeListStream):
    name = "balance_transactions"
    path = "/v1/balance_transactions"


STREAM_CLASSES = (Customers, Subscriptions, Products, Plans, Prices, BalanceTransactions)
