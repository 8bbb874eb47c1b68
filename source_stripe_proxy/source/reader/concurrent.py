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

Words, each used for one thing only:

* *plan*: a ``ReadPlan``, fixed before reading. *read* (``reads.Read``): the plans of one
  ``read_key``, read in one pass; OPEN until the caller *closes* it, after which its workers stop
  at their next page and its messages are dropped. *member* (``reads.Member``): one plan's part
  of a read, with its ``PlanState``: READING, STOPPING (a worker's transform of it failed: no
  more pages for it) and ENDED (the caller *completed* or *failed* it: nothing of it follows).
  *range* (``reads.Range``): a ``created`` range one worker reads page by page.
* *run*: one call of ``ConcurrentReader.run``. It makes a ``_Run`` (the caller's side: the reads,
  a handler per message kind, the signals) and its ``workers.Workers`` (the threads, the queue,
  the gate and the busy ranges). Nothing of a run outlives it; a ``ConcurrentReader`` is only
  its settings.
* Caller's verbs: *handle* a message; *emit* records; *checkpoint* a member (``Progress`` with
  what is left); *estimate*; *complete* or *fail* a member, both of which *end* it; the last
  member to end *closes* its read. Workers' verbs: *read*, *hand out*, *transform*, *drain*
  chunks, *split*, *claim* and *release* a busy range.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.source.reader.gate import PAGES_WAITING
from source_stripe_proxy.source.reader.plan import ReadPlan
from source_stripe_proxy.source.reader.progress import CheckpointCadence
from source_stripe_proxy.source.reader.reads import Member, PlanState, Read, ReadKey, ReadState, group_reads
from source_stripe_proxy.source.reader.signals import (
    ChunkRead,
    Complete,
    Estimate,
    Failed,
    PageRead,
    PlanFailed,
    PlanPage,
    RangeDone,
    RangeFailed,
    RangeSplit,
    ReadSignal,
    Records,
    WorkerMessage,
)
from source_stripe_proxy.source.reader.workers import Workers

ESTIMATE_CHANGE = 0.1  # a new estimate is given when it moved by more than this share


# A plan checkpoints after each of its pages: a first read is one range (the empty years
# before an account's first object cost no request), so no completed window would checkpoint it
# meanwhile, and a resumed read then re-reads at most the page each range had in flight. A
# STATE is small beside a page of records.
EVERY_PAGE = 1


class ConcurrentReader:
    """Reads ``ReadPlan``s with ``concurrency`` workers; yields ``ReadSignal``s (``signals.py``).

    ``stop_on(error)``: a failure for which the whole read stops at once (a rejected key fails
    every plan the same way); its plan's ``Failed`` is the last signal. ``cadence``: makes each
    run's ``CheckpointCadence`` (default: after every page of a plan, ``EVERY_PAGE``).
    """

    def __init__(
        self,
        client: StripeClient,
        concurrency: int,
        pages_waiting: int = PAGES_WAITING,
        *,
        stop_on: Callable[[BaseException], bool] = lambda error: False,
        cadence: Callable[[], CheckpointCadence] | None = None,
    ):
        self.client = client
        self.concurrency = concurrency
        self.pages_waiting = pages_waiting
        self.stop_on = stop_on
        self.cadence = cadence or (lambda: CheckpointCadence(pages=EVERY_PAGE))

    def run(self, plans: list[ReadPlan]) -> Iterator[ReadSignal]:
        yield from _Run(self, plans).signals()


