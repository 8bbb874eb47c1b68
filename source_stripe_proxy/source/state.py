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
    {"accounts": {"acct_1": {...}, ...}}           the same, per account, with `account_ids` (before 2026-12)
    {"common": {...}, "known": "1Ab 2Cd",
     "groups": [...], "differ": {"acct_3Ef": {...}}}   per account, compact (``pack_accounts``)

``to_read`` lists ``[created_gte, created_lt]`` pairs, ``null`` for unbounded, merged and
capped (``reader.progress.MAX_STATE_INTERVALS``). ``created`` keeps its old meaning (every
object created before it was read), so code that does not know ``to_read`` resumes safely.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.reader.progress import Interval, cap_intervals

FUTURE_TOLERANCE_SECONDS = 86_400  # clock skew between machines is fine; a cursor days ahead is not
CURSOR_KEYS = ("created", "events_since", "first_read_began", "newest_seen")
STATE_KEYS = (*CURSOR_KEYS, "to_read", "at_cursor", "unavailable")
MAX_STATE_TEXT = 500  # characters of a reason or of Stripe's message kept in a state
MAX_AT_CURSOR = 100  # ids of the cursor's second a state keeps (source/cursors.py)
ACCOUNT_PREFIX = "acct_"  # every Connect account id's; "known" lists the ids without it
COMPACT_KEYS = ("common", "known", "groups", "differ")  # the compact per-account shape
_ID_TAIL = re.compile(r"[A-Za-z0-9]+")
PlanWarning = tuple[str, str]  # (analytics kind, message), said before reading


@dataclass(frozen=True)
class Unavailable:
    """What the last read learned: the account can't read the stream (a product not enabled)."""

    checked: int  # when (epoch seconds)
    reason: str  # in a few words: "Issuing is not enabled on this account"
    said: str  # Stripe's own message

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "reason": self.reason, "said": self.said}


@dataclass
class Checkpoint:
    """One stream's state for one account (or the only one)."""

    created: int | None = None  # every object created before it has been read (list reads)
    events_since: int | None = None  # set once the list read completed: read events from here
    first_read_began: int | None = None  # while a first list read is unfinished: when it began
    to_read: tuple[Interval, ...] | None = None  # a read in progress: the intervals still to read
    newest_seen: int | None = None  # a read in progress: the newest `created` it has read
    at_cursor: tuple[str, ...] | None = None  # read by `created`: ids of the cursor's second already emitted
    unavailable: Unavailable | None = None  # the account could not read the stream when last asked

    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {key: getattr(self, key) for key in CURSOR_KEYS if getattr(self, key) is not None}
        if self.to_read is not None:
            state["to_read"] = [list(interval) for interval in self.to_read]
        if self.at_cursor:
            state["at_cursor"] = list(self.at_cursor)
        if self.unavailable is not None:
            state["unavailable"] = self.unavailable.to_dict()
        return state

    @classmethod
    def parse(cls, stream_name: str, value: Any) -> Checkpoint:
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


def parse_cursor(stream_name: str, value: Any) -> int | None:
    """The ``created`` cursor of a state (``{"created": 1700000000}``, also as a numeric string)."""
    return Checkpoint.parse(stream_name, value).created


def _intervals(stream_name: str, value: Any) -> tuple[Interval, ...] | None:
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


def _ids(stream_name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_AT_CURSOR or not all(isinstance(i, str) and 0 < len(i) <= 255 for i in value):
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid 'at_cursor': it must be a list of at most "
            f"{MAX_AT_CURSOR} object ids. Reset the stream to start over."
        )
    return tuple(value) or None


def _unavailable(stream_name: str, value: Any) -> Unavailable | None:
    if value is None:
        return None
    reason, said = (value.get("reason"), value.get("said")) if isinstance(value, Mapping) else (None, None)
    if not isinstance(reason, str) or not isinstance(said, str):
        raise ConfigError(
            f"The state of stream '{stream_name}' has an invalid 'unavailable': it must be an object with "
            "'checked' (epoch seconds), 'reason' and 'said' (text). Reset the stream to start over."
        )
    checked = _epoch(stream_name, "unavailable.checked", value.get("checked"))
    if checked is None:
        raise ConfigError(f"The state of stream '{stream_name}' has an 'unavailable' without 'checked'. Reset the stream to start over.")
    return Unavailable(checked, reason[:MAX_STATE_TEXT], said[:MAX_STATE_TEXT])


def _epoch(stream_name: str, key: str, value: Any) -> int | None:
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


# -- per Connect account -----------------------------------------------------------------------
#
# After a first read every account's checkpoint is mostly the same (its events cursor is the
# sync's start), so a stream's state says what the accounts share once and, per account, only
# what differs:
#
#     {"common": {"events_since": T},               the fields most accounts share
#      "known": "1AbC 2dEf ...",                   accounts whose checkpoint is exactly `common`,
#                                                  ids without "acct_", sorted, space-separated
#      "groups": [{"fields": {"events_since": T2},  accounts that differ from `common` alike (midway
#                  "known": "4IjK 5lMn ..."}],      through a sync, those already done): `common`
#                                                  with these fields changed (null removes one)
#      "differ": {"acct_3Gh": {"to_read": [...],   each other account: `common` with its own
#                              "events_since": null}}}    fields changed
#
# An account in none of them has never been read: it gets a first read. Any field
# of ``Checkpoint.to_dict()`` is carried, whatever it is. A release that knows only the older
# ``{"accounts": {...}}`` shape finds no `accounts` here and reads every account from the start:
# more requests, nothing lost.


def pack_accounts(checkpoints: Mapping[str, Checkpoint]) -> dict[str, Any]:
    """The compact per-account state of ``checkpoints`` (accounts with an empty one are left out:
    nothing of them was read, so they get a first read next time)."""
    return pack_states({account: checkpoint.to_dict() for account, checkpoint in checkpoints.items()})


