"""Concurrent reading: every plan, and every ``created`` range of a plan, in parallel.

Why not the CDK's ``ConcurrentSource``/``ConcurrentCursor``? Their partitions are fixed
before reading starts, so a stream whose objects are bunched in time keeps one worker busy
while the others idle. Here a range that still has more pages *splits itself*:

    range [lo, hi), a page read, oldest object on the page created at c
      -> this worker keeps [cut, hi) and continues with starting_after (same page order)
      -> [lo, cut) (or several parts of it) go to idle workers

Stripe lists newest first, so after a page every object created after ``c`` has been seen;
nothing is lost or read twice at a cut below ``c``. Splits happen only while more ranges in
flight would use more of the request budget (rate x latency, per endpoint and overall), and
only when the page is visibly newest-first (a server that lists oldest-first is read in one
pass). When and where to cut is ``split_policy.py``.

Progress (``progress.py``): after each page, what is left of its range shrinks to
``[lo, c + 1)``. The reader checkpoints a plan (a ``Progress`` signal with the intervals still
to read) every ``concurrency`` of its pages, at least every few seconds while its records
flow, and when it completes, always after the records it covers.

Workers put messages (``signals.py``) on one queue; the caller's thread turns them into
signals. Memory stays flat however large a stream is: a worker asks a ``PageGate`` before
each request, and waits while a few pages already wait for the caller.
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
from source_stripe_proxy.source.reader import split_policy
from source_stripe_proxy.source.reader.gate import PAGES_WAITING, PageGate
from source_stripe_proxy.source.reader.plan import ReadPlan
from source_stripe_proxy.source.reader.progress import CheckpointCadence, PlanProgress
from source_stripe_proxy.source.reader.signals import (
    Complete,
    Estimate,
    Failed,
    PageRead,
    Progress,
    RangeDone,
    RangeFailed,
    RangeSplit,
    ReadSignal,
    Records,
    WorkerMessage,
)

JITTER_SLACK = 2  # requests in flight beyond rate x latency, so latency jitter leaves no slot idle
ESTIMATE_CHANGE = 0.1  # a new estimate is given when it moved by more than this share


@dataclass
class Partition:
    """One ``created`` range being read: ``[lo, hi)``, narrowed from below by splits."""

    key: int
    lo: Optional[int]  # created[gte]; None = unbounded
    hi: Optional[int]  # created[lt]; None = open-ended


@dataclass
class _PlanRun:
    """The reader's own state for one plan."""

    plan: ReadPlan
    progress: PlanProgress
    cancelled: bool = False  # read by workers: the plan's other ranges stop at their next page
    estimate: Optional[int] = None  # the last estimate given
    partitions: List[Partition] = field(default_factory=list)


