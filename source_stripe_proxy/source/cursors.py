"""Streams read by ``created``: where the next read starts, and the objects of that second.

A completed read that went up to when it began has read everything created before it began,
less the clock skew between us and Stripe (``CLOCK_SKEW_SECONDS``): the next read starts there,
or at the newest object it read if that is later. So an idle sync asks for one window from a
few minutes ago (one request), not a walk of empty windows from an old cursor, and an account
with no objects at all stops starting from the beginning.

Stripe's ``created`` is in seconds, and more objects may be created in the cursor's second
after the read (or be listed a moment late), so the next read asks from that second on
(``created[gte]``) and drops the objects of that second it already emitted: their ids are kept
in the stream's state (``at_cursor``, at most ``MAX_AT_CURSOR``; past that the rest are read
again, never lost). ``Boundary`` does both while a read runs; ``next_cursor`` decides at its end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from source_stripe_proxy.source.reader import ReadPlan
from source_stripe_proxy.source.state import MAX_AT_CURSOR

CLOCK_SKEW_SECONDS = 300  # our clock may run ahead of Stripe's by this much


class Boundary:
    """A transform for a stream read by ``created``: drops the objects of ``skip_second`` whose id
    is in ``skip_ids`` (emitted by the last read), and notes the newest ``created`` of the
    objects read (dropped ones too) with the ids of that second. Safe across worker threads."""

    def __init__(self, created_field: str, skip_second: int | None = None, skip_ids: Iterable[str] = ()):
        self.created_field = created_field
        self.skip_second = skip_second
        self.skip_ids = frozenset(skip_ids) if skip_second is not None else frozenset()
        self.newest: int | None = None
        self._ids: set = set()
        self._lock = threading.Lock()

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of the objects created in the second of ``newest``."""
        with self._lock:
            return tuple(sorted(self._ids))

    def __call__(self, records: list[dict]) -> list[dict]:
        kept = []
        for record in records:
            created = record.get(self.created_field)
            if isinstance(created, int) and not isinstance(created, bool):
                self._note(created, record.get("id"))
                if created == self.skip_second and record.get("id") in self.skip_ids:
                    continue
            kept.append(record)
        return kept

    def _note(self, created: int, object_id: object) -> None:
        with self._lock:
            if self.newest is None or created > self.newest:
                self.newest, self._ids = created, set()
            if created == self.newest and isinstance(object_id, str):
                self._ids.add(object_id)


def reads_up_to_now(plan: ReadPlan) -> bool:
    """Whether the read goes up to when it began: one of its intervals is open above. (A read
    resumed from intervals that were all bounded knows nothing of what came after them.)"""
    return any(high is None for _, high in plan.intervals)


def next_cursor(
    saved: int | None,
    saved_ids: Sequence[str] | None,
    newest: int | None,
    newest_ids: Sequence[str],
    floor: int | None,
) -> tuple[int | None, tuple[str, ...] | None]:
    """The cursor after a completed read, and the ids of its second already emitted.

    ``saved``/``saved_ids``: the state before; ``newest``/``newest_ids``: the newest ``created``
    this read saw and the ids of that second; ``floor``: when the read began, less the clock
    skew, if it read up to then (None otherwise)."""
    known = [value for value in (saved, newest, floor) if value is not None]
    if not known:
        return None, None
    cursor = max(known)
    ids: set[str] = set()
    if cursor == newest:
        ids.update(newest_ids)
    if cursor == saved and saved_ids:
        ids.update(saved_ids)  # nothing newer came: the last read's boundary still holds
    kept = tuple(sorted(ids)[:MAX_AT_CURSOR])
    return cursor, kept or None
