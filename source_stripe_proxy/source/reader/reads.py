"""What the reader keeps of each read while it runs: reads, their members, their ranges, and states.

A *read* (``Read``) is one pass over an endpoint for every plan with the same ``read_key``. Each
plan takes part in it as a *member* (``Member``): its own intervals, cursor, newest ``created``,
counts and ``PlanState``. A read is cut into *ranges* (``Range``) of ``created``, each read page by
page by one worker at a time. ``group_reads`` makes the reads of a run from its plans.

States only move forward. A read is OPEN until the caller closes it (every member ended, a range
failed, or the run stopped); a member is READING until a worker's transform of it fails
(STOPPING) and until the caller ends it (ENDED: completed or failed).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from source_stripe_proxy.source.reader.plan import ReadPlan
from source_stripe_proxy.source.reader.progress import (
    Interval,
    PlanProgress,
    cap_intervals,
    cut_intervals,
    intersect_intervals,
    merge_intervals,
)
from source_stripe_proxy.source.reader.signals import Progress

ReadKey = tuple[Any, ...]  # a ReadPlan.read_key
PlanKey = tuple[str, str | None]  # a ReadPlan.key


class PlanState(enum.Enum):
    READING = 1  # workers hand it its part of every page
    STOPPING = 2  # a worker's transform of it failed: no more pages for it; the caller ends it next
    ENDED = 3  # completed or failed, on the caller's thread: nothing of it follows


class ReadState(enum.Enum):
    OPEN = 1  # workers read its ranges; the caller handles their messages
    CLOSED = 2  # its workers stop at their next page, and the caller drops its messages


@dataclass
class Range:
    """One ``created`` range being read: ``[lo, hi)``, narrowed from below by splits."""

    key: int
    lo: int | None  # created[gte]; None = unbounded
    hi: int | None  # created[lt]; None = open-ended


@dataclass(eq=False)
class Member:
    """One plan within a read: its own intervals, cursor, newest ``created`` and counts."""

    plan: ReadPlan
    intervals: tuple[Interval, ...]  # merged
    whole: bool  # its intervals are all of the read's: no filtering, and the read's estimates apply
    newest: int | None = None  # the newest `created` read inside its intervals
    objects_read: int = 0
    records_emitted: int = 0
    estimate: int | None = None  # the last estimate given
    state: PlanState = PlanState.READING
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, state: PlanState) -> None:
        """Move to ``state`` unless already past it (a worker and the caller may race here)."""
        with self._lock:
            if state.value > self.state.value:
                self.state = state

    @property
    def reading(self) -> bool:
        return self.state is PlanState.READING

    @property
    def ended(self) -> bool:
        return self.state is PlanState.ENDED


@dataclass(eq=False)
class Read:
    """One pass over an endpoint, for every plan with the same ``read_key``."""

    key: ReadKey
    plan: ReadPlan  # the first plan: what every plan of the read shares (path, params, paging)
    members: dict[PlanKey, Member]
    progress: PlanProgress
    ranges: list[Range] = field(default_factory=list)  # as planned; splits add more as they happen
    state: ReadState = ReadState.OPEN

    @property
    def open(self) -> bool:
        return self.state is ReadState.OPEN

    @property
    def active(self) -> list[Member]:
        """The members not ended yet (a STOPPING one still gets its Failed)."""
        return [member for member in self.members.values() if not member.ended]

    def read_through(self) -> list[Member]:
        """The active members whose own intervals are all read while the rest of the read goes on."""
        partial = [member for member in self.active if not member.whole]
        if not partial:
            return []
        left = self.progress.left()
        return [member for member in partial if not intersect_intervals(left, member.intervals)]

    def cursor(self, member: Member) -> int | None:
        """Everything of the plan created before it has been read: its saved cursor, or the
        read's (which is below everything any plan of the read has left)."""
        cursors = [c for c in (member.plan.saved_cursor, self.progress.cursor) if c is not None]
        return max(cursors) if cursors else None

    def checkpoint(self, member: Member) -> Progress:
        """What is left of the member's intervals, to resume it exactly."""
        if self.progress.complete:
            return Progress(member.plan, self.cursor(member), member.newest, ())
        left = self.progress.left()
        mine = left if member.whole else intersect_intervals(left, member.intervals)
        if member.plan.reread_from is not None:
            mine.append((member.plan.reread_from, None))
        return Progress(member.plan, self.cursor(member), member.newest, tuple(cap_intervals(mine)))

    def completed(self, member: Member) -> Progress:
        """The member's last checkpoint: nothing of it is left to read."""
        return Progress(member.plan, self.cursor(member), member.newest, ())


def group_reads(plans: list[ReadPlan], new_range: Callable[[int | None, int | None], Range]) -> dict[ReadKey, Read]:
    """One read per ``read_key``, its ranges made by ``new_range`` (which gives each its key)."""
    grouped: dict[ReadKey, list[ReadPlan]] = {}
    for plan in plans:
        grouped.setdefault(plan.read_key, []).append(plan)
    reads = {}
    for key, plans_of_read in grouped.items():
        intervals = _read_intervals(plans_of_read)
        union = merge_intervals(intervals)
        members = {}
        for plan in plans_of_read:
            own = merge_intervals(plan.intervals)
            members[plan.key] = Member(plan, tuple(own), own == union, plan.saved_newest)
        read = Read(key, plans_of_read[0], members, _shared_progress(plans_of_read))
        for lo, hi in intervals:
            read.ranges.append(new_range(lo, hi))
            read.progress.add(read.ranges[-1].key, lo, hi)
        reads[key] = read
    return reads


def _read_intervals(plans: list[ReadPlan]) -> list[Interval]:
    """The ranges a read starts with, covering every plan's intervals."""
    if len({tuple(p.intervals) for p in plans}) == 1:
        return list(plans[0].intervals)  # as planned: windows stay windows
    if plans[0].splittable:  # every plan's windows stay ranges of their own
        return cut_intervals([i for p in plans for i in p.intervals], [b for p in plans for i in p.intervals for b in i])
    return merge_intervals(i for p in plans for i in p.intervals)  # one worker, newest first: one pass over the union


def _shared_progress(plans: list[ReadPlan]) -> PlanProgress:
    rereads = [p.reread_from for p in plans if p.reread_from is not None]
    return PlanProgress(
        _common(p.saved_cursor for p in plans),
        _common(p.saved_newest for p in plans),
        min(rereads) if rereads else None,
    )


def _common(values: Iterable[int | None]) -> int | None:
    """The value every plan has, or None when they differ."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None
