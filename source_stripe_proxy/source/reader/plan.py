"""What to read: a ``ReadPlan`` per stream (and per Connect account), fixed before reading.

A plan says where and how to read; it never changes while the reader works. The reader's own
progress on a plan (its ranges, what is left, whether it was cancelled) is the reader's, in
``progress.py`` and ``concurrent.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.source.reader.progress import Interval

# A page's objects -> the records to emit: a list, or chunks of records (a stream whose records
# come from requests per object, e.g. each customer's tax ids, hands them over as they arrive).
Transform = Callable[[list[dict]], list[dict] | Iterable[list[dict]]]
LIST_PHASE = "list"
EVENTS_PHASE = "events"


@dataclass(frozen=True)
class ReadPlan:
    """One stream (of one Connect account): the endpoint, its fixed parameters, the ``created``
    intervals to read, and how to turn a page into records.

    ``transform`` runs in the worker thread on each page's in-range objects and returns the
    records to emit (events -> changed objects, parents -> children, stamping), as a list or
    as chunks. The intervals of a ``splittable`` plan split themselves across workers; those
    of a plan that is not (an events read) are read one after another, newest first, by one
    worker, so its transform sees every event newest first and can keep a seen-set.

    Plans with the same ``read_key`` read the same pages: the reader reads them once, over the
    union of their intervals, and hands each plan the objects inside its own intervals that it
    ``accepts`` (None: all). A parent's list serves its child streams this way, and
    ``/v1/events`` every stream that follows events.
    """

    name: str
    path: str
    fixed_params: Mapping[str, Any]
    intervals: tuple[Interval, ...]  # created[gte], created[lt]; None = unbounded
    page_size: int = 100
    account_id: str | None = None  # sent as Stripe-Account
    splittable: bool = True
    transform: Transform | None = None
    created_field: str = "created"  # which field the `created` filter applies to
    phase: str = LIST_PHASE  # for the caller ("list" or "events"); the reader ignores it
    began: int | None = None  # when the caller planned this read (epoch seconds)
    saved_cursor: int | None = None  # the saved cursor: everything created before it was read
    saved_newest: int | None = None  # the newest `created` an interrupted earlier run had read
    reread_from: int | None = None  # from here up, a resumed read must read again (events listed late)
    accepts: Callable[[dict], bool] | None = None  # the objects of a page this plan wants (None: all)
    paged: bool = True  # False: the endpoint answers everything at once and takes no `limit`

    @property
    def key(self) -> tuple[str, str | None]:
        return self.name, self.account_id

    @property
    def read_key(self) -> tuple[Any, ...]:
        """Plans with equal read keys read the same pages, so the reader reads them once."""
        params = json.dumps(self.fixed_params, sort_keys=True, default=str)
        return self.path, params, self.account_id, self.page_size, self.splittable, self.created_field, self.paged
