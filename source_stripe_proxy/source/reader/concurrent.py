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

Shared reads: plans with the same ``read_key`` (a parent's list read for the parent stream
and its children, ``/v1/events`` for every stream that follows events) are read once, over the
union of their intervals cut at each plan's bounds. Each plan gets the objects inside its own
intervals, keeps its own cursor and newest ``created``, and its own progress: what is left of
the shared ranges inside its intervals. A plan completes as soon as nothing of its intervals is
left; one whose transform fails ends alone, the others go on.

Workers put messages (``signals.py``) on one queue; the caller's thread turns them into
signals. Memory stays flat however large a stream is: a worker asks a ``PageGate`` before
each request and before each chunk of records a transform makes, and waits while a few pages
already wait for the caller.
"""

from __future__ import annotations

import copy
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
from source_stripe_proxy.source.reader.progress import (
    CheckpointCadence,
    Interval,
    PlanProgress,
    cap_intervals,
    cut_intervals,
    inside_intervals,
    intersect_intervals,
    merge_intervals,
)
from source_stripe_proxy.source.reader.signals import (
    ChunkRead,
    Complete,
    Estimate,
    Failed,
    PageRead,
    PlanFailed,
    PlanPage,
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
    """One plan within a read: its own intervals, cursor, newest ``created`` and counts."""

    plan: ReadPlan
    intervals: Tuple[Interval, ...]  # merged
    whole: bool  # its intervals are all of the read's: no filtering, and the read's estimates apply
    newest: Optional[int] = None  # the newest `created` read inside its intervals
    objects_read: int = 0
    records_emitted: int = 0
    ended: bool = False  # completed or failed (caller's thread); nothing of it follows
    stopped: bool = False  # set by a worker whose transform failed: no more pages for it
    estimate: Optional[int] = None  # the last estimate given


@dataclass
class _ReadRun:
    """One pass over an endpoint, for every plan with the same ``read_key``."""

    key: Tuple[Any, ...]
    plan: ReadPlan  # the first plan: what every plan of the read shares (path, params, paging)
    members: Dict[Tuple[str, Optional[str]], _PlanRun]
    progress: PlanProgress
    cancelled: bool = False  # read by workers: the read's other ranges stop at their next page
    partitions: List[Partition] = field(default_factory=list)

    @property
    def active(self) -> List[_PlanRun]:
        return [member for member in self.members.values() if not member.ended]


def _read_runs(plans: List[ReadPlan]) -> Dict[Tuple[Any, ...], _ReadRun]:
    grouped: Dict[Tuple[Any, ...], List[ReadPlan]] = {}
    for plan in plans:
        grouped.setdefault(plan.read_key, []).append(plan)
    runs = {}
    for key, members in grouped.items():
        if len({tuple(p.intervals) for p in members}) == 1:
            intervals = list(members[0].intervals)  # as planned: windows stay windows
        elif members[0].splittable:  # every plan's windows stay ranges of their own
            intervals = cut_intervals(
                [i for p in members for i in p.intervals], [b for p in members for i in p.intervals for b in i]
            )
        else:  # one worker, newest first: one pass over the union
            intervals = merge_intervals(i for p in members for i in p.intervals)
        union = merge_intervals(intervals)

        def common(values):
            values = set(values)
            return values.pop() if len(values) == 1 else None

        rereads = [p.reread_from for p in members if p.reread_from is not None]
        progress = PlanProgress(
            common(p.saved_cursor for p in members),
            common(p.saved_newest for p in members),
            min(rereads) if rereads else None,
        )
        runs[key] = _ReadRun(
            key,
            members[0],
            {
                p.key: _PlanRun(p, tuple(merge_intervals(p.intervals)), merge_intervals(p.intervals) == union, p.saved_newest)
                for p in members
            },
            progress,
        )
        runs[key].partitions = [Partition(-1, lo, hi) for lo, hi in intervals]  # keys given in run()
    return runs


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
        self._active_by_run: Counter = Counter()
        self._pages_left: Dict[int, Tuple[float, _ReadRun]] = {}  # range key -> pages it still expects
        self._waiting: List[Tuple[float, _ReadRun, Partition]] = []  # split off, for the next free worker
        self._executor: Optional[ThreadPoolExecutor] = None
        self._transforms: Optional[ThreadPoolExecutor] = None

    def run(self, plans: List[ReadPlan]) -> Iterator[ReadSignal]:
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stripe-read")
        # Transforms of the plans of one page, side by side; they never wait for a range's worker.
        self._transforms = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stripe-transform")
        runs = _read_runs(plans)
        pending = set(runs)
        try:
            for run in runs.values():
                for partition in run.partitions:
                    partition.key = next(self._keys)
                    run.progress.add(partition.key, partition.lo, partition.hi)
                if not run.partitions:  # nothing left to read
                    yield from self._finish(run)
                    pending.discard(run.key)
                elif run.plan.splittable:
                    for partition in run.partitions:
                        self._submit(run, [partition])
                else:  # one worker, newest first
                    self._submit(run, sorted(run.partitions, key=lambda p: -(p.lo if p.lo is not None else -1)))
            while pending:
                message = self._messages.get()
                run = runs[message.run]
                if isinstance(message, (PageRead, ChunkRead)):
                    try:
                        if not run.cancelled:
                            yield from self._page(run, message) if isinstance(message, PageRead) else self._chunk(run, message)
                    finally:
                        self._gate.emitted()  # after the caller has written the page out
                    if isinstance(message, PageRead) and not run.active:
                        pending.discard(run.key)
                        run.cancelled = True
                elif isinstance(message, RangeSplit):
                    run.progress.split(message.parent, message.child, message.lo, message.cut)
                elif isinstance(message, RangeDone):
                    if run.cancelled:
                        continue
                    advanced = run.progress.done(message.range_key)
                    if run.progress.complete:
                        pending.discard(run.key)
                        yield from self._finish(run)
                    else:
                        yield from self._members_done(run)
                        if advanced:  # the oldest ranges are complete: worth saving at once
                            for member in run.active:
                                yield self._checkpoint(run, member)
                elif isinstance(message, PlanFailed):
                    member = run.members[message.plan_key]
                    if run.cancelled or member.ended:
                        continue
                    yield from self._fail(run, member, message.error)
                    if self.stop_on(message.error):
                        self._stop_all(runs, pending)
                    elif not run.active:
                        run.cancelled = True
                        pending.discard(run.key)
                elif isinstance(message, RangeFailed):
                    if run.cancelled:
                        continue
                    run.cancelled = True
                    pending.discard(run.key)
                    for member in run.active:
                        yield from self._fail(run, member, message.error)
                    if self.stop_on(message.error):
                        self._stop_all(runs, pending)
        finally:
            for run in runs.values():
                run.cancelled = True
            self._gate.close()  # no worker waits for a caller that is gone
            self._executor.shutdown(wait=True)
            self._transforms.shutdown(wait=True)

    @staticmethod
    def _stop_all(runs: Dict[Tuple[Any, ...], _ReadRun], pending: set) -> None:
        for other in runs.values():
            other.cancelled = True
        pending.clear()

    def _chunk(self, run: _ReadRun, chunk: ChunkRead) -> Iterator[ReadSignal]:
        member = run.members[chunk.plan_key]
        if chunk.records and not member.ended:
            member.records_emitted += len(chunk.records)
            yield Records(member.plan, chunk.records)

    def _page(self, run: _ReadRun, page: PageRead) -> Iterator[ReadSignal]:
        emitted = 0
        for part in page.parts:
            member = run.members[part.plan_key]
            if member.ended:
                continue
            if part.records:
                yield Records(member.plan, part.records)
            emitted += len(part.records)
            member.records_emitted += len(part.records)
            member.objects_read += part.objects
            if part.newest is not None:
                member.newest = part.newest if member.newest is None else max(member.newest, part.newest)
        run.progress.page(page.range_key, emitted, page.objects, page.newest, page.oldest, page.newest_first)
        yield from self._members_done(run)
        if self.cadence.page(run.key):
            for member in run.active:
                yield self._checkpoint(run, member)
        for member in run.active:
            estimate = run.progress.row_estimate(member.records_emitted, member.objects_read) if member.whole else None
            if estimate is not None and (member.estimate is None or abs(estimate - member.estimate) > ESTIMATE_CHANGE * member.estimate):
                member.estimate = estimate
                yield Estimate(member.plan, estimate)

    def _members_done(self, run: _ReadRun) -> Iterator[ReadSignal]:
        """Plans whose own intervals are all read complete before the rest of the read."""
        left = None
        for member in run.active:
            if member.whole:
                continue
            left = run.progress.left() if left is None else left
            if not intersect_intervals(left, member.intervals):
                yield from self._end(run, member)

    def _finish(self, run: _ReadRun) -> Iterator[ReadSignal]:
        for member in run.active:
            yield from self._end(run, member)

    def _end(self, run: _ReadRun, member: _PlanRun) -> Iterator[ReadSignal]:
        yield Progress(member.plan, self._cursor(run, member), member.newest, ())
        member.ended = True
        yield Complete(member.plan)

    def _fail(self, run: _ReadRun, member: _PlanRun, error: BaseException) -> Iterator[ReadSignal]:
        if member.objects_read:
            yield self._checkpoint(run, member)  # keep what was emitted before the failure
        member.ended = True
        yield Failed(member.plan, error)

    @staticmethod
    def _cursor(run: _ReadRun, member: _PlanRun) -> Optional[int]:
        """Everything of the plan created before it has been read: its saved cursor, or the
        read's (which is below everything any plan of the read has left)."""
        cursors = [c for c in (member.plan.saved_cursor, run.progress.cursor) if c is not None]
        return max(cursors) if cursors else None

    def _checkpoint(self, run: _ReadRun, member: _PlanRun) -> Progress:
        left = run.progress.left()
        mine = left if member.whole else intersect_intervals(left, member.intervals)
        if member.plan.reread_from is not None and not run.progress.complete:
            mine.append((member.plan.reread_from, None))
        to_read = tuple(cap_intervals(mine)) if not run.progress.complete else ()
        return Progress(member.plan, self._cursor(run, member), member.newest, to_read)

    # -- workers ---------------------------------------------------------------------

    def _submit(self, run: _ReadRun, partitions: List[Partition]) -> None:
        with self._lock:
            self._active += 1
            self._active_by_run[run.key] += 1
        self._executor.submit(self._read_ranges, run, partitions)

    def _spare_slots(self, run: _ReadRun) -> int:
        """How many more ranges of ``run`` would still use more of the budget. Requests in
        flight fill a budget at rate x latency; each range beyond that only adds a partial page.
        The read's endpoint may have a lower limit than the whole budget. Call with the lock held."""
        # Each read's slack ranges wait on its own endpoint, so the slack is per read.
        reads = sum(1 for count in self._active_by_run.values() if count > 0)
        needed = in_flight_to_fill(self.client.budget.rate, self.client.latency_seconds, slack=JITTER_SLACK * max(1, reads))
        return min(min(self.concurrency, needed) - self._active, self._endpoint_spare(run))

    def _endpoint_spare(self, run: _ReadRun) -> int:
        plan = run.plan
        endpoint_rate = self.client.rate_for("GET", plan.path, plan.account_id)
        return in_flight_to_fill(endpoint_rate, self.client.latency_seconds, slack=JITTER_SLACK) - self._active_by_run[run.key]

    def _read_ranges(self, run: _ReadRun, partitions: List[Partition]) -> None:
        """Read ranges one after another, then any waiting range this worker may take."""
        while True:
            for partition in partitions:
                try:
                    self._read_pages(run, partition)
                    self._messages.put(RangeDone(run.key, partition.key))
                except Exception as error:  # reported to the caller, which fails the read's plans
                    self._messages.put(RangeFailed(run.key, partition.key, error))
                    break
            with self._lock:
                self._active -= 1
                self._active_by_run[run.key] -= 1
                for partition in partitions:
                    self._pages_left.pop(partition.key, None)
                taken = self._take_waiting_range()
            if taken is None:
                return
            run, partitions = taken[0], [taken[1]]

    def _take_waiting_range(self) -> Optional[Tuple[_ReadRun, Partition]]:
        """The waiting range with the most pages whose read can use another slot, counted as
        active. A range that just finished hands its slot over without a gap. Lock held."""
        self._waiting = [entry for entry in self._waiting if not entry[1].cancelled]
        for entry in sorted(self._waiting, key=lambda entry: -entry[0]):
            _, run, partition = entry
            if self._spare_slots(run) >= 1:
                self._waiting.remove(entry)
                self._active += 1
                self._active_by_run[run.key] += 1
                return run, partition
        return None

    def _read_pages(self, run: _ReadRun, partition: Partition) -> None:
        plan = run.plan
        starting_after: Optional[str] = None
        while not run.cancelled:
            query: Dict[str, Any] = dict(plan.fixed_params)
            created = {k: v for k, v in (("gte", partition.lo), ("lt", partition.hi)) if v is not None}
            if created:
                query["created"] = created
            if plan.paged:
                query["limit"] = plan.page_size
            if starting_after:
                query["starting_after"] = starting_after
            self._gate.enter()
            page = self.client.send("GET", plan.path, params=query, account_id=plan.account_id).data
            objects = page_objects(page, plan.path)
            in_range = _within(objects, partition.lo, partition.hi, plan.created_field)
            starting_after = next_cursor(page, objects, starting_after, plan.path) if plan.paged else None
            newest, oldest = _time_span(in_range, plan.created_field)
            parts = tuple(self._hand_out(run, in_range))
            self._gate.queued()
            self._messages.put(
                PageRead(
                    run.key, partition.key, parts, len(in_range), newest, oldest,
                    newest_first=_newest_first(objects, plan.created_field), last=starting_after is None,
                )
            )
            if starting_after is None:
                return
            if plan.splittable:
                self._maybe_split(run, partition, objects)

    def _hand_out(self, run: _ReadRun, in_range: List[dict]) -> List[PlanPage]:
        """Each plan's part of a page: the objects inside its intervals that it accepts, through
        its transform. An object two plans take is copied for the second (transforms change
        records in place). A plan whose transform fails is reported and gets no more pages.

        Transforms that make chunks (child streams, with a request per parent) run side by side,
        each in a thread of its own (``_transforms``), so the children of every stream of a parent
        page are requested at once, not one stream after the other; the page's own message
        (its progress) follows when all are done."""
        shared = len(run.members) > 1
        given: set = set()
        parts = []
        for member in run.members.values():  # every plan's objects first, copied before any transform runs
            if member.stopped or member.ended:
                continue
            plan = member.plan
            mine = in_range if member.whole else [o for o in in_range if _inside(o, member.intervals, plan.created_field)]
            wanted = [o for o in mine if plan.accepts(o)] if plan.accepts else mine
            if shared:
                wanted = [copy.deepcopy(o) if id(o) in given else o for o in wanted]
                given.update(id(o) for o in wanted)
            parts.append((member, mine, wanted))
        pages: Dict[Tuple[str, Optional[str]], PlanPage] = {}
        chunked: List[Tuple[_PlanRun, Iterator[List[dict]]]] = []
        for member, mine, wanted in parts:
            made = self._start(run, member, wanted)
            if made is None:
                continue
            pages[member.plan.key] = PlanPage(member.plan.key, made if isinstance(made, list) else [], len(mine),
                                              _time_span(mine, member.plan.created_field)[0])
            if not isinstance(made, list):
                chunked.append((member, iter(made)))
        if len(chunked) == 1:
            done = [self._drain(run, *chunked[0])]
        else:  # each stream's chunks in its own thread: their requests go out side by side
            done = list(self._transforms.map(lambda entry: self._drain(run, *entry), chunked))
        for (member, _), ok in zip(chunked, done):
            if not ok:
                pages.pop(member.plan.key, None)
        return list(pages.values())

    def _drain(self, run: _ReadRun, member: _PlanRun, chunks: Iterator[List[dict]]) -> bool:
        """Hand over a plan's chunks of one page as they come, each through the gate; False if
        its transform failed (the plan ends, the read goes on)."""
        while not run.cancelled:
            self._gate.enter()
            try:
                chunk = next(chunks, None)
            except Exception as error:
                self._stop(run, member, error)
                return False
            if chunk is None:
                return True
            if chunk:
                self._gate.queued()
                self._messages.put(ChunkRead(run.key, member.plan.key, chunk))
        return True

    def _start(self, run: _ReadRun, member: _PlanRun, objects: List[dict]) -> Any:
        """The plan's transform of a page: its records, its chunks to come, or None if it failed."""
        if member.plan.transform is None or not objects:
            return objects
        try:
            return member.plan.transform(objects)
        except Exception as error:
            self._stop(run, member, error)
            return None

    def _stop(self, run: _ReadRun, member: _PlanRun, error: BaseException) -> None:
        member.stopped = True
        self._messages.put(PlanFailed(run.key, member.plan.key, error))

    def _maybe_split(self, run: _ReadRun, partition: Partition, objects: List[dict]) -> None:
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
                self._active_by_run[run.key] += len(children)
            lower = partition.lo
            for child in children:  # bottom up: each child takes [lower, cut), this range keeps [cut, hi)
                child.lo, cut = lower, child.hi
                self._messages.put(RangeSplit(run.key, partition.key, child.key, lower, cut))  # before the child's pages
                partition.lo = lower = cut
                if not decision.start_now:
                    self._waiting.append((share, run, child))
        if decision.start_now:
            for child in children:
                self._executor.submit(self._read_ranges, run, [child])


def _inside(obj: dict, intervals: Tuple[Interval, ...], created_field: str) -> bool:
    created = obj.get(created_field)
    return not isinstance(created, int) or inside_intervals(created, intervals)


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