class ConcurrentReader:
    """Reads ``ReadPlan``s with ``concurrency`` workers; yields ``ReadSignal``s (``signals.py``).

    ``stop_on(error)``: a failure for which the whole read stops at once (a rejected key fails
    every plan the same way); its plan's ``Failed`` is the last signal.
    """

    def __init__(
        self,
        client: StripeClient,
        concurrency: int,
        pages_waiting: int = PAGES_WAITING,
        *,
        stop_on: Callable[[BaseException], bool] = lambda error: False,
        cadence: Optional[CheckpointCadence] = None,
    ):
        self.client = client
        self.concurrency = concurrency
        self.stop_on = stop_on
        self.cadence = cadence or CheckpointCadence(pages=concurrency)
        self._messages: "queue.SimpleQueue[WorkerMessage]" = queue.SimpleQueue()
        self._gate = PageGate(pages_waiting)
        self._keys = itertools.count()
        self._lock = threading.Lock()
        self._active = 0  # ranges being read (by the lock's holders' count)
        self._active_by_plan: Counter = Counter()
        self._pages_left: Dict[int, Tuple[float, _PlanRun]] = {}  # range key -> pages it still expects
        self._waiting: List[Tuple[float, _PlanRun, Partition]] = []  # split off, for the next free worker
        self._executor: Optional[ThreadPoolExecutor] = None

    def run(self, plans: List[ReadPlan]) -> Iterator[ReadSignal]:
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stripe-read")
        runs = {plan.key: _PlanRun(plan, PlanProgress(plan.saved_cursor, plan.saved_newest, plan.reread_from)) for plan in plans}
        pending = set(runs)
        try:
            for run in runs.values():
                for lo, hi in run.plan.intervals:
                    partition = Partition(next(self._keys), lo, hi)
                    run.progress.add(partition.key, lo, hi)
                    run.partitions.append(partition)
                if not run.partitions:  # nothing left to read
                    yield from self._finish(run)
                    pending.discard(run.plan.key)
                elif run.plan.splittable:
                    for partition in run.partitions:
                        self._submit(run, [partition])
                else:  # one worker, newest first
                    self._submit(run, sorted(run.partitions, key=lambda p: -(p.lo if p.lo is not None else -1)))
            while pending:
                message = self._messages.get()
                run = runs[message.plan.key]
                if isinstance(message, PageRead):
                    try:
                        if not run.cancelled:
                            yield from self._page(run, message)
                    finally:
                        self._gate.emitted()  # after the caller has written the page out
                elif isinstance(message, RangeSplit):
                    run.progress.split(message.parent, message.child, message.lo, message.cut)
                elif isinstance(message, RangeDone):
                    if run.cancelled:
                        continue
                    advanced = run.progress.done(message.range_key)
                    if run.progress.complete:
                        pending.discard(run.plan.key)
                        yield from self._finish(run)
                    elif advanced:  # the oldest ranges are complete: worth saving at once
                        yield self._checkpoint(run)
                elif isinstance(message, RangeFailed):
                    if run.cancelled:
                        continue
                    run.cancelled = True
                    pending.discard(run.plan.key)
                    if self.stop_on(message.error):
                        for other in runs.values():
                            other.cancelled = True
                        pending.clear()
                    elif run.progress.objects_read:
                        yield self._checkpoint(run)  # keep what was emitted before the failure
                    yield Failed(run.plan, message.error)
        finally:
            for run in runs.values():
                run.cancelled = True
            self._gate.close()  # no worker waits for a caller that is gone
            self._executor.shutdown(wait=True)

    def _page(self, run: _PlanRun, page: PageRead) -> Iterator[ReadSignal]:
        if page.records:
            yield Records(run.plan, page.records)
        run.progress.page(page.range_key, len(page.records), page.objects, page.newest, page.oldest, page.newest_first)
        if self.cadence.page(run.plan.key):
            yield self._checkpoint(run)
        estimate = run.progress.row_estimate()
        if estimate is not None and (run.estimate is None or abs(estimate - run.estimate) > ESTIMATE_CHANGE * run.estimate):
            run.estimate = estimate
            yield Estimate(run.plan, estimate)

    def _finish(self, run: _PlanRun) -> Iterator[ReadSignal]:
        yield self._checkpoint(run)
        yield Complete(run.plan)

    @staticmethod
    def _checkpoint(run: _PlanRun) -> Progress:
        progress = run.progress
        return Progress(run.plan, progress.cursor, progress.newest, progress.to_read())

    # -- workers ---------------------------------------------------------------------

    def _submit(self, run: _PlanRun, partitions: List[Partition]) -> None:
        with self._lock:
            self._active += 1
            self._active_by_plan[run.plan.key] += 1
        self._executor.submit(self._read_ranges, run, partitions)

    def _spare_slots(self, run: _PlanRun) -> int:
        """How many more ranges of ``run`` would still use more of the budget. Requests in
        flight fill a budget at rate x latency; each range beyond that only adds a partial page.
        The plan's endpoint may have a lower limit than the whole budget. Call with the lock held."""
        # Each stream's slack ranges wait on its own endpoint, so the slack is per stream.
        streams = sum(1 for count in self._active_by_plan.values() if count > 0)
        needed = in_flight_to_fill(self.client.budget.rate, self.client.latency_seconds, slack=JITTER_SLACK * max(1, streams))
        return min(min(self.concurrency, needed) - self._active, self._endpoint_spare(run))

    def _endpoint_spare(self, run: _PlanRun) -> int:
        plan = run.plan
        endpoint_rate = self.client.rate_for("GET", plan.path, plan.account_id)
        return in_flight_to_fill(endpoint_rate, self.client.latency_seconds, slack=JITTER_SLACK) - self._active_by_plan[plan.key]

    def _read_ranges(self, run: _PlanRun, partitions: List[Partition]) -> None:
        """Read ranges one after another, then any waiting range this worker may take."""
        while True:
            for partition in partitions:
                try:
                    self._read_pages(run, partition)
                    self._messages.put(RangeDone(run.plan, partition.key))
                except Exception as error:  # reported to the caller, which fails the plan
                    self._messages.put(RangeFailed(run.plan, partition.key, error))
                    break
            with self._lock:
                self._active -= 1
                self._active_by_plan[run.plan.key] -= 1
                for partition in partitions:
                    self._pages_left.pop(partition.key, None)
                taken = self._take_waiting_range()
            if taken is None:
                return
            run, partitions = taken[0], [taken[1]]

    def _take_waiting_range(self) -> Optional[Tuple[_PlanRun, Partition]]:
        """The waiting range with the most pages whose plan can use another slot, counted as
        active. A range that just finished hands its slot over without a gap. Lock held."""
        self._waiting = [entry for entry in self._waiting if not entry[1].cancelled]
        for entry in sorted(self._waiting, key=lambda entry: -entry[0]):
            _, run, partition = entry
            if self._spare_slots(run) >= 1:
                self._waiting.remove(entry)
                self._active += 1
                self._active_by_plan[run.plan.key] += 1
                return run, partition
        return None

    def _read_pages(self, run: _PlanRun, partition: Partition) -> None:
        plan = run.plan
        starting_after: Optional[str] = None
        while not run.cancelled:
            query: Dict[str, Any] = dict(plan.fixed_params)
            created = {k: v for k, v in (("gte", partition.lo), ("lt", partition.hi)) if v is not None}
            if created:
                query["created"] = created
            query["limit"] = plan.page_size
            if starting_after:
                query["starting_after"] = starting_after
            self._gate.enter()
            page = self.client.send("GET", plan.path, params=query, account_id=plan.account_id).data
            objects = page_objects(page, plan.path)
            in_range = _within(objects, partition.lo, partition.hi, plan.created_field)
            records = plan.transform(in_range) if plan.transform and in_range else in_range
            starting_after = next_cursor(page, objects, starting_after, plan.path)
            newest, oldest = _time_span(in_range, plan.created_field)
            self._gate.queued()
            self._messages.put(
                PageRead(
                    plan, partition.key, records, len(in_range), newest, oldest,
                    newest_first=_newest_first(objects, plan.created_field), last=starting_after is None,
                )
            )
            if starting_after is None:
                return
            if plan.splittable:
                self._maybe_split(run, partition, objects)

    def _maybe_split(self, run: _PlanRun, partition: Partition, objects: List[dict]) -> None:
        """Cut the unread part of this range, [floor, oldest on the page), as ``split_policy`` says."""
        plan = run.plan
        if not _newest_first(objects, plan.created_field):
            return  # not visibly newest-first (e.g. localstripe lists oldest first): don't split
        first, last = objects[0][plan.created_field], objects[-1][plan.created_field]
        floor = partition.lo if partition.lo is not None else STRIPE_EPOCH
        pages_left = split_policy.pages_left(first, last, len(objects), floor, plan.page_size)
        with self._lock:
            self._pages_left[partition.key] = (pages_left, run)
            others = (
                left
                for key, (left, owner) in self._pages_left.items()
                if key != partition.key and (owner is run or self._endpoint_spare(owner) > 0)
            )
            decision = split_policy.decide_split(
                pages_left,
                spare_slots=self._spare_slots(run) if pages_left >= split_policy.MIN_PART_PAGES else 0,
                larger_elsewhere=split_policy.clearly_larger(pages_left, others),
                waiting=len(self._waiting),
                floor_known=partition.lo is not None,
                concurrency=self.concurrency,
            )
            if decision is None:
                return
            page_seconds = None if partition.lo is not None else (first - last) * plan.page_size / len(objects)
            cuts = split_policy.split_points(floor, last, pages_left, decision.parts, page_seconds if decision.start_now else None)
            if not cuts:
                return
            share = pages_left / (len(cuts) + 1)
            children = [Partition(next(self._keys), None, cut) for cut in cuts]
            self._pages_left[partition.key] = (share, run)
            if decision.start_now:
                for child in children:
                    self._pages_left[child.key] = (share, run)
                self._active += len(children)  # counted now, so no other worker spends the same slots
                self._active_by_plan[plan.key] += len(children)
            lower = partition.lo
            for child in children:  # bottom up: each child takes [lower, cut), this range keeps [cut, hi)
                child.lo, cut = lower, child.hi
                self._messages.put(RangeSplit(plan, partition.key, child.key, lower, cut))  # before the child's pages
                partition.lo = lower = cut
                if not decision.start_now:
                    self._waiting.append((share, run, child))
        if decision.start_now:
            for child in children:
                self._executor.submit(self._read_ranges, run, [child])


def _newest_first(objects: List[dict], created_field: str) -> bool:
    """Visibly in Stripe's order: the first object is strictly newer than the last."""
    if len(objects) < 2:
        return False
    first, last = objects[0].get(created_field), objects[-1].get(created_field)
    return isinstance(first, int) and isinstance(last, int) and first > last


def _time_span(objects: List[dict], created_field: str) -> Tuple[Optional[int], Optional[int]]:
    times = [obj.get(created_field) for obj in objects]
    times = [t for t in times if isinstance(t, int) and not isinstance(t, bool)]
    return (max(times), min(times)) if times else (None, None)


def _within(objects: List[dict], lo: Optional[int], hi: Optional[int], created_field: str = "created") -> List[dict]:
    """Objects inside [lo, hi): servers may ignore filters. Objects without a time are kept."""
    if lo is None and hi is None:
        return objects
    kept = []
    for obj in objects:
        created = obj.get(created_field)
        if isinstance(created, int) and ((lo is not None and created < lo) or (hi is not None and created >= hi)):
            continue
        kept.append(obj)
    return kept
