"""A stream's saved state, parsed and checked; see docs/change_capture.md for its shapes.

    {"created": N}                                 immutable streams; also the old shape
    {"created": N, "first_read_began": T}          a first list read in progress (before resumable reads)
    {"created": N, "first_read_began": T,
     "to_read": [[lo, hi], ...], "newest_seen": M} a list read in progress: the intervals left
    {"created": N, "events_since": T}              changes are followed through events
    {"created": N, "events_since": T,
     "to_read": [...], "newest_seen": M}           an events read in progress
    {"accounts": {"acct_1": {...}, ...}}           the same, per account, with `account_ids`

``to_read`` lists ``[created_gte, created_lt]`` pairs, ``null`` for unbounded, merged and
capped (``reader.progress.MAX_STATE_INTERVALS``). ``created`` keeps its old meaning (every
object created before it was read), so code that does not know ``to_read`` resumes safely.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.reader.progress import Interval, cap_intervals

FUTURE_TOLERANCE_SECONDS = 86_400  # clock skew between machines is fine; a cursor days ahead is not
CURSOR_KEYS = ("created", "events_since", "first_read_began", "newest_seen")
STATE_KEYS = (*CURSOR_KEYS, "to_read")


@dataclass
class Checkpoint:
    """One stream's state for one account (or the only one)."""

    created: Optional[int] = None  # every object created before it has been read (list reads)
    events_since: Optional[int] = None  # set once the list read completed: read events from here
    first_read_began: Optional[int] = None  # while a first list read is unfinished: when it began
    to_read: Optional[Tuple[Interval, ...]] = None  # a read in progress: the intervals still to read
    newest_seen: Optional[int] = None  # a read in progress: the newest `created` it has read

    def to_dict(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {key: getattr(self, key) for key in CURSOR_KEYS if getattr(self, key) is not None}
        if self.to_read is not None:
            state["to_read"] = [list(interval) for interval in self.to_read]
        return state

    @classmethod
    def parse(cls, stream_name: str, value: Any) -> "Checkpoint":
        if not value:
            return cls()
        if not isinstance(value, Mapping):
            raise ConfigError(f"The state of stream '{stream_name}' must be an object like {{\"created\": 1700000000}}.")
        cursors = {key: _epoch(stream_name, key, value.get(key)) for key in CURSOR_KEYS}
        return cls(**cursors, to_read=_intervals(stream_name, value.get("to_read")))


def parse_cursor(stream_name: str, value: Any) -> Optional[int]:
    """The ``created`` cursor of a state (``{"created": 1700000000}``, also as a numeric string)."""
    return Checkpoint.parse(stream_name, value).created


def _intervals(stream_name: str, value: Any) -> Optional[Tuple[Interval, ...]]:
    if value is None:
        return None
    problem = (
        f"The state of stream '{stream_name}' has an invalid 'to_read': it must be a list of "
        "[created_gte, created_lt] pairs of epoch seconds (null for unbounded), each low before high. "
        "Reset the stream to start over."
    )
    if not isinstance(value, list):
        raise ConfigError(problem)
    intervals = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(problem)
        lo, hi = (_epoch(stream_name, "to_read", bound) for bound in pair)
        if lo is not None and hi is not None and lo >= hi:
            raise ConfigError(problem)
        intervals.append((lo, hi))
    return tuple(cap_intervals(intervals))


def _epoch(stream_name: str, key: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid '{key}' cursor; "
            "it must be epoch seconds (a non-negative integer). Reset the stream to start over."
        )
    if value > time.time() + FUTURE_TOLERANCE_SECONDS:
        # Kept, it would make every later sync read nothing, silently and forever.
        raise ConfigError(
            f"The state of stream '{stream_name}' has a '{key}' cursor in the future; "
            "it can't come from a sync. Reset the stream to start over."
        )
    return int(value)
