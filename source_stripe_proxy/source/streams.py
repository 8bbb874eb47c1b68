"""Stripe streams: one class, ``StripeStream``, instantiated once per ``stream_specs.StreamSpec``.

``plan_stream`` decides *what* to read for a stream, from its sync mode, its saved state and
the Connect accounts, and returns ``ReadPlan``s for the reader (``reader/``), one per account:

* full refresh, or a first incremental read: the list endpoint of the stream's top ancestor
  (its own for a top-level stream), cut into ``created`` windows that split themselves across
  workers; a child stream's records come from its parents (``children.Descent``). The reader
  reads a parent list once for the parent stream and every selected child: their plans share
  a ``read_key``.
* a read that was interrupted: only the intervals its state says are left (``to_read``).
* later incremental reads of a stream that follows events (its own, its parent's, or events
  that name a parent to re-list): ``/v1/events`` from ``events_since``, turned into records by
  ``events.EventChanges``. The source reads the events once for every such stream
  (``events_read.py``). Streams read by ``created`` keep reading by ``created``.
* state older than Stripe's event retention: a full re-read with a warning, or a
  config_error when ``on_stale_state`` is ``"fail"``. Never a silent skip.

The stream then follows the reader's signals (``apply``) to keep its state, whose shapes are
in ``state.py`` and docs/change_capture.md.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin, Stream

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.endpoints import fill_path
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.stripe_facts import EVENT_RETENTION_DAYS
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.accounts import connected_accounts
from source_stripe_proxy.source.availability import StreamUnavailable, learned, still_unavailable
from source_stripe_proxy.source.children import ChildLink, ChildPages, Descent
from source_stripe_proxy.source.cursors import CLOCK_SKEW_SECONDS, Boundary, next_cursor, reads_up_to_now
from source_stripe_proxy.source.events import EventChanges, Stamp, chain
from source_stripe_proxy.source.events_read import EVENTS_PATH
from source_stripe_proxy.source.options import SECONDS_PER_DAY, ReadOptions
from source_stripe_proxy.source.reader import (
    EVENTS_PHASE,
    LIST_PHASE,
    Complete,
    ConcurrentReader,
    Failed,
    Interval,
    Progress,
    ReadPlan,
    Records,
)
from source_stripe_proxy.source.state import Checkpoint, PlanWarning, pack_accounts, parse_state
from source_stripe_proxy.source.stream_specs import CREATED, STREAM_SPECS, StreamSpec, changes_through_events

CURSOR_FIELD = "updated"  # the change cursor every record carries
EVENT_RETENTION_SECONDS = EVENT_RETENTION_DAYS * SECONDS_PER_DAY  # how long Stripe keeps events
STALE_MARGIN_SECONDS = 3600  # treat state as stale this long before Stripe drops the events


@dataclass
class ReadContext:
    """What the plans of one sync share: the client, the options, the pool for child streams'
    requests, and the account read when a path names it (external accounts) without ``account_ids``."""

    client: StripeClient
    options: ReadOptions
    pages: ChildPages
    own_account: str | None = None
    selected: frozenset[str] = frozenset()  # the streams of the sync: which included lists a parent list asks for

    @classmethod
    def for_sync(
        cls,
        client: StripeClient,
        options: ReadOptions,
        concurrency: int,
        own_account: str | None = None,
        selected: Iterable[str] = (),
    ) -> ReadContext:
        return cls(client, options, ChildPages(client, concurrency, options.page_size), own_account, frozenset(selected))


@dataclass
class StreamPlan:
    """What ``plan_stream`` decided: the reads, the state they start from, what to warn about."""

    reads: list[ReadPlan]
    checkpoints: dict[str | None, Checkpoint]
    warnings: list[PlanWarning] = field(default_factory=list)
    boundaries: dict[str | None, Boundary] = field(default_factory=dict)  # streams read by `created`: the next cursor
    unavailable: dict[str | None, StreamUnavailable] = field(default_factory=dict)  # accounts not read: known unreadable
    dropped: tuple[str, ...] = ()  # accounts of the saved state not read any more: their state is dropped


def plan_stream(
    spec: StreamSpec,
    context: ReadContext,
    sync_mode: SyncMode,
    saved_state: Mapping[str, Any] | None,
    accounts: tuple[str, ...] | None,
) -> StreamPlan:
    """The reads of one stream: one per account (or one), each of the list or of the events.
    Reads nothing and changes nothing; a state too old for events with ``on_stale_state:
    "fail"`` raises a ConfigError here, before any read. Accounts of the saved state that are
    not read any more (disconnected, or taken out of ``account_ids``) are left out of the
    plan's state and named in ``dropped``."""
    options = context.options
    per_account = options.account_ids is not None
    if per_account and accounts is None:
        raise ValueError("accounts must be resolved before planning a per-account read")
    if not spec.incremental:
        sync_mode = SyncMode.full_refresh  # the stream has no cursor: every read is a full one
    saved, warnings = _saved_state(spec.name, saved_state, per_account, sync_mode)
    now = int(options.clock())
    planned = StreamPlan([], {}, warnings)
    read_now: tuple[str | None, ...] = accounts if accounts is not None and per_account else (None,)
    for account in read_now:
        checkpoint, read, warning = _plan_account(spec, context, sync_mode, saved.get(account, Checkpoint()), account, now, planned)
        planned.checkpoints[account] = checkpoint
        if read is not None:
            planned.reads.append(read)
        warnings.extend(warning)
    incremental = sync_mode == SyncMode.incremental  # a full refresh's state only says what is unreadable
    gone = (account for account in set(saved) - set(read_now) if account is not None)  # a per-account state's keys are ids
    planned.dropped = tuple(sorted(gone)) if per_account and incremental else ()
    return planned


