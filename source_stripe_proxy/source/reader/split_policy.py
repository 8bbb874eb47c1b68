"""When and where a range splits: pure functions of the ranges' progress and the budget.

A range that still has pages after the one just read may give its unread part,
``[floor, oldest on the page)``, to other workers. Whether it does depends only on numbers the
reader passes in (pages left here and elsewhere, free slots, ranges waiting), so the policy is
tested without threads (``unit_tests/test_split_policy.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_SPLIT_SECONDS = 2  # `created` has one-second resolution; narrower ranges can't split
# A part expected to hold fewer pages saves no time: it costs one more request, and its last
# page is partial. Below 1.5 pages a split turns one request into two half-empty ones.
MIN_PART_PAGES = 1.5
# Ranges split off ahead while no slot is free, for workers whose range ends. One per worker
# that may finish at about the same time; three covers the ends of a few streams at once and
# costs nothing while they wait (a waiting range has made no request).
WAITING_RANGES = 3
# "Clearly more pages left": another range's estimate must exceed this one's by 25% and one
# page. The estimates come from the density of the last page, so they are a page stale and move
# by about a quarter from page to page on real data; without the margin, near-equal ranges
# would each defer a free slot to the other and nobody would take it.
CLEARLY_MORE_FACTOR = 1.25
CLEARLY_MORE_PAGES = 1.0
# Below an unknown floor, the first part reaches this many pages' worth of time below the
# page just read, and each further part twice as far (4, 4, 8, 16, ... pages' worth).
FIRST_UNBOUNDED_PART_PAGES = 4


def pages_left(newest: int, oldest: int, objects: int, floor: int, page_size: int) -> float:
    """Pages left in ``[floor, oldest)`` at the density of a page that spans ``[oldest, newest]``."""
    span = oldest - floor
    if span < MIN_SPLIT_SECONDS or newest <= oldest or objects <= 0:
        return 0.0
    return objects / (newest - oldest) * span / page_size


def clearly_larger(pages_here: float, others: Iterable[float]) -> int:
    """How many other ranges have clearly more pages left than this one."""
    bar = pages_here * CLEARLY_MORE_FACTOR + CLEARLY_MORE_PAGES
    return sum(1 for left in others if left > bar)


@dataclass(frozen=True)
class SplitDecision:
    parts: int  # how many ranges to cut off below the page just read
    start_now: bool  # start them now (free slots), or keep them waiting for the next free worker


def decide_split(
    pages_here: float,
    spare_slots: int,
    larger_elsewhere: int,
    waiting: int,
    floor_known: bool,
    concurrency: int,
) -> SplitDecision | None:
    """Whether this range splits, given its pages left, the slots the budget can still use,
    the ranges with clearly more pages left (they get free slots first) and the ranges already
    waiting.

    Free slots go first to ranges with clearly more left, when their next page arrives. With
    none free, the longest range keeps one half ready for a worker whose range ends, so the end
    of a stream has no gaps; that needs a known floor (below an unknown one nobody knows where
    half is) and more than one worker (one worker reads everything in order anyway).
    """
    if pages_here < MIN_PART_PAGES:
        return None
    free = spare_slots - larger_elsewhere
    if free >= 1:
        return SplitDecision(parts=free, start_now=True)
    if larger_elsewhere == 0 and floor_known and waiting < WAITING_RANGES and concurrency > 1:
        return SplitDecision(parts=1, start_now=False)
    return None


def split_points(floor: int, last: int, pages_left: float, free_slots: int, page_seconds: float | None = None) -> list[int]:
    """Where to cut the unread span [floor, last) of a range into at most ``free_slots + 1`` parts.

    With a known floor: parts of equal time, i.e. equal counts at the density just seen, none
    expecting fewer than ``MIN_PART_PAGES`` pages. Below an unknown floor (``page_seconds``
    given: the time one full page covers) the density says nothing about where data starts,
    which may be years after 2010; parts then grow geometrically downwards from ``last``, so a
    few parts hold the data near the top at once and the rest, most likely empty, cost one
    request each.
    """
    if page_seconds is not None:
        cuts: list[int] = []
        reach = FIRST_UNBOUNDED_PART_PAGES * page_seconds
        while len(cuts) < free_slots and last - reach > floor + MIN_SPLIT_SECONDS:
            cuts.append(int(last - reach))
            reach *= 2
        return sorted(set(cuts))
    span = last - floor
    parts = min(free_slots + 1, int(pages_left // MIN_PART_PAGES), span)
    return sorted({floor + span * i // parts for i in range(1, parts)}) if parts > 1 else []
