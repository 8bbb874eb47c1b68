"""A plan's progress, kept on the caller's thread: what is left to read, the saved cursor,
an honest row estimate, and when to checkpoint.

Stripe lists newest first. A range ``[lo, hi)`` read page by page has, after a page whose
oldest object was created at ``c``, read everything in ``[c + 1, hi)``: what is left is
``[lo, c + 1)``. Objects created in the same second as ``c`` may continue on the next page,
so ``c`` stays in what is left. The intervals still to read, merged, are enough to resume
a read exactly; a resumed read re-reads at most the rest of second ``c`` of each range that
was in flight, plus the pages emitted since the last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Interval = tuple[int | None, int | None]  # [lo, hi); None = unbounded on that side

# A state holds at most this many intervals. In flight there are at most `concurrency` (<= 64)
# ranges plus a few split off ahead, and each leaves at most one interval; merging the two
# closest intervals (re-reading the gap between them) keeps a state small if that ever grows.
MAX_STATE_INTERVALS = 100
# Checkpoint a plan once this many of its pages were emitted since the last one... (the
# caller says how many: ConcurrentReader, every page)
CHECKPOINT_SECONDS = 5.0  # ...or this long after the last one, while records flow


def _low(value: int | None) -> float:
    return float("-inf") if value is None else value


def _high(value: int | None) -> float:
    return float("inf") if value is None else value


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and adjacent intervals joined and empty ones dropped."""
    merged: list[list[int | None]] = []
    for lo, hi in sorted((i for i in intervals if _low(i[0]) < _high(i[1])), key=lambda i: _low(i[0])):
        if merged and _high(merged[-1][1]) >= _low(lo):
            if _high(hi) > _high(merged[-1][1]):
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def intersect_intervals(left: Iterable[Interval], right: Iterable[Interval]) -> list[Interval]:
    """The parts of ``left`` that are also in ``right``, merged."""
    out = []
    for lo, hi in merge_intervals(left):
        for other_lo, other_hi in merge_intervals(right):
            low = lo if _low(lo) >= _low(other_lo) else other_lo
            high = hi if _high(hi) <= _high(other_hi) else other_hi
            if _low(low) < _high(high):
                out.append((low, high))
    return merge_intervals(out)


def cut_intervals(intervals: Iterable[Interval], bounds: Iterable[int | None]) -> list[Interval]:
    """``intervals`` merged, then cut at every bound inside them: the union of several plans'
    intervals that keeps each plan's windows (each piece is inside or outside each plan's)."""
    cuts = sorted({b for b in bounds if b is not None})
    pieces: list[Interval] = []
    for lo, hi in merge_intervals(intervals):
        start = lo
        for cut in cuts:
            if _low(start) < cut < _high(hi):
                pieces.append((start, cut))
                start = cut
        pieces.append((start, hi))
    return pieces


def inside_intervals(created: int, intervals: Iterable[Interval]) -> bool:
    return any(_low(lo) <= created < _high(hi) for lo, hi in intervals)


def cap_intervals(intervals: list[Interval], limit: int = MAX_STATE_INTERVALS) -> list[Interval]:
    """At most ``limit`` intervals: join the two with the narrowest gap until few enough.
    Joining only adds to what is read again; nothing is ever dropped."""
    capped = merge_intervals(intervals)
    while len(capped) > max(1, limit):
        gaps = [_low(capped[i + 1][0]) - _high(capped[i][1]) for i in range(len(capped) - 1)]  # inner bounds are ints
        i = gaps.index(min(gaps))
        capped[i : i + 2] = [(capped[i][0], capped[i + 1][1])]
    return capped


def left_after_page(lo: int | None, unread_hi: int | None, oldest: int) -> int | None:
    """The new top of ``[lo, unread_hi)`` after a newest-first page whose oldest object was
    created at ``oldest``: everything from ``oldest + 1`` up has been read."""
    return oldest + 1 if unread_hi is None or oldest + 1 < unread_hi else unread_hi


@dataclass
class _Range:
    lo: int | None
    unread_hi: int | None  # [unread_hi, hi) has been read
    done: bool = False
    newest: int | None = None  # newest `created` read in this range
    pages: int = 0
    density: float | None = None  # objects per second on the last page with a time spread