def _saved_state(
    name: str, value: Mapping[str, Any] | None, per_account: bool, sync_mode: SyncMode
) -> tuple[dict[str | None, Checkpoint], list[PlanWarning]]:
    """The saved state a read starts from. A full refresh starts over and keeps only what the
    accounts can't read (``unavailable``): a state it can't parse is ignored, not an error."""
    if sync_mode == SyncMode.incremental:
        return parse_state(name, value, per_account)
    try:
        saved, _ = parse_state(name, value, per_account)
    except ConfigError:
        saved = {}
    return {account: Checkpoint(unavailable=checkpoint.unavailable) for account, checkpoint in saved.items()}, []


def _plan_account(
    spec: StreamSpec, context: ReadContext, sync_mode: SyncMode, saved: Checkpoint, account: str | None, now: int, planned: StreamPlan
) -> tuple[Checkpoint, ReadPlan | None, list[PlanWarning]]:
    """The account's read of the stream and the state it starts from; no read when the account
    could not read the stream less than a day ago (``availability.still_unavailable``)."""
    # A full refresh starts over, but remembers what the account can't read.
    checkpoint = dataclasses.replace(saved) if sync_mode == SyncMode.incremental else Checkpoint(unavailable=saved.unavailable)
    known = still_unavailable(spec, checkpoint.unavailable, now)
    if known is not None:
        planned.unavailable[account] = known  # reported as before, without asking Stripe again today
        return checkpoint, None, []
    warnings: list[PlanWarning] = []
    if sync_mode == SyncMode.incremental and changes_through_events(spec):
        anchor = checkpoint.events_since if checkpoint.events_since is not None else checkpoint.first_read_began
        if anchor is not None and anchor < now - EVENT_RETENTION_SECONDS + STALE_MARGIN_SECONDS:
            warnings.append(_stale(spec.name, context.options, account, now - anchor))
            checkpoint = Checkpoint(unavailable=checkpoint.unavailable)
        elif checkpoint.events_since is not None:
            return checkpoint, _events_read(spec, context, checkpoint, account, now), warnings
    else:
        checkpoint.events_since = None  # full refresh, or a stream read by `created`: no events
    return checkpoint, _list_read(spec, context, sync_mode, checkpoint, account, now, planned), warnings


def reads_by_own_created(spec: StreamSpec) -> bool:
    """A child stream read by its own ``created`` (setup attempts): a parent of any age may have
    new children, so each read lists every parent and keeps the children created since the cursor.
    Not a child ``dated_by_parent`` (a payout's transactions, created before they join it): its
    cursor is its parents' ``created``, and a read lists all the children of the new parents."""
    return spec.changes == CREATED and spec.parent is not None and not spec.dated_by_parent


