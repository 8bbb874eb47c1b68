"""A stream's saved state, parsed and checked; see docs/change_capture.md for its shapes.

    {"created": N}                                 immutable streams; also the old shape
    {"created": N, "first_read_began": T}          a first list read in progress
    {"created": N, "events_since": T}              changes are followed through events
    {"accounts": {"acct_1": {...}, ...}}           the same, per account, with `account_ids`
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from source_stripe_proxy.core.errors import ConfigError

FUTURE_TOLERANCE_SECONDS = 86_400  # clock skew between machines is fine; a cursor days ahead is not
STATE_KEYS = ("created", "events_since", "first_read_began")


@dataclass
class Checkpoint:
    """One stream's state for one account (or the only one)."""

    created: Optional[int] = None  # newest `created` of a complete prefix of the list read
    events_since: Optional[int] = None  # set once the list read completed: read events from here
    first_read_began: Optional[int] = None  # while a list read is unfinished: when it began

    def to_dict(self) -> Dict[str, int]:
        return {key: getattr(self, key) for key in STATE_KEYS if getattr(self, key) is not None}

    @classmethod
    def parse(cls, stream_name: str, value: Any) -> "Checkpoint":
        if not value:
            return cls()
        if not isinstance(value, Mapping):
            raise ConfigError(f"The state of stream '{stream_name}' must be an object like {{\"created\": 1700000000}}.")
        return cls(**{key: _epoch(stream_name, key, value.get(key)) for key in STATE_KEYS})

def parse_cursor(stream_name: str, value: Any) -> Optional[int]:
    """The ``created`` cursor of a state (``{"created": 1700000000}``, also as a numeric string)."""
    return Checkpoint.parse(stream_name, value).created

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
