"""Concurrent reading: every stream, and every ``created`` range of a stream, in parallel.

Why not the CDK's ``ConcurrentSource``/``ConcurrentCursor``? Their partitions are fixed
before reading starts, so a stream whose objects are bunched in time keeps one worker busy
while the others idle. Here a partition that still has more pages *splits itself*:

    partition [lo, hi), a page read, oldest object on the page created at c
      -> this worker keeps [cut, hi) and continues with starting_after (same page order)
      -> [lo, cut) (or several parts of it) go to idle workers

Stripe lists newest first, so after a page every object created after ``c`` has been seen;
nothing is lost or read twice at a cut below ``c``. Splits happen only while more ranges in
flight would use more of the request budget (rate x latency, per endpoint and overall), and
only when the page is visibly newest-first (a server that lists oldest-first is read in one
pass). How to cut (``split_points``): each range estimates the pages it has left from the
density of its last page; a free slot goes to the range with clearly the most left, which cuts
itself into equal-count parts, one per free slot. While no slot is free, the longest range
keeps a few halves ready (``WAITING_RANGES``) for workers whose range ends, so slots never
idle and ranges end together at the end of a stream. The first range of an unbounded stream
cuts geometrically below its first page, since nobody knows how far back the data goes.

State: each stream's ranges tile ``[start, open)``. The state advances only over the
contiguous prefix of *complete* ranges, and only to the newest ``created`` read inside it,
a value Stripe wrote. A crash therefore never skips a gap, whatever order ranges finish in.

Workers put pages on one queue; the caller's thread turns them into messages, and a
partition's "done" always follows its records. Memory stays flat however large a stream is:
a worker asks a ``PageGate`` before each request, and waits while ``PAGES_WAITING`` pages are
already waiting for the caller (so a slow consumer holds a few pages, not one per worker).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from source_stripe_proxy.core.budget import in_flight_to_fill
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.paging import next_cursor, page_objects
from source_stripe_proxy.core.stripe_facts import STRIPE_EPOCH  # the floor for splitting

MIN_SPLIT_SECONDS = 2  # `created` has one-second resolution; narrower ranges can't split
MIN_PART_PAGES = 1.5  # a part expected to hold fewer pages saves no time and costs a partial page
PAGES_WAITING = 8  # parsed pages the caller may lag behind before workers stop fetching
WAITING_RANGES = 3  # ranges split off ahead, for workers whose range ends while no slot is free
JITTER_SLACK = 2  # requests in flight beyond rate x latency, so latency jitter leaves no slot idle


@dataclass
class Partition:
    key: int
    lo: Optional[int]  # created[gte]; None = unbounded
    hi: Optional[int]  # created[lt]; None = open-ended
    estimates: bool = False  # an initial window: its first page estimates its row count


@dataclass
class StreamJob:
    """One stream (of one Connect account) to read: where, with which fixed parameters, over
    which initial ranges.

    ``transform`` runs in the worker thread on each page's in-range objects and returns the
    records to emit (events -> changed objects, parents -> children, stamping). Ranges of a
    ``splittable`` job split themselves; an events read is not split, so its transform sees
    every event newest first and can keep a seen-set. ``phase`` is for the caller ("list" or
    "events"); the reader ignores it.
    """

    name: str
    path: str
    fixed_params: Dict[str, Any]
    windows: List[Tuple[Optional[int], Optional[int]]]
    page_size: int = 100
    state: Optional[int] = None  # the cursor value to start from (for state messages)
    account_id: Optional[str] = None  # sent as Stripe-Account
    splittable: bool = True
    transform: Optional[Callable[[List[dict]], List[dict]]] = None
    created_field: str = "created"  # which field the `created` filter applies to
    phase: str = "list"
    began: Optional[int] = None  # when the caller planned this read (epoch seconds)
    cancelled: bool = False
    tracker: "RangeTracker" = field(init=False)
    estimates: Dict[int, int] = field(init=False, default_factory=dict)  # initial window -> rows

    def __post_init__(self) -> None:
        self.tracker = RangeTracker(self.state)

    @property
    def key(self) -> Tuple[str, Optional[str]]:
        return self.name, self.account_id


class RangeTracker:
    """Which ranges of one stream are complete, and how far the state may advance.

    Used only by the consuming thread, so it needs no lock.
    """

    def __init__(self, state: Optional[int]):
        self.state = state
        self._ranges: Dict[int, List[Any]] = {}  # key -> [lo, done, newest created]

    def add(self, key: int, lo: Optional[int]) -> None:
        self._ranges[key] = [lo, False, None]

    def split(self, parent: int, child: int, lo: Optional[int], mid: int) -> None:
        self._ranges[parent][0] = mid
        self._ranges[child] = [lo, False, None]

    def done(self, key: int, newest: Optional[int]) -> Optional[int]:
        """Mark a range complete; return the new state if it advanced."""
        entry = self._ranges[key]
        entry[1], entry[2] = True, newest
        ordered = sorted(self._ranges.items(), key=lambda item: -1 if item[1][0] is None else item[1][0])
        advanced = None
        for range_key, (_, is_done, range_newest) in ordered:
            if not is_done:
                break
            del self._ranges[range_key]  # a complete prefix never needs looking at again
            if range_newest is not None and (self.state is None or range_newest > self.state):
                self.state = advanced = range_newest
        return advanced

    @property
    def complete(self) -> bool:
        return not self._ranges


class PageGate:
    """Backpressure between workers and the consuming thread.

    Counts pages handed to the consumer and not yet emitted; a worker about to fetch waits
    while ``limit`` of them are waiting. A slow consumer then holds a few pages in memory,
    not one per worker, and workers sleep instead of polling a full queue.
    """

    def __init__(self, limit: int):
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


class ConcurrentReader:
    """Reads ``StreamJob``s with ``concurrency`` workers; yields events for the caller to emit.

    Events: ("records", job, [objects]) · ("state", job, cursor) · ("estimate", job, rows) ·
    ("complete", job) · ("failed", job, exception)
    """

    def __init__(self, client: StripeClient, concurrency: int, pages_waiting: int = PAGES_WAITING):
        self.client = client
        self.concurrency = concurrency
        self._events: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self._gate = PageGate(pages_waiting)
        self._keys = itertools.count()
        self._lock = threading.Lock()
        self._active = 0  # partitions submitted and not finished
        self._active_by_job: Counter = Counter()
        self._pages_left: Dict[int, Tuple[float, StreamJob]] = {}  # partition key -> pages it still expects
        self._waiting: List[Tuple[float, StreamJob, Partition]] = []  # split off, for the next free worker
        self._executor: Optional[ThreadPoolExecutor] = None

    def run(self, jobs: List[StreamJob]) -> Iterator[tuple]:
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stripe-read")
        pending = {job.key for job in jobs}
        try:
            for job in jobs:
                for lo, hi in job.windows:
                    partition = Partition(next(self._keys), lo, hi, estimates=True)
                    job.tracker.add(partition.key, lo)
                    self._submit(job, partition)
            while pending:
                event = self._events.get()
                kind, job = event[0], event[1]
                if kind == "records":
                    if not job.cancelled:
                        yield event
                    self._gate.emitted()  # after the caller has written the page out
                elif kind == "split":
                    job.tracker.split(*event[2:])
                elif kind == "estimate":
                    if not job.cancelled:
                        job.estimates[event[2]] = event[3]
                        yield ("estimate", job, sum(job.estimates.values()))
                elif kind == "done":
                    if job.cancelled:
                        continue
                    advanced = job.tracker.done(event[2], event[3])
                    if advanced is not None:
                        yield ("state", job, advanced)
                    if job.tracker.complete:
                        pending.discard(job.key)
                        yield ("complete", job)
                elif kind == "failed":
                    if not job.cancelled:
                        job.cancelled = True  # the stream's other partitions stop at their next page
                        pending.discard(job.key)
                        yield ("failed", job, event[3])
        finally:
            for job in jobs:
                job.cancelled = True
            self._gate.close()  # no worker waits for a consumer that is gone
            self._executor.shutdown(wait=True)

    # -- workers ---------------------------------------------------------------------

    def _submit(self, job: StreamJob, partition: Partition) -> None:
        with self._lock:
            self._active += 1
            self._active_by_job[job.key] += 1
        self._executor.submit(self._read_partition, job, partition)

    def _spare_slots(self, job: StreamJob) -> int:
        """How many more ranges of ``job`` would still use more of the budget. Requests in
        flight fill a budget at rate x latency; each range beyond that only adds a partial page.
        The job's endpoint may have a lower limit than the whole budget. Call with the lock held."""
        # Each stream's slack ranges wait on its own endpoint, so the slack is per stream.
        streams = sum(1 for count in self._active_by_job.values() if count > 0)
        needed = in_flight_to_fill(self.client.budget.rate, self.client.latency_seconds, slack=JITTER_SLACK * max(1, streams))
        return min(min(self.concurrency, needed) - self._active, self._endpoint_spare(job))

    def _endpoint_spare(self, job: StreamJob) -> int:
        endpoint_rate = self.client.rate_for("GET", job.path, job.account_id)
        return in_flight_to_fill(endpoint_rate, self.client.latency_seconds, slack=JITTER_SLACK) - self._active_by_job[job.key]

    def _read_partition(self, job: StreamJob, partition: Partition) -> None:
        """Read one range, then any waiting range this worker may take, until none is left."""
        while True:
            try:
                newest = self._read_pages(job, partition)
                self._events.put(("done", job, partition.key, newest))
            except Exception as error:  # reported to the consumer, which fails the stream
                self._events.put(("failed", job, partition.key, error))
            with self._lock:
                self._active -= 1
                self._active_by_job[job.key] -= 1
                self._pages_left.pop(partition.key, None)
                taken = self._take_waiting_range()
            if taken is None:
                return
            job, partition = taken

    def _take_waiting_range(self) -> Optional[Tuple[StreamJob, Partition]]:
        """The waiting range with the most pages whose stream can use another slot, counted as
        active. A range that just finished hands its slot over without a gap. Lock held."""
        self._waiting = [entry for entry in self._waiting if not entry[1].cancelled]
        for entry in sorted(self._waiting, key=lambda entry: -entry[0]):
            _, job, partition = entry
            if self._spare_slots(job) >= 1:
                self._waiting.remove(entry)
                self._active += 1
                self._active_by_job[job.key] += 1
                return job, partition
        return None

    def _read_pages(self, job: StreamJob, partition: Partition) -> Optional[int]:
        newest: Optional[int] = None
        starting_after: Optional[str] = None
        while not job.cancelled:
            query: Dict[str, Any] = dict(job.fixed_params)
            created = {k: v for k, v in (("gte", partition.lo), ("lt", partition.hi)) if v is not None}
            if created:
                query["created"] = created
            query["limit"] = job.page_size
            if starting_after:
                query["starting_after"] = starting_after
            self._gate.enter()
            page = self.client.send("GET", job.path, params=query, account_id=job.account_id).data
            objects = page_objects(page, job.path)
            in_range, page_newest = _within(objects, partition.lo, partition.hi, job.created_field)
            if page_newest is not None and (newest is None or page_newest > newest):
                newest = page_newest
            if partition.estimates and starting_after is None:
                self._events.put(("estimate", job, partition.key, _row_estimate(page, in_range, partition, job.created_field)))
            records = job.transform(in_range) if job.transform and in_range else in_range
            if records:
                self._gate.queued()
                self._events.put(("records", job, records))
            starting_after = next_cursor(page, objects, starting_after, job.path)
            if starting_after is None:
                return newest
            if job.splittable:
                self._maybe_split(job, partition, objects)
        return newest

    def _maybe_split(self, job: StreamJob, partition: Partition, objects: List[dict]) -> None:
        """Cut the unread part of this range, [lo, oldest on the page), if a slot is free and no
        range with more pages left is waiting for it."""
        first, last = objects[0].get(job.created_field), objects[-1].get(job.created_field)
        if not (isinstance(first, int) and isinstance(last, int)) or first <= last:
            return  # not visibly newest-first (e.g. localstripe lists oldest first): don't split
        floor = partition.lo if partition.lo is not None else STRIPE_EPOCH
        span = last - floor
        pages_left = len(objects) / (first - last) * span / job.page_size if span >= MIN_SPLIT_SECONDS else 0.0
        with self._lock:
            self._pages_left[partition.key] = (pages_left, job)
            if pages_left < MIN_PART_PAGES:
                return
            spare = self._spare_slots(job)
            # Free slots go first to ranges with clearly more pages left, when their next page
            # arrives (other streams' only if their endpoint can use another range). "Clearly":
            # estimates are a page stale, and near-equal ranges must not all defer to each other.
            clearly_more = pages_left * 1.25 + 1
            larger = sum(
                1
                for key, (left, owner) in self._pages_left.items()
                if left > clearly_more and key != partition.key and (owner is job or self._endpoint_spare(owner) > 0)
            )
            if spare - larger >= 1:
                page_seconds = None if partition.lo is not None else (first - last) * job.page_size / len(objects)
                cuts = split_points(floor, last, pages_left, spare - larger, page_seconds)
                start_now = True
            elif larger == 0 and partition.lo is not None and len(self._waiting) < WAITING_RANGES and self.concurrency > 1:
                # No slot is free, but one will be when some range ends: have half of the
                # longest range ready for it, so the end of a stream has no gaps. (One worker
                # reads everything in order anyway; a split would only add a partial page.)
                cuts = split_points(floor, last, pages_left, 1)
                start_now = False
            else:
                return
            if not cuts:
                return
            share = pages_left / (len(cuts) + 1)
            children = [Partition(next(self._keys), None, cut) for cut in cuts]
            self._pages_left[partition.key] = (share, job)
            if start_now:
                for child in children:
                    self._pages_left[child.key] = (share, job)
                self._active += len(children)  # counted now, so no other worker spends the same slots
                self._active_by_job[job.key] += len(children)
            lower = partition.lo
            for child in children:  # bottom up: each child takes [lower, cut), this range keeps [cut, hi)
                child.lo, cut = lower, child.hi
                self._events.put(("split", job, partition.key, child.key, lower, cut))  # before the child's events
                partition.lo = lower = cut
                if not start_now:
                    self._waiting.append((share, job, child))
        if start_now:
            for child in children:
                self._executor.submit(self._read_partition, job, child)


