"""Stripe list streams: one small declarative class per entity, all on one base.

A stream class only states facts: its name, its list path and the query parameters it
always sends. Reading, windowing by ``created`` and state live in ``StripeListStream``.

How incremental reads work
--------------------------
Stripe lists newest first, so a cursor can't advance while a window is still being
read. We therefore cut ``[start, now)`` into ``created`` windows, oldest first, read each
window completely (``created[gte]``/``created[lt]`` + ``starting_after`` pagination) and
only then move the state to the newest ``created`` seen so far. Every older window is
complete by then, so the next sync can resume at ``created[gte]=<state>``. The state is
always a value Stripe wrote, never our clock, so clock skew can't skip records; the
price is re-reading the records of that one second. The last window is open-ended.
Records outside a window are dropped client-side too, so servers that ignore or reorder
filters can't produce duplicates.
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

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        window = stream_slice or {}
        gte, lt = window.get("created_gte"), window.get("created_lt")
        params: Dict[str, Any] = dict(self.fixed_params)
        created_filter = {k: v for k, v in (("gte", gte), ("lt", lt)) if v is not None}
        if created_filter:
            params["created"] = created_filter
        newest_seen = None
        for page in self.client.list_pages(self.path, params, page_size=self.options.page_size):
            for record in page["data"]:
                created = record.get(CURSOR_FIELD)
                if isinstance(created, int):
                    if (gte is not None and created < gte) or (lt is not None and created >= lt):
                        continue  # outside this window: another window (or none) owns it
                    if newest_seen is None or created > newest_seen:
                        newest_seen = created
                yield record
        # Reached only once the whole window is read: now the cursor may move.
        if newest_seen is not None and (self._cursor is None or newest_seen > self._cursor):
            self._cursor = newest_seen


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
