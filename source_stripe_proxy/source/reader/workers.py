"""The worker side of one run: threads that read ranges page by page, transform, split and report.

A worker reads a range's pages newest first. For each page it asks the ``PageGate`` first, hands
each member its part through the member's transform (``hand_out``), and reports the page as a
``PageRead`` on the run's queue; a transform that makes chunks reports each as a ``ChunkRead``
before the page. After a page that is not the last, a splittable range may give its unread part
to new ranges (``split_policy`` decides), which start now on free slots or wait for the next
worker whose range ends.

*Busy ranges* (``BusyRanges``) are the workers' slots: one is claimed before a worker starts
(its first range, a range it takes from the waiting ones, or each range a split starts now) and
released when its ranges end. How many slots a read may use comes from the request budget.
"""

from __future__ import annotations

import copy
import itertools
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

from source_stripe_proxy.core.budget import in_flight_to_fill
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.paging import next_cursor, page_objects
from source_stripe_proxy.core.stripe_facts import STRIPE_EPOCH  # the floor for splitting
from source_stripe_proxy.source.reader import split_policy
from source_stripe_proxy.source.reader.gate import PageGate
from source_stripe_proxy.source.reader.plan import ReadPlan
from source_stripe_proxy.source.reader.progress import Interval, inside_intervals
from source_stripe_proxy.source.reader.reads import Member, PlanState, Range, Read, ReadKey
from source_stripe_proxy.source.reader.signals import (
    ChunkRead,
    PageRead,
    PlanFailed,
    PlanPage,
    RangeDone,
    RangeFailed,
    RangeSplit,
    WorkerMessage,
)

JITTER_SLACK = 2  # requests in flight beyond rate x latency, so latency jitter leaves no slot idle


class _Waiting(NamedTuple):
    pages: float  # pages it is expected to hold
    read: Read
    range: Range


class BusyRanges:
    """Workers reading, overall and per read; the pages each busy range still expects; the
    ranges split off to wait for a free worker. Callers hold ``lock`` around every use, since a
    split decides, claims and queues in one step."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.by_read: Counter[ReadKey] = Counter()
        self.pages_left: dict[int, tuple[float, Read]] = {}  # range key -> (pages it still expects, its read)
        self.waiting: list[_Waiting] = []

    def claim(self, read: Read, count: int = 1) -> None:
        self.total += count
        self.by_read[read.key] += count

    def release(self, read: Read, ranges: Iterable[Range]) -> None:
        """A worker's ranges ended: its slot is free, and their estimates are gone."""
        self.total -= 1
        self.by_read[read.key] -= 1
        for ended in ranges:
            self.pages_left.pop(ended.key, None)

    def reads_busy(self) -> int:
        return sum(1 for count in self.by_read.values() if count > 0)


@dataclass
class _Transformed:
    """A member's transform of one page: the records made at once, the chunks still to come
    (None: none), and whether it failed (the member then gets nothing of this page)."""

    records: list[dict]
    chunks: Iterator[list[dict]] | None = None
    ok: bool = True