def _list_read(
    spec: StreamSpec,
    context: ReadContext,
    sync_mode: SyncMode,
    checkpoint: Checkpoint,
    account: str | None,
    now: int,
    planned: StreamPlan,
) -> ReadPlan:
    options = context.options
    source = spec.source
    incremental = sync_mode == SyncMode.incremental
    if changes_through_events(spec) and checkpoint.first_read_began is None:
        checkpoint.first_read_began = now - CLOCK_SKEW_SECONDS  # events from here follow this read
    splittable = bool(source.filters_created and source.created_field)
    resumed = incremental and checkpoint.to_read is not None
    boundary = _boundary(spec, options, incremental and not resumed, checkpoint)
    if resumed and checkpoint.to_read is not None:
        intervals = checkpoint.to_read  # an interrupted read: only what it had left
    else:
        intervals = _fresh_intervals(spec, options, incremental, checkpoint, now, splittable)
        checkpoint.to_read = checkpoint.newest_seen = None
    if boundary is not None:
        planned.boundaries[account] = boundary  # where the next read starts, at the end
    descent = _descent(spec, context, incremental, checkpoint, account, now, group=intervals)
    params: dict[str, Any] = dict(source.params)
    expand = [f"data.{path}" for path in (*source.expand, *included_lists(source, context.selected))]
    if expand:
        params["expand"] = expand
    return ReadPlan(
        name=spec.name,
        path=path_for_account(source, context, account),
        fixed_params=params,
        intervals=intervals,
        page_size=options.page_size,
        account_id=account,
        splittable=splittable,
        transform=chain(boundary, descent, _stamp(spec, context, account, now))
        if spec.dated_by_parent
        else chain(descent, boundary, _stamp(spec, context, account, now)),
        created_field=source.created_field or "created",
        paged=source.paged,
        phase=LIST_PHASE,
        began=now,
        saved_cursor=None if reads_by_own_created(spec) else checkpoint.created,
        saved_newest=checkpoint.newest_seen,
    )


def _fresh_intervals(
    spec: StreamSpec, options: ReadOptions, incremental: bool, checkpoint: Checkpoint, now: int, splittable: bool
) -> tuple[Interval, ...]:
    """The ``created`` ranges of a read that starts afresh. From a saved cursor (less the
    lookback): windows of ``slice_range_days`` up to now, each saved when complete. A first read
    or a full refresh: one range from ``start_date``, which the reader splits where it finds
    objects and checkpoints as it goes, so the empty years before an account's first object cost
    no request. A child read by its own ``created`` lists every parent."""
    own_created = reads_by_own_created(spec)
    start = None if own_created else options.start_date
    if incremental and checkpoint.created is not None and not own_created:
        resume_from = max(0, checkpoint.created - options.lookback_seconds)
        start = resume_from if start is None else max(start, resume_from)
    if not splittable:
        return ((None, None),)
    if not incremental or checkpoint.created is None:  # a full refresh, or a first read: one range
        return ((start, None),)
    return tuple((w.get("created_gte"), w.get("created_lt")) for w in created_windows(start, now, options.window_seconds))


def _boundary(spec: StreamSpec, options: ReadOptions, from_cursor: bool, checkpoint: Checkpoint) -> Boundary | None:
    """For a stream read by ``created``: the transform that keeps its cursor's second
    (``cursors.py``), dropping what the last read emitted of that second when this read starts
    exactly there (no lookback, no later ``start_date``). A child ``dated_by_parent``: of its
    parents (the payouts whose transactions were emitted), before it descends to the children."""
    created_field = spec.source.created_field if spec.dated_by_parent else spec.created_field
    if spec.changes != CREATED or not created_field:
        return None
    cursor = checkpoint.created
    exact = from_cursor and cursor is not None and not options.lookback_seconds and (options.start_date or 0) <= cursor
    return Boundary(created_field, cursor if exact else None, checkpoint.at_cursor or ())


