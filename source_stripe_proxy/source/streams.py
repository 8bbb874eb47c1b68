"""Stripe streams: one class, ``StripeStream``, instantiated once per ``stream_specs.StreamSpec``.

``plan_stream`` decides *what* to read for a stream, from its sync mode, its saved state and
the Connect accounts, and returns ``ReadPlan``s for the reader (``reader/``), one per account:

* full refresh, or a first incremental read: the list endpoint (for a child stream, its
  parent's list), cut into ``created`` windows that split themselves across workers.
* a read that was interrupted: only the intervals its state says are left (``to_read``).
* later incremental reads of a stream whose objects change (``spec.event_types``):
  ``/v1/events`` filtered by those types from ``events_since``, turned into records by
  ``events.EventChanges``. Immutable streams (balance transactions, events) keep reading
  by ``created``.
* state older than Stripe's event retention: a full re-read with a warning, or a
  config_error when ``on_stale_state`` is ``"fail"``. Never a silent skip.

The stream then follows the reader's signals (``apply``) to keep its state, whose shapes are
in ``state.py`` and docs/change_capture.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin, Stream

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.stripe_facts import EVENT_RETENTION_DAYS, MAX_PAGE_SIZE
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.events import ChildRecords, EventChanges, Stamp, chain
from source_stripe_proxy.source.options import ALL_ACCOUNTS, SECONDS_PER_DAY, ReadOptions
from source_stripe_proxy.source.reader import (
    EVENTS_PHASE,
    LIST_PHASE,
    Complete,
    ConcurrentReader,
    Failed,
    Progress,
    ReadPlan,
    Records,
)
from source_stripe_proxy.source.state import Checkpoint
from source_stripe_proxy.source.stream_specs import STREAM_SPECS, StreamSpec, changes_through_events

CURSOR_FIELD = "updated"  # the change cursor every record carries
EVENT_RETENTION_SECONDS = EVENT_RETENTION_DAYS * SECONDS_PER_DAY  # how long Stripe keeps events
STALE_MARGIN_SECONDS = 3600  # treat state as stale this long before Stripe drops the events
CLOCK_SKEW_SECONDS = 300  # our clock may run ahead of Stripe's; events are de-duplicated anyway

Warning = Tuple[str, str]  # (analytics kind, message), said before reading


@dataclass
class StreamPlan:
    """What ``plan_stream`` decided: the reads, the state they start from, what to warn about."""

    reads: List[ReadPlan]
    checkpoints: Dict[Optional[str], Checkpoint]
    warnings: List[Warning] = field(default_factory=list)


def plan_stream(
    spec: StreamSpec,
    client: StripeClient,
    options: ReadOptions,
    sync_mode: SyncMode,
    saved_state: Optional[Mapping[str, Any]],
    accounts: Optional[Tuple[str, ...]],
) -> StreamPlan:
    """The reads of one stream: one per account (or one), each of the list or of the events.
    Reads nothing and changes nothing; a state too old for events with ``on_stale_state:
    "fail"`` raises a ConfigError here, before any read."""
    per_account = options.account_ids is not None
    if per_account and accounts is None:
        raise ValueError("accounts must be resolved before planning a per-account read")
    checkpoints, warnings = parse_state(spec.name, saved_state, per_account)
    now = int(options.clock())
    reads = []
    for account in accounts if per_account else (None,):
        checkpoint, read, warning = _plan_account(spec, client, options, sync_mode, checkpoints.get(account, Checkpoint()), account, now)
        checkpoints[account] = checkpoint
        reads.append(read)
        warnings.extend(warning)
    return StreamPlan(reads, checkpoints, warnings)


def parse_state(name: str, value: Optional[Mapping[str, Any]], per_account: bool) -> Tuple[Dict[Optional[str], Checkpoint], List[Warning]]:
    if not per_account:
        return {None: Checkpoint.parse(name, value)}, []
    accounts = value.get("accounts") if isinstance(value, Mapping) else None
    if value and not isinstance(accounts, Mapping):
        # A single-account state can't say which account it belongs to: start each over.
        message = f"Stream '{name}': the saved state is not per account; every account is read from the start."
        return {}, [("state_not_per_account", message)]
    return {acct: Checkpoint.parse(f"{name}/{acct}", cp) for acct, cp in (accounts or {}).items()}, []


def _plan_account(
    spec: StreamSpec, client: StripeClient, options: ReadOptions, sync_mode: SyncMode, saved: Checkpoint, account: Optional[str], now: int
) -> Tuple[Checkpoint, ReadPlan, List[Warning]]:
    checkpoint = dataclasses.replace(saved)
    warnings: List[Warning] = []
    if sync_mode == SyncMode.incremental and changes_through_events(spec):
        anchor = checkpoint.events_since if checkpoint.events_since is not None else checkpoint.first_read_began
        if anchor is not None and anchor < now - EVENT_RETENTION_SECONDS + STALE_MARGIN_SECONDS:
            warnings.append(_stale(spec.name, options, account, now - anchor))
            checkpoint = Checkpoint()
        elif checkpoint.events_since is not None:
            return checkpoint, _events_read(spec, client, options, checkpoint, account, now), warnings
    else:
        checkpoint.events_since = None  # full refresh, or an immutable stream: `created` only
    return checkpoint, _list_read(spec, client, options, sync_mode, checkpoint, account, now), warnings


def _list_read(
    spec: StreamSpec, client: StripeClient, options: ReadOptions, sync_mode: SyncMode, checkpoint: Checkpoint, account: Optional[str], now: int
) -> ReadPlan:
    source = spec.source
    if changes_through_events(spec) and checkpoint.first_read_began is None:
        checkpoint.first_read_began = now - CLOCK_SKEW_SECONDS  # events from here follow this read
    if sync_mode == SyncMode.incremental and checkpoint.to_read is not None:
        intervals = checkpoint.to_read  # an interrupted read: only what it had left
    else:
        checkpoint.to_read = checkpoint.newest_seen = None
        start = options.start_date
        if sync_mode == SyncMode.incremental and checkpoint.created is not None:
            resume_from = max(0, checkpoint.created - options.lookback_seconds)
            start = resume_from if start is None else max(start, resume_from)
        if source.filters_created:
            intervals = tuple((w.get("created_gte"), w.get("created_lt")) for w in created_windows(start, now, options.window_seconds))
        else:
            intervals = ((None, None),)
    params: Dict[str, Any] = dict(source.params)
    if source.expand:
        params["expand"] = [f"data.{path}" for path in source.expand]
    return ReadPlan(
        name=spec.name,
        path=source.path,
        fixed_params=params,
        intervals=intervals,
        page_size=options.page_size,
        account_id=account,
        splittable=source.filters_created,
        transform=chain(_children(spec, client, options, account), _stamp(spec, client, account)),
        created_field=source.created_field,
        phase=LIST_PHASE,
        began=now,
        saved_cursor=checkpoint.created,
        saved_newest=checkpoint.newest_seen,
    )


def _events_read(spec: StreamSpec, client: StripeClient, options: ReadOptions, checkpoint: Checkpoint, account: Optional[str], now: int) -> ReadPlan:
    source = spec.source
    changes = EventChanges(
        source,
        client,
        refetch_always=options.refetch_always,
        account_id=account,
        min_created=options.start_date,
        children=_children(spec, client, options, account),  # a child stream: the changed parents' children, and removed ones
    )
    intervals = checkpoint.to_read if checkpoint.to_read is not None else ((checkpoint.events_since, None),)
    return ReadPlan(
        name=spec.name,
        path="/v1/events",
        fixed_params={"types": list(source.event_types)},
        intervals=intervals,
        page_size=options.page_size,
        account_id=account,
        splittable=False,  # newest first in one pass: the first event seen per object is its latest
        transform=chain(changes, _stamp(spec, client, account)),
        phase=EVENTS_PHASE,
        began=now,
        saved_cursor=checkpoint.events_since,
        saved_newest=checkpoint.newest_seen,
        # Stripe can list an event a moment after its `created`: an interrupted events read
        # leaves the last few minutes before it began to the next read.
        reread_from=now - CLOCK_SKEW_SECONDS,
    )


def _children(spec: StreamSpec, client: StripeClient, options: ReadOptions, account: Optional[str]) -> Optional[ChildRecords]:
    if spec.child_of is None:
        return None
    return ChildRecords(spec.child_of, client, page_size=options.page_size, account_id=account)


def _stamp(spec: StreamSpec, client: StripeClient, account: Optional[str]) -> Stamp:
    stamped_account = account if account is not None else client.settings.account_id
    return Stamp(spec.source.created_field, stamped_account, marks_deletes=spec.can_be_deleted)


def _stale(name: str, options: ReadOptions, account: Optional[str], age_seconds: int) -> Warning:
    whose = f"Stream '{name}'" + (f" of account {account}" if account else "")
    message = (
        f"{whose}: the saved state is {age_seconds // SECONDS_PER_DAY} days old, and Stripe keeps events for "
        f"only {EVENT_RETENTION_SECONDS // SECONDS_PER_DAY} days, so changes since then can't be read from events."
    )
    if options.fail_on_stale_state:
        raise ConfigError(
            message + " Reset the stream to read it again, or set 'on_stale_state' to 'full_refresh' to re-read it automatically."
        )
    return "stale_state_full_reread", message + " Re-reading the whole stream from its list endpoint instead."


def connected_accounts(client: StripeClient, account_ids: Optional[Tuple[str, ...]]) -> Optional[Tuple[str, ...]]:
    """The accounts to read: as configured, or for ``"all"`` every account ``/v1/accounts`` lists."""
    if account_ids != ALL_ACCOUNTS:
        return account_ids
    return tuple(account["id"] for account in client.list_objects("/v1/accounts", page_size=MAX_PAGE_SIZE))


class StripeStream(Stream, CheckpointMixin):
    """Any stream of ``STREAM_SPECS``: plans its reads (``plan_stream``) and keeps its state."""

    cursor_field = CURSOR_FIELD

    def __init__(self, spec: StreamSpec, client: StripeClient, options: ReadOptions):
        self.spec = spec
        self.client = client
        self.options = options
        self.warnings: List[Warning] = []  # said before reading
        self._checkpoints: Dict[Optional[str], Checkpoint] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def per_account(self) -> bool:
        return self.options.account_ids is not None

    @property
    def primary_key(self) -> Any:
        return [["account_id"], ["id"]] if self.per_account else "id"

    def get_json_schema(self) -> Mapping[str, Any]:
        return load_schema(self.name)

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self.per_account:
            return {"accounts": {acct: cp.to_dict() for acct, cp in sorted(self._checkpoints.items()) if cp.to_dict()}}
        checkpoint = self._checkpoints.get(None)
        return checkpoint.to_dict() if checkpoint else {}

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        self._checkpoints, warnings = parse_state(self.name, value, self.per_account)
        self.warnings.extend(warnings)

    def checkpoint(self, account_id: Optional[str]) -> Checkpoint:
        return self._checkpoints.setdefault(account_id, Checkpoint())

    def plan(self, sync_mode: SyncMode, saved_state: Optional[Mapping[str, Any]], accounts: Optional[Tuple[str, ...]]) -> List[ReadPlan]:
        """Plan this stream's reads (``plan_stream``) and start its state from the plan's."""
        planned = plan_stream(self.spec, self.client, self.options, sync_mode, saved_state, accounts)
        self._checkpoints = planned.checkpoints
        self.warnings = list(planned.warnings)
        return planned.reads

    def apply(self, signal: Any) -> None:
        """Follow a ``Progress`` or ``Complete`` signal of one of this stream's reads."""
        if isinstance(signal, Progress):
            self._progress(signal)
        elif isinstance(signal, Complete):
            self._finish(signal.plan)

    def _progress(self, progress: Progress) -> None:
        checkpoint = self.checkpoint(progress.plan.account_id)
        if progress.plan.phase == LIST_PHASE and progress.cursor is not None:
            checkpoint.created = progress.cursor
        checkpoint.newest_seen = progress.newest
        checkpoint.to_read = progress.to_read

    def _finish(self, plan: ReadPlan) -> None:
        """A read completed: a list read keeps its newest `created`, and a first one hands over
        to events from when it began; an events read advances `events_since`."""
        checkpoint = self.checkpoint(plan.account_id)
        newest = checkpoint.newest_seen
        checkpoint.to_read = checkpoint.newest_seen = None
        if plan.phase == EVENTS_PHASE:
            if newest is not None:
                # Stripe can list an event a moment after its `created`: the next read overlaps the
                # last few minutes instead of trusting the newest event seen (records are de-duplicated).
                began = plan.began if plan.began is not None else newest
                checkpoint.events_since = max(checkpoint.events_since or 0, min(newest, began - CLOCK_SKEW_SECONDS))
            return
        if newest is not None and (checkpoint.created is None or newest > checkpoint.created):
            checkpoint.created = newest
        if checkpoint.first_read_began is not None:
            checkpoint.events_since, checkpoint.first_read_began = checkpoint.first_read_began, None

    # -- the CDK's per-stream entry point (the source itself reads all streams at once) -----

    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        yield None

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """The same plan and reader as ``SourceStripeProxy.read``, one stream, one worker."""
        saved = stream_state if stream_state is not None else self.state
        accounts = connected_accounts(self.client, self.options.account_ids)
        reads = self.plan(sync_mode, saved if sync_mode == SyncMode.incremental else None, accounts)
        for signal in ConcurrentReader(self.client, concurrency=1).run(reads):
            if isinstance(signal, Records):
                yield from signal.records
            elif isinstance(signal, Failed):
                raise signal.error
            else:
                self.apply(signal)


def build_streams(client: StripeClient, options: ReadOptions) -> List[StripeStream]:
    return [StripeStream(spec, client, options) for spec in STREAM_SPECS.values()]


def created_windows(start: Optional[int], now: int, window_seconds: int) -> Iterable[Mapping[str, Any]]:
    """``[start, start+w), ..., [last, open)``; a single unfiltered window when there is no start."""
    if start is None:
        yield {}
        return
    lower = start
    while lower + window_seconds < now:
        yield {"created_gte": lower, "created_lt": lower + window_seconds}
        lower += window_seconds
    yield {"created_gte": lower}