class Workers:
    """The read threads and transform threads of one run, its message queue, its gate and its
    busy ranges. Made by the run and shut down with it: nothing outlives a run."""

    def __init__(self, client: StripeClient, concurrency: int, pages_waiting: int):
        self.client = client
        self.concurrency = concurrency
        self.messages: queue.SimpleQueue[WorkerMessage] = queue.SimpleQueue()
        self.gate = PageGate(pages_waiting)
        self.busy = BusyRanges()
        self._keys = itertools.count()
        self._readers = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stripe-read")
        # Transforms of the members of one page, side by side; they never wait for a range's worker.
        self._transforms = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stripe-transform")

    def new_range(self, lo: int | None, hi: int | None) -> Range:
        return Range(next(self._keys), lo, hi)

    def start(self, read: Read, ranges: list[Range]) -> None:
        """A worker reads ``ranges`` one after another (one range, or a read that never splits)."""
        with self.busy.lock:
            self.busy.claim(read)
        self._readers.submit(self._read_ranges, read, ranges)

    def shutdown(self) -> None:
        """Wake every worker waiting at the gate (the caller is gone) and wait for all to stop."""
        self.gate.close()
        self._readers.shutdown(wait=True)
        self._transforms.shutdown(wait=True)

    # -- a worker ----------------------------------------------------------------------------

    def _read_ranges(self, read: Read, ranges: list[Range]) -> None:
        """Read ranges one after another, then any waiting range this worker may take."""
        while True:
            for current in ranges:
                try:
                    self._read_range(read, current)
                except Exception as error:  # noqa: BLE001 - reported to the caller, which fails the read's plans
                    self.messages.put(RangeFailed(read.key, current.key, error))
                    break
                self.messages.put(RangeDone(read.key, current.key))
            with self.busy.lock:  # release and take in one step: the slot passes on without a gap
                self.busy.release(read, ranges)
                taken = self._take_waiting()
            if taken is None:
                return
            read, ranges = taken.read, [taken.range]

    def _read_range(self, read: Read, current: Range) -> None:
        plan = read.plan
        starting_after: str | None = None
        while read.open:
            self.gate.enter()
            page = self.client.send("GET", plan.path, params=_query(plan, current, starting_after), account_id=plan.account_id).data
            objects = page_objects(page, plan.path)
            starting_after = next_cursor(page, objects, starting_after, plan.path) if plan.paged else None
            self._report_page(read, current, objects, last=starting_after is None)
            if starting_after is None:
                return
            if plan.splittable:
                self._maybe_split(read, current, objects)

    def _report_page(self, read: Read, current: Range, objects: list[dict], last: bool) -> None:
        created_field = read.plan.created_field
        in_range = _within(objects, current.lo, current.hi, created_field)
        newest, oldest = _time_span(in_range, created_field)
        parts = tuple(self._hand_out(read, in_range))
        self.gate.queued()
        self.messages.put(
            PageRead(
                read.key, current.key, parts, len(in_range), newest, oldest, newest_first=_newest_first(objects, created_field), last=last
            )
        )

    # -- members' parts of a page --------------------------------------------------------------

    def _hand_out(self, read: Read, in_range: list[dict]) -> list[PlanPage]:
        """Each member's part of a page: the objects inside its intervals that it accepts, through
        its transform. A member whose transform fails is reported and gets no more pages.

        Transforms that make chunks (child streams, with a request per parent) run side by side,
        each in a thread of its own, so the children of every stream of a parent page are
        requested at once, not one stream after the other; the page's own message (its
        progress) follows when all are done."""
        made = [(member, mine, self._transform(read, member, wanted)) for member, mine, wanted in _parts(read, in_range)]
        chunked = [(member, result, result.chunks) for member, _, result in made if result.chunks is not None]
        if len(chunked) == 1:
            self._drain(read, *chunked[0])
        else:  # each member's chunks in its own thread: their requests go out side by side
            list(self._transforms.map(lambda entry: self._drain(read, *entry), chunked))
        created_field = read.plan.created_field
        return [
            PlanPage(member.plan.key, result.records, len(mine), _time_span(mine, created_field)[0])
            for member, mine, result in made
            if result.ok
        ]

    def _transform(self, read: Read, member: Member, objects: list[dict]) -> _Transformed:
        """The member's transform of a page, as one type whatever the transform returned."""
        if member.plan.transform is None or not objects:
            return _Transformed(objects)
        try:
            made = member.plan.transform(objects)
        except Exception as error:  # noqa: BLE001 - a transform's failure fails its member only
            self._transform_failed(read, member, error)
            return _Transformed([], ok=False)
        return _Transformed(made) if isinstance(made, list) else _Transformed([], iter(made))

    def _drain(self, read: Read, member: Member, result: _Transformed, chunks: Iterator[list[dict]]) -> None:
        """Hand over a member's chunks of one page (``result.chunks``) as they come, each through the gate."""
        while read.open:
            self.gate.enter()
            try:
                chunk = next(chunks, None)
            except Exception as error:  # noqa: BLE001 - a transform's failure fails its member only
                self._transform_failed(read, member, error)
                result.ok = False
                return
            if chunk is None:
                return
            if chunk:
                self.gate.queued()
                self.messages.put(ChunkRead(read.key, member.plan.key, chunk))

    def _transform_failed(self, read: Read, member: Member, error: BaseException) -> None:
        """Reported before the member stops: a page another worker leaves out for a STOPPING
        member then reaches the caller after the failure, never before (or its checkpoint would
        pass records the member never got)."""
        self.messages.put(PlanFailed(read.key, member.plan.key, error))
        member.advance(PlanState.STOPPING)

    # -- splits --------------------------------------------------------------------------------

    def _maybe_split(self, read: Read, current: Range, objects: list[dict]) -> None:
        """Cut the unread part of this range, [floor, oldest on the page), as ``split_policy`` says."""
        plan = read.plan
        if not _newest_first(objects, plan.created_field):
            return  # not visibly newest-first (e.g. localstripe lists oldest first): don't split
        first, last = objects[0][plan.created_field], objects[-1][plan.created_field]
        floor = current.lo if current.lo is not None else STRIPE_EPOCH
        pages_left = split_policy.pages_left(first, last, len(objects), floor, plan.page_size)
        page_seconds = None if current.lo is not None else (first - last) * plan.page_size / len(objects)
        with self.busy.lock:
            self.busy.pages_left[current.key] = (pages_left, read)
            decision = self._decide_split(read, current, pages_left)
            if decision is None:
                return
            cuts = split_policy.split_points(floor, last, pages_left, decision.parts, page_seconds if decision.start_now else None)
            if not cuts:
                return
            started = self._split_off(read, current, cuts, pages_left / (len(cuts) + 1), decision.start_now)
        for child in started:
            self._readers.submit(self._read_ranges, read, [child])

    def _decide_split(self, read: Read, current: Range, pages_left: float) -> split_policy.SplitDecision | None:
        """The policy's decision on the numbers of this moment. Lock held."""
        others = (
            left
            for key, (left, owner) in self.busy.pages_left.items()
            if key != current.key and (owner is read or self._endpoint_spare(owner) > 0)
        )
        return split_policy.decide_split(
            pages_left,
            spare_slots=self._spare_slots(read) if pages_left >= split_policy.MIN_PART_PAGES else 0,
            larger_elsewhere=split_policy.clearly_larger(pages_left, others),
            waiting=len(self.busy.waiting),
            floor_known=current.lo is not None,
            concurrency=self.concurrency,
        )

    def _split_off(self, read: Read, current: Range, cuts: list[int], share: float, start_now: bool) -> list[Range]:
        """Give ``[lo, cut)`` pieces of ``current`` to new ranges, bottom up; the ones to start
        now are claimed here (so no other worker spends the same slots) and returned, the
        others wait. Lock held."""
        children = [self.new_range(None, cut) for cut in cuts]
        self.busy.pages_left[current.key] = (share, read)
        if start_now:
            for child in children:
                self.busy.pages_left[child.key] = (share, read)
            self.busy.claim(read, len(children))
        lower = current.lo
        for child, cut in zip(children, cuts, strict=True):  # each child takes [lower, cut), this range keeps [cut, hi)
            child.lo = lower
            self.messages.put(RangeSplit(read.key, current.key, child.key, lower, cut))  # before the child's pages
            current.lo = lower = cut
            if not start_now:
                self.busy.waiting.append(_Waiting(share, read, child))
        return children if start_now else []

    def _take_waiting(self) -> _Waiting | None:
        """The waiting range with the most pages whose read can use another slot, claimed.
        Lock held."""
        self.busy.waiting = [entry for entry in self.busy.waiting if entry.read.open]
        for entry in sorted(self.busy.waiting, key=lambda entry: -entry.pages):
            if self._spare_slots(entry.read) >= 1:
                self.busy.waiting.remove(entry)
                self.busy.claim(entry.read)
                return entry
        return None

    def _spare_slots(self, read: Read) -> int:
        """How many more ranges of ``read`` would still use more of the budget. Requests in
        flight fill a budget at rate x latency; each range beyond that only adds a partial page.
        The read's endpoint may have a lower limit than the whole budget. Lock held."""
        # Each read's slack ranges wait on its own endpoint, so the slack is per read.
        slack = JITTER_SLACK * max(1, self.busy.reads_busy())
        needed = in_flight_to_fill(self.client.budget.rate, self.client.latency_seconds, slack=slack)
        return min(min(self.concurrency, needed) - self.busy.total, self._endpoint_spare(read))

    def _endpoint_spare(self, read: Read) -> int:
        plan = read.plan
        endpoint_rate = self.client.rate_for("GET", plan.path, plan.account_id)
        return in_flight_to_fill(endpoint_rate, self.client.latency_seconds, slack=JITTER_SLACK) - self.busy.by_read[read.key]