class _Run:
    """One run: its workers, its reads, and the signals made from the workers' messages."""

    def __init__(self, reader: ConcurrentReader, plans: list[ReadPlan]):
        self.stop_on = reader.stop_on
        self.cadence = reader.cadence()
        self.workers = Workers(reader.client, reader.concurrency, reader.pages_waiting)
        self.reads = group_reads(plans, self.workers.new_range)
        self.open: set[ReadKey] = set(self.reads)
        self.handlers: dict[type, Callable[..., Iterable[ReadSignal]]] = {
            PageRead: self._on_page,
            ChunkRead: self._on_chunk,
            RangeSplit: self._on_split,
            RangeDone: self._on_range_done,
            PlanFailed: self._on_plan_failed,
            RangeFailed: self._on_range_failed,
        }

    def signals(self) -> Iterator[ReadSignal]:
        try:
            yield from self._start()
            while self.open:
                yield from self._handle(self.workers.messages.get())
        finally:
            for read in self.reads.values():
                self.close(read)
            self.workers.shutdown()

    def _start(self) -> Iterator[ReadSignal]:
        for read in self.reads.values():
            if not read.ranges:  # nothing left to read
                yield from self._complete(read, read.active)
            elif read.plan.splittable:
                for each in read.ranges:
                    self.workers.start(read, [each])
            else:  # one worker, newest first
                self.workers.start(read, sorted(read.ranges, key=lambda r: -(r.lo if r.lo is not None else -1)))

    def _handle(self, message: WorkerMessage) -> Iterator[ReadSignal]:
        read = self.reads[message.run]
        try:
            if read.open:
                yield from self.handlers[type(message)](read, message)
        finally:
            if message.passed_gate:
                self.workers.gate.emitted()  # after the caller has written the page out

    def close(self, read: Read) -> None:
        read.state = ReadState.CLOSED
        self.open.discard(read.key)

    # -- one handler per message kind ------------------------------------------------------------

    def _on_page(self, read: Read, page: PageRead) -> Iterator[ReadSignal]:
        emitted = yield from self._emit_parts(read, page.parts)
        read.progress.page(page.range_key, emitted, page.objects, page.newest, page.oldest, page.newest_first)
        yield from self._complete(read, read.read_through())
        if not page.last and self.cadence.page(read.key):  # after a range's last page its end saves it
            yield from self._checkpoints(read)
        yield from self._estimates(read)

    def _on_chunk(self, read: Read, chunk: ChunkRead) -> Iterator[ReadSignal]:
        member = read.members[chunk.plan_key]
        if chunk.records and not member.ended:
            member.records_emitted += len(chunk.records)
            yield Records(member.plan, chunk.records)

    def _on_split(self, read: Read, split: RangeSplit) -> Iterable[ReadSignal]:
        read.progress.split(split.parent, split.child, split.lo, split.cut)
        return ()

    def _on_range_done(self, read: Read, done: RangeDone) -> Iterator[ReadSignal]:
        read.progress.done(done.range_key)
        if read.progress.complete:
            yield from self._complete(read, read.active)
            return
        yield from self._complete(read, read.read_through())
        yield from self._checkpoints(read)  # what is left no longer holds the range, nor its last page

    def _on_plan_failed(self, read: Read, failed: PlanFailed) -> Iterator[ReadSignal]:
        member = read.members[failed.plan_key]
        if not member.ended:
            yield from self._fail(read, [member], failed.error)

    def _on_range_failed(self, read: Read, failed: RangeFailed) -> Iterator[ReadSignal]:
        self.close(read)  # its other ranges stop at their next page
        yield from self._fail(read, read.active, failed.error)

    # -- signals -------------------------------------------------------------------------------

    def _emit_parts(self, read: Read, parts: Iterable[PlanPage]) -> Generator[ReadSignal, None, int]:
        """Each member's records of a page; returns how many were emitted."""
        emitted = 0
        for part in parts:
            member = read.members[part.plan_key]
            if member.ended:
                continue
            if part.records:
                yield Records(member.plan, part.records)
            emitted += len(part.records)
            member.records_emitted += len(part.records)
            member.objects_read += part.objects
            if part.newest is not None:
                member.newest = part.newest if member.newest is None else max(member.newest, part.newest)
        return emitted

    def _checkpoints(self, read: Read) -> Iterator[ReadSignal]:
        for member in read.active:
            yield read.checkpoint(member)

    def _estimates(self, read: Read) -> Iterator[ReadSignal]:
        for member in read.active:
            if not member.whole:
                continue
            estimate = read.progress.row_estimate(member.records_emitted, member.objects_read)
            if estimate is not None and (member.estimate is None or abs(estimate - member.estimate) > ESTIMATE_CHANGE * member.estimate):
                member.estimate = estimate
                yield Estimate(member.plan, estimate)

    def _complete(self, read: Read, members: list[Member]) -> Iterator[ReadSignal]:
        for member in members:
            yield read.completed(member)
            self._end(read, member)
            yield Complete(member.plan)

    def _fail(self, read: Read, members: list[Member], error: BaseException) -> Iterator[ReadSignal]:
        for member in members:
            if member.objects_read:
                yield read.checkpoint(member)  # keep what was emitted before the failure
            self._end(read, member)
            yield Failed(member.plan, error)
        if self.stop_on(error):  # the whole read stops: this is the last signal
            for other in self.reads.values():
                self.close(other)

    def _end(self, read: Read, member: Member) -> None:
        """Nothing of ``member`` follows; the last member to end closes its read."""
        member.advance(PlanState.ENDED)
        if not read.active:
            self.close(read)