def included_lists(source: StreamSpec, selected: Iterable[str]) -> list[str]:
    """The lists Stripe includes in ``source``'s objects when asked that the selected streams
    read (a customer's ``sources`` for its cards, bank accounts and sources; its ``tax_ids``):
    every plan of the list asks for the same, so the list is still read once for all of them."""
    fields: set[str] = set()
    for name in selected:
        spec = STREAM_SPECS.get(name)
        if spec is not None and spec.parent is not None and spec.source.name == source.name:
            link = spec.ancestry[1].parent  # the level right below the list read
            if link is not None and link.includable and link.expand and link.stream == source.name:
                fields.add(link.expand)
    return sorted(fields)


def _descent(
    spec: StreamSpec,
    context: ReadContext,
    incremental: bool,
    checkpoint: Checkpoint,
    account: str | None,
    now: int,
    group: Any = None,
) -> Descent | None:
    """A child stream's way down from its top ancestor's objects (None for a top-level stream).
    ``group``: its plan's intervals (plans reading the same parents share their child lists)."""
    if spec.parent is None:
        return None
    options = context.options
    min_created = None
    if reads_by_own_created(spec):  # only the children created since the cursor, of parents of any age
        since = checkpoint.created - options.lookback_seconds if incremental and checkpoint.created is not None else None
        bounds = [b for b in (options.start_date, since) if b is not None]
        min_created = max(bounds) if bounds else None
    elif spec.dated_by_parent:  # every child of the parents read, none from before the start date
        min_created = options.start_date
    return Descent(spec, context.pages, account, now=now, start=options.start_date, min_created=min_created, group=group)


def _events_read(spec: StreamSpec, context: ReadContext, checkpoint: Checkpoint, account: str | None, now: int) -> ReadPlan:
    options = context.options
    link = None
    if spec.parent is not None and (spec.follows_parent_events or spec.refresh):
        link = ChildLink(spec, context.pages, account, now=now, start=options.start_date)
    changes = EventChanges(
        spec,
        context.client,
        refetch_always=options.refetch_always,
        account_id=account,
        min_created=options.start_date,
        link=link,  # a child stream: the changed parents' children, and removed ones
    )
    intervals = checkpoint.to_read if checkpoint.to_read is not None else ((checkpoint.events_since, None),)
    return ReadPlan(
        name=spec.name,
        path=EVENTS_PATH,
        fixed_params={"types": list(changes.types)},  # share_events_read makes one read of every stream's
        intervals=intervals,
        page_size=options.page_size,
        account_id=account,
        splittable=False,  # newest first in one pass: the first event seen per object is its latest
        transform=chain(changes, _stamp(spec, context, account, now)),
        phase=EVENTS_PHASE,
        began=now,
        saved_cursor=checkpoint.events_since,
        saved_newest=checkpoint.newest_seen,
        # Stripe can list an event a moment after its `created`: an interrupted events read
        # leaves the last few minutes before it began to the next read.
        reread_from=now - CLOCK_SKEW_SECONDS,
        accepts=changes.accepts,
    )


def path_for_account(spec: StreamSpec, context: ReadContext, account: str | None) -> str:
    """A path that names the account read (``/v1/accounts/{account}/external_accounts``), filled."""
    if not spec.account_path_param:
        return spec.path
    named = account or context.client.settings.account_id or context.own_account
    if not named:
        raise ValueError(f"stream {spec.name} needs the account read resolved before planning")
    return fill_path(spec.path, {spec.account_path_param: named})


def needs_own_account(spec: StreamSpec) -> bool:
    """Whether planning the stream needs the id of the account read (``GET /v1/account``)."""
    return bool(spec.source.account_path_param)


def _stamp(spec: StreamSpec, context: ReadContext, account: str | None, now: int) -> Stamp:
    stamped_account = account if account is not None else context.client.settings.account_id
    return Stamp(spec.created_field, stamped_account, marks_deletes=spec.can_be_deleted, fallback=now)


def _stale(name: str, options: ReadOptions, account: str | None, age_seconds: int) -> PlanWarning:
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


def own_account_id(client: StripeClient) -> str:
    """The id of the account the key (or ``account_id``) reads: ``GET /v1/account``."""
    return client.settings.account_id or client.get("/v1/account")["id"]


