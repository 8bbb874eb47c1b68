"""A stream's saved state, parsed and checked; see docs/change_capture.md for its shapes.

    {"created": N}                                 immutable streams; also the old shape
    {"created": N, "first_read_began": T}          a first list read in progress (before resumable reads)
    {"created": N, "first_read_began": T,
     "to_read": [[lo, hi], ...], "newest_seen": M} a list read in progress: the intervals left
    {"created": N, "events_since": T}              changes are followed through events
    {"created": N, "events_since": T,
     "to_read": [...], "newest_seen": M}           an events read in progress
    {"created": N, "at_cursor": ["id", ...]}       read by `created`: the ids of second N already emitted
    {..., "unavailable": {"checked": T, "reason": "Issuing is not enabled on this account",
                          "said": "<Stripe's message>"}}  not readable when last asked: ask again a day after T
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
STATE_KEYS = (*CURSOR_KEYS, "to_read", "at_cursor", "unavailable")
MAX_STATE_TEXT = 500  # characters of a reason or of Stripe's message kept in a state
MAX_AT_CURSOR = 100  # ids of the cursor's second a state keeps (source/cursors.py)


@dataclass(frozen=True)
class Unavailable:
    """What the last read learned: the account can't read the stream (a product not enabled)."""

    checked: int  # when (epoch seconds)
    reason: str  # in a few words: "Issuing is not enabled on this account"
    said: str  # Stripe's own message

    def to_dict(self) -> Dict[str, Any]:
        return {"checked": self.checked, "reason": self.reason, "said": self.said}


@dataclass
class Checkpoint:
    """One stream's state for one account (or the only one)."""

    created: Optional[int] = None  # every object created before it has been read (list reads)
    events_since: Optional[int] = None  # set once the list read completed: read events from here
    first_read_began: Optional[int] = None  # while a first list read is unfinished: when it began
    to_read: Optional[Tuple[Interval, ...]] = None  # a read in progress: the intervals still to read
    newest_seen: Optional[int] = None  # a read in progress: the newest `created` it has read
    at_cursor: Optional[Tuple[str, ...]] = None  # read by `created`: ids of the cursor's second already emitted
    unavailable: Optional[Unavailable] = None  # the account could not read the stream when last asked

    def to_dict(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {key: getattr(self, key) for key in CURSOR_KEYS if getattr(self, key) is not None}
        if self.to_read is not None:
            state["to_read"] = [list(interval) for interval in self.to_read]
        if self.at_cursor:
            state["at_cursor"] = list(self.at_cursor)
        if self.unavailable is not None:
            state["unavailable"] = self.unavailable.to_dict()
        return state

    @classmethod
    def parse(cls, stream_name: str, value: Any) -> "Checkpoint":
        if not value:
            return cls()
        if not isinstance(value, Mapping):
            raise ConfigError(f"The state of stream '{stream_name}' must be an object like {{\"created\": 1700000000}}.")
        cursors = {key: _epoch(stream_name, key, value.get(key)) for key in CURSOR_KEYS}
        return cls(
            **cursors,
            to_read=_intervals(stream_name, value.get("to_read")),
            at_cursor=_ids(stream_name, value.get("at_cursor")),
            unavailable=_unavailable(stream_name, value.get("unavailable")),
        )


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


def _ids(stream_name: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_AT_CURSOR or not all(isinstance(i, str) and 0 < len(i) <= 255 for i in value):
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid 'at_cursor': it must be a list of at most "
            f"{MAX_AT_CURSOR} object ids. Reset the stream to start over."
        )
    return tuple(value) or None


def _unavailable(stream_name: str, value: Any) -> Optional[Unavailable]:
    if value is None:
        return None
    texts = (value.get("reason"), value.get("said")) if isinstance(value, Mapping) else (None, None)
    if not all(isinstance(text, str) for text in texts):
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid 'unavailable': it must be an object with "
            "'checked' (epoch seconds), 'reason' and 'said' (text). Reset the stream to start over."
        )
    checked = _epoch(stream_name, "unavailable.checked", value.get("checked"))
    if checked is None:
        raise ConfigError(f"The state of stream '{stream_name}' has an 'unavailable' without 'checked'. Reset the stream to start over.")
    return Unavailable(checked, texts[0][:MAX_STATE_TEXT], texts[1][:MAX_STATE_TEXT])


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