class PlanProgress:
    """The ranges of one plan. Used only by the caller's thread, so it needs no lock."""

    def __init__(self, cursor: int | None = None, newest: int | None = None, reread_from: int | None = None):
        self.cursor = cursor  # everything created before it has been read
        self.newest = newest  # the newest `created` read, in any range
        self.reread_from = reread_from  # from here up, always left to read (see ReadPlan)
        self.objects_read = 0
        self.records_emitted = 0
        self._ranges: dict[int, _Range] = {}

    def add(self, key: int, lo: int | None, hi: int | None) -> None:
        self._ranges[key] = _Range(lo, hi)

    def split(self, parent: int, child: int, lo: int | None, cut: int) -> None:
        """``parent`` gave ``[lo, cut)`` to ``child``; the child starts with the parent's density."""
        entry = self._ranges[parent]
        entry.lo = cut
        self._ranges[child] = _Range(lo, cut, density=entry.density)

    def page(self, key: int, records: int, objects: int, newest: int | None, oldest: int | None, newest_first: bool) -> None:
        entry = self._ranges[key]
        entry.pages += 1
        self.objects_read += objects
        self.records_emitted += records
        if newest is not None:
            entry.newest = newest if entry.newest is None else max(entry.newest, newest)
            self.newest = newest if self.newest is None else max(self.newest, newest)
        if newest_first and oldest is not None:
            entry.unread_hi = left_after_page(entry.lo, entry.unread_hi, oldest)
            if newest is not None and newest > oldest:
                entry.density = objects / (newest - oldest)

    def done(self, key: int) -> bool:
        """A range is complete; the cursor advances over the complete ranges from the oldest.
        Returns whether it advanced."""
        before = self.cursor
        self._ranges[key].done = True
        for range_key, entry in sorted(self._ranges.items(), key=lambda item: _low(item[1].lo)):
            if not entry.done:
                break
            del self._ranges[range_key]  # a complete prefix never needs looking at again
            if entry.newest is not None and (self.cursor is None or entry.newest > self.cursor):
                self.cursor = entry.newest
        return self.cursor != before

    @property
    def complete(self) -> bool:
        return not self._ranges

    def left(self) -> list[Interval]:
        """The parts of the ranges not read yet (without ``reread_from``), merged."""
        return merge_intervals((e.lo, e.unread_hi) for e in self._ranges.values() if not e.done)

    def to_read(self) -> tuple[Interval, ...]:
        """What is left, merged and capped; empty once complete."""
        if self.complete:
            return ()
        left = self.left()
        if self.reread_from is not None:
            left.append((self.reread_from, None))
        return tuple(cap_intervals(left))

    def row_estimate(self, records_emitted: int | None = None, objects_read: int | None = None) -> int | None:
        """Rows this plan will emit, or None while no honest figure can be given.

        The rows left are each open range's last density times its unread span. That figure
        is only given when every open range has one (a range unbounded below, or not yet
        read, has none: extrapolating a first page back to 2010 overstates a young account a
        hundredfold) and when it is at most the rows already emitted. The estimate is then
        at most twice the final count, whatever the data's shape. ``records_emitted`` and
        ``objects_read``: one plan's counts, when several plans read these ranges together.
        """
        records_emitted = self.records_emitted if records_emitted is None else records_emitted
        objects_read = self.objects_read if objects_read is None else objects_read
        left = 0.0
        for entry in self._ranges.values():
            if entry.done:
                continue
            if entry.lo is None or entry.unread_hi is None or entry.density is None:
                return None
            left += entry.density * max(0, entry.unread_hi - entry.lo)
        if objects_read == 0:
            return None
        rows_left = left * records_emitted / objects_read
        if rows_left > records_emitted:
            return None
        return int(records_emitted + rows_left)


class CheckpointCadence:
    """When a plan's progress is worth saving: after ``pages`` of its pages, or once
    ``seconds`` have passed since its last checkpoint while its pages keep coming."""

    def __init__(self, pages: int, seconds: float = CHECKPOINT_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.pages = max(1, pages)
        self.seconds = seconds
        self.clock = clock
        self._since: dict[object, tuple[int, float]] = {}  # plan key -> (pages, time of the last checkpoint)

    def page(self, key: object) -> bool:
        """A page of ``key`` was emitted: is a checkpoint due now?"""
        now = self.clock()
        pages, last = self._since.get(key, (0, now))
        pages += 1
        if pages >= self.pages or now - last >= self.seconds:
            self._since[key] = (0, now)
            return True
        self._since[key] = (pages, last)
        return False