def _parts(read: Read, in_range: list[dict]) -> list[tuple[Member, list[dict], list[dict]]]:
    """Per reading member: the page's objects inside its intervals, and those it accepts. An
    object two members take is copied for the second (transforms change records in place), all
    before any transform runs."""
    shared = len(read.members) > 1
    given: set = set()
    parts = []
    for member in read.members.values():
        if not member.reading:
            continue
        plan = member.plan
        mine = in_range if member.whole else [o for o in in_range if _inside(o, member.intervals, plan.created_field)]
        wanted = [o for o in mine if plan.accepts(o)] if plan.accepts else mine
        if shared:
            wanted = [copy.deepcopy(o) if id(o) in given else o for o in wanted]
            given.update(id(o) for o in wanted)
        parts.append((member, mine, wanted))
    return parts


def _query(plan: ReadPlan, current: Range, starting_after: str | None) -> dict[str, Any]:
    query: dict[str, Any] = dict(plan.fixed_params)
    created = {k: v for k, v in (("gte", current.lo), ("lt", current.hi)) if v is not None}
    if created:
        query["created"] = created
    if plan.paged:
        query["limit"] = plan.page_size
    if starting_after:
        query["starting_after"] = starting_after
    return query


def _inside(obj: dict, intervals: tuple[Interval, ...], created_field: str) -> bool:
    created = obj.get(created_field)
    return not isinstance(created, int) or inside_intervals(created, intervals)


def _newest_first(objects: list[dict], created_field: str) -> bool:
    """Visibly in Stripe's order: the first object is strictly newer than the last."""
    if len(objects) < 2:
        return False
    first, last = objects[0].get(created_field), objects[-1].get(created_field)
    return isinstance(first, int) and isinstance(last, int) and first > last


def _time_span(objects: list[dict], created_field: str) -> tuple[int | None, int | None]:
    times = [obj.get(created_field) for obj in objects]
    ints = [t for t in times if isinstance(t, int) and not isinstance(t, bool)]
    return (max(ints), min(ints)) if ints else (None, None)


def _within(objects: list[dict], lo: int | None, hi: int | None, created_field: str = "created") -> list[dict]:
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