def unpack_accounts(stream_name: str, value: Mapping[str, Any]) -> dict[str, Checkpoint]:
    """Each account's checkpoint from the compact shape; bad parts are config errors that name the part."""
    return {account: Checkpoint.parse(f"{stream_name}/{account}", state) for account, state in unpack_states(stream_name, value).items()}


def pack_states(states: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``pack_accounts`` on plain checkpoint dicts, whatever their fields."""
    states = {account: state for account, state in states.items() if state}
    if not states:
        return {}
    common = _shared_fields(states.values())
    alike: dict[str, tuple[dict[str, Any], list[str]]] = {}  # a delta's JSON -> (the delta, its accounts' tails)
    differ: dict[str, dict[str, Any]] = {}
    for account in sorted(states):
        delta = {key: value for key, value in states[account].items() if common.get(key, _ABSENT) != value}
        delta.update({key: None for key in common if key not in states[account]})
        if _compact(account):
            alike.setdefault(json.dumps(delta, sort_keys=True), (delta, []))[1].append(account[len(ACCOUNT_PREFIX) :])
        else:
            differ[account] = delta
    known = alike.pop(json.dumps({}), ({}, []))[1]
    packed: dict[str, Any] = {"common": common, "known": " ".join(known)}
    for delta, tails in alike.values():
        if len(tails) == 1:
            differ[ACCOUNT_PREFIX + tails[0]] = delta
        else:
            packed.setdefault("groups", []).append({"fields": delta, "known": " ".join(tails)})
    if differ:
        packed["differ"] = dict(sorted(differ.items()))
    return packed


def unpack_states(stream_name: str, value: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each account's checkpoint dict from the compact shape (``common`` with the fields of its
    group or of its ``differ`` entry changed)."""
    common, known, groups, differ = (
        value[key] if value.get(key) is not None else empty for key, empty in zip(COMPACT_KEYS, ({}, "", [], {}), strict=True)
    )
    if not isinstance(common, Mapping):
        raise ConfigError(_bad_part(stream_name, "common", "an object of checkpoint fields"))
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) and isinstance(g.get("fields"), Mapping) for g in groups):
        raise ConfigError(_bad_part(stream_name, "groups", "a list of objects with 'fields' (checkpoint fields) and 'known' (account ids)"))
    if not isinstance(differ, Mapping) or not all(isinstance(delta, Mapping) for delta in differ.values()):
        raise ConfigError(_bad_part(stream_name, "differ", "an object of account ids to objects of checkpoint fields"))
    states: dict[str, dict[str, Any]] = {}
    for fields, tails in [({}, known), *((g["fields"], g.get("known") or "") for g in groups)]:
        if not isinstance(tails, str) or not all(_ID_TAIL.fullmatch(tail) for tail in tails.split()):
            raise ConfigError(_bad_part(stream_name, "known", "account ids without their 'acct_' prefix, separated by spaces"))
        states.update((ACCOUNT_PREFIX + tail, _changed(common, fields)) for tail in tails.split())
    states.update((account, _changed(common, delta)) for account, delta in differ.items())
    return states


def _changed(common: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**common, **fields}
    return {key: value for key, value in merged.items() if value is not None}


def parse_state(name: str, value: Mapping[str, Any] | None, per_account: bool) -> tuple[dict[str | None, Checkpoint], list[PlanWarning]]:
    """A stream's saved state, in any shape it was ever written in: account -> checkpoint
    (``None`` for the only account without ``account_ids``), and what to warn about."""
    if not value:
        return ({}, []) if per_account else ({None: Checkpoint()}, [])
    if not isinstance(value, Mapping):
        Checkpoint.parse(name, value)  # raises: it says what a state must be
    shaped_per_account = any(key in value for key in (*COMPACT_KEYS, "accounts"))
    if not per_account:
        if shaped_per_account:
            message = f"Stream '{name}': the saved state is per Connect account, but 'account_ids' is not set; it is read from the start."
            return {None: Checkpoint()}, [("state_per_account", message)]
        return {None: Checkpoint.parse(name, value)}, []
    if any(key in value for key in COMPACT_KEYS):
        by_account: dict[str | None, Checkpoint] = dict(unpack_accounts(name, value).items())
        return by_account, []
    accounts = value.get("accounts")
    if not isinstance(accounts, Mapping):
        # A single-account state can't say which account it belongs to: start each over.
        message = f"Stream '{name}': the saved state is not per account; every account is read from the start."
        return {}, [("state_not_per_account", message)]
    return {acct: Checkpoint.parse(f"{name}/{acct}", cp) for acct, cp in accounts.items()}, []


_ABSENT = object()


def _shared_fields(states: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Each field's most frequent value, where more accounts have it than lack it."""
    states = list(states)
    counts: dict[str, Counter] = {}
    values: dict[tuple[str, str], Any] = {}
    for state in states:
        for key, value in state.items():
            encoded = json.dumps(value, sort_keys=True)
            counts.setdefault(key, Counter())[encoded] += 1
            values[(key, encoded)] = value
    shared = {}
    for key, counter in counts.items():
        encoded, count = counter.most_common(1)[0]
        if count > len(states) - sum(counter.values()):
            shared[key] = values[(key, encoded)]
    return shared


def _compact(account: str) -> bool:
    return account.startswith(ACCOUNT_PREFIX) and bool(_ID_TAIL.fullmatch(account[len(ACCOUNT_PREFIX) :]))


def _bad_part(stream_name: str, part: str, allowed: str) -> str:
    return f"The state of stream '{stream_name}' has an invalid '{part}': it must be {allowed}. Reset the stream to start over."