def split_points(floor: int, last: int, pages_left: float, free_slots: int, page_seconds: Optional[float] = None) -> List[int]:
    """Where to cut the unread span [floor, last) of a range into at most ``free_slots + 1`` parts.

    With a known floor: parts of equal time, i.e. equal counts at the density just seen, none
    expecting fewer than ``MIN_PART_PAGES`` pages. Below an unknown floor (``page_seconds``
    given: the time one full page covers) the density says nothing about where data starts,
    which may be years after 2010; parts then grow geometrically downwards from ``last``
    (4, 4, 8, 16, ... pages' worth), so a few parts hold the data near the top at once and
    the rest, most likely empty, cost one request each.
    """
    if page_seconds is not None:
        cuts, reach = [], 4 * page_seconds
        while len(cuts) < free_slots and last - reach > floor + MIN_SPLIT_SECONDS:
            cuts.append(int(last - reach))
            reach *= 2
        return sorted(set(cuts))
    span = last - floor
    parts = min(free_slots + 1, int(pages_left // MIN_PART_PAGES), span)
    return sorted({floor + span * i // parts for i in range(1, parts)}) if parts > 1 else []


def _row_estimate(page: dict, in_range: List[dict], partition: Partition, created_field: str) -> int:
    """Rows in the partition, from its first page: the page's density over the whole range.

    Stripe gives no totals; a newest-first page covers [oldest on the page, hi), so
    rows ~ page size x (range span / page span). Only a progress hint for the platform.
    """
    if not page.get("has_more") or not in_range:
        return len(in_range)
    oldest = in_range[-1].get(created_field)
    newest = in_range[0].get(created_field)
    if not (isinstance(oldest, int) and isinstance(newest, int)) or newest <= oldest:
        return len(in_range) * 2  # no visible time spread: at least one more page
    top = partition.hi if partition.hi is not None else newest + 1
    floor = partition.lo if partition.lo is not None else STRIPE_EPOCH
    if oldest <= floor:
        return len(in_range) * 2
    return int(len(in_range) * (top - floor) / max(1, top - oldest))


def _within(
    objects: List[dict], lo: Optional[int], hi: Optional[int], created_field: str = "created"
) -> Tuple[List[dict], Optional[int]]:
    """Objects inside [lo, hi) (servers may ignore filters) and the newest creation time among them."""
    newest: Optional[int] = None
    if lo is None and hi is None:
        for obj in objects:
            created = obj.get(created_field)
            if isinstance(created, int) and (newest is None or created > newest):
                newest = created
        return objects, newest
    kept = []
    for obj in objects:
        created = obj.get(created_field)
        if isinstance(created, int):
            if (lo is not None and created < lo) or (hi is not None and created >= hi):
                continue
            if newest is None or created > newest:
                newest = created
        kept.append(obj)
    return kept, newest