class StripeStream(Stream, CheckpointMixin):
    """Any stream of ``STREAM_SPECS``: plans its reads (``plan_stream``) and keeps its state."""

    def __init__(self, spec: StreamSpec, client: StripeClient, options: ReadOptions):
        self.spec = spec
        self.client = client
        self.options = options
        self.warnings: list[PlanWarning] = []  # said before reading
        self.dropped: tuple[str, ...] = ()  # accounts of the saved state the last plan no longer reads
        self._checkpoints: dict[str | None, Checkpoint] = {}
        self._boundaries: dict[str | None, Boundary] = {}
        self.known_unavailable: dict[str | None, StreamUnavailable] = {}  # accounts not read this sync, and why
        self._planned_at = time.monotonic()

    @property
    def cursor_field(self) -> Any:
        """The catalogue's cursor (``updated`` for streams that follow events, ``created`` for
        those read by it); none for a stream only a full refresh can read."""
        return self.spec.cursor or []

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def per_account(self) -> bool:
        return self.options.account_ids is not None

    @property
    def primary_key(self) -> Any:
        key = [[field] for field in self.spec.primary_key]
        if self.per_account:
            return [["account_id"], *key]
        return key[0][0] if len(key) == 1 else key

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache; load_schema caches ours
        return load_schema(self.name)

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self.per_account:  # what the accounts share once, what differs per account
            return pack_accounts({account: cp for account, cp in self._checkpoints.items() if account is not None})
        checkpoint = self._checkpoints.get(None)
        return checkpoint.to_dict() if checkpoint else {}

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        self._checkpoints, warnings = parse_state(self.name, value, self.per_account)
        self.warnings.extend(warnings)

    def checkpoint(self, account_id: str | None) -> Checkpoint:
        return self._checkpoints.setdefault(account_id, Checkpoint())

    def forget(self, account_id: str) -> None:
        """Drop an account from the state (it was disconnected): a new connection reads it whole."""
        self._checkpoints.pop(account_id, None)
        self._boundaries.pop(account_id, None)

    def plan(
        self, context: ReadContext, sync_mode: SyncMode, saved_state: Mapping[str, Any] | None, accounts: tuple[str, ...] | None
    ) -> list[ReadPlan]:
        """Plan this stream's reads (``plan_stream``) and start its state from the plan's."""
        self._planned_at = time.monotonic()  # when its reads began, for Stripe's clock (``_read_everything_before``)
        planned = plan_stream(self.spec, context, sync_mode, saved_state, accounts)
        self._checkpoints = planned.checkpoints
        self._boundaries = planned.boundaries
        self.known_unavailable = planned.unavailable
        self.warnings = list(planned.warnings)
        self.dropped = planned.dropped
        return planned.reads

    def apply(self, signal: Any) -> bool:
        """Follow a ``Progress``, ``Complete`` or ``Failed`` signal of one of this stream's reads;
        True when its state changed (a failure: only when it taught what the account can't read)."""
        if isinstance(signal, Failed):
            return self._learn(signal)
        if isinstance(signal, Progress):
            self._progress(signal)
        elif isinstance(signal, Complete):
            self._finish(signal.plan)
        else:
            return False
        self.checkpoint(signal.plan.account_id).unavailable = None  # it can be read
        return True

    def _read_everything_before(self, plan: ReadPlan) -> int | None:
        """For a completed read that went up to when it began: the ``created`` before which it has
        read everything. When it began by our clock and by Stripe's (its last ``Date``, so a
        clock of ours running ahead loses nothing), whichever is earlier, less the clock skew."""
        if plan.began is None or not reads_up_to_now(plan):
            return None
        stripe_began = self.client.stripe_time_at(self._planned_at)
        began = plan.began if stripe_began is None else min(plan.began, int(stripe_began))
        return began - CLOCK_SKEW_SECONDS

    def _learn(self, failed: Failed) -> bool:
        """A product the account has not enabled: kept in the state, so the next syncs of the
        day report the stream without asking again."""
        found = learned(self.spec, failed.error, int(self.options.clock()))
        if found is not None:
            checkpoint = self.checkpoint(failed.plan.account_id)
            checkpoint.unavailable = found
            if checkpoint.to_read is None:
                checkpoint.first_read_began = None  # no read began: the one a day later starts its own
        return found is not None

    def _progress(self, progress: Progress) -> None:
        checkpoint = self.checkpoint(progress.plan.account_id)
        own_created = reads_by_own_created(self.spec)  # `created` is the children's, set at the end
        if progress.plan.phase == LIST_PHASE and progress.cursor is not None and not own_created:
            if progress.cursor != checkpoint.created:
                checkpoint.at_cursor = None  # the ids were of the old cursor's second
            checkpoint.created = progress.cursor
        checkpoint.newest_seen = progress.newest
        checkpoint.to_read = progress.to_read

    def _finish(self, plan: ReadPlan) -> None:
        """A read completed: a list read keeps its newest `created` (a stream read by `created`:
        ``cursors.next_cursor``), and a first one hands over to events from when it began; an
        events read advances `events_since`."""
        checkpoint = self.checkpoint(plan.account_id)
        newest = checkpoint.newest_seen
        checkpoint.to_read = checkpoint.newest_seen = None
        if plan.phase == EVENTS_PHASE:
            # Every event listed before the read began has been read, but Stripe can list an event a
            # moment after its `created`: the next read overlaps the last few minutes (records are
            # de-duplicated). Also with no event at all, so an idle account's cursor moves on (it would
            # otherwise age past Stripe's 30 days and be read whole again), and every account's is the same.
            reached = plan.began - CLOCK_SKEW_SECONDS if plan.began is not None else newest
            if reached is not None:
                checkpoint.events_since = max(checkpoint.events_since or 0, reached)
            return
        boundary = self._boundaries.get(plan.account_id)
        if boundary is not None:
            floor = self._read_everything_before(plan)
            seen = boundary.newest if reads_by_own_created(self.spec) else _latest(boundary.newest, newest)  # with a resumed run's
            ids = boundary.ids if seen == boundary.newest else ()
            checkpoint.created, checkpoint.at_cursor = next_cursor(checkpoint.created, checkpoint.at_cursor, seen, ids, floor)
        elif newest is not None and (checkpoint.created is None or newest > checkpoint.created):
            checkpoint.created = newest
        if checkpoint.first_read_began is not None:
            # The first read, begun then, listed everything created before then (less the skew): that
            # is both where its events start and what `created` can say, the same for every account.
            began = checkpoint.first_read_began
            checkpoint.created = max(checkpoint.created or began, began)
            checkpoint.events_since, checkpoint.first_read_began = began, None

    # -- the CDK's per-stream entry point (the source itself reads all streams at once) -----

    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: list[str] | None = None, stream_state: Mapping[str, Any] | None = None
    ) -> Iterable[Mapping[str, Any] | None]:
        yield None

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        """The same plan and reader as ``SourceStripeProxy.read``, one stream, one worker."""
        saved = stream_state if stream_state is not None else self.state
        accounts = connected_accounts(self.client, self.options.account_ids)
        own = own_account_id(self.client) if needs_own_account(self.spec) and accounts is None else None
        context = ReadContext.for_sync(self.client, self.options, concurrency=1, own_account=own, selected=[self.name])
        try:
            reads = self.plan(context, sync_mode, saved if sync_mode == SyncMode.incremental else None, accounts)
            for signal in ConcurrentReader(self.client, concurrency=1).run(reads):
                if isinstance(signal, Records):
                    yield from signal.records
                elif isinstance(signal, Failed):
                    raise signal.error
                else:
                    self.apply(signal)
        finally:
            context.pages.close()


def _latest(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def build_streams(client: StripeClient, options: ReadOptions) -> list[StripeStream]:
    return [StripeStream(spec, client, options) for spec in STREAM_SPECS.values()]


def created_windows(start: int | None, now: int, window_seconds: int) -> Iterable[Mapping[str, Any]]:
    """``[start, start+w), ..., [last, open)``; a single unfiltered window when there is no start."""
    if start is None:
        yield {}
        return
    lower = start
    while lower + window_seconds < now:
        yield {"created_gte": lower, "created_lt": lower + window_seconds}
        lower += window_seconds
    yield {"created_gte": lower}
