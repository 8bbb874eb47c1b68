"""Stripe streams: one class, ``StripeStream``, instantiated once per ``catalogue.StreamSpec``.

This module decides *what* to read for a stream, its sync mode and its state, and hands
that to the reader (``reader.py``) as ``StreamJob``s, one per Connect account:

* full refresh, or a first incremental read: the list endpoint (for a child stream, its
  parent's list), cut into ``created`` windows that split themselves across workers.
* later incremental reads of a stream whose objects change (``spec.event_types``):
  ``/v1/events`` filtered by those types from ``events_since``, turned into records by
  ``events.EventChanges``. Immutable streams (balance transactions, events) keep reading
  by ``created``.
* state older than Stripe's event retention: a full re-read with a warning, or a
  config_error when ``on_stale_state`` is ``"fail"``. Never a silent skip.

State of one stream (and one account), see docs/change_capture.md:

    {"created": N}                                 immutable streams; also the old shape
    {"created": N, "first_read_began": T}          a first list read in progress
    {"created": N, "events_since": T}              changes are followed through events
    {"accounts": {"acct_1": {...}, ...}}           the same, per account, with `account_ids`
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin, Stream

from source_stripe_proxy.source.stream_specs import STREAM_SPECS, StreamSpec, changes_through_events
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.stripe_facts import EVENT_RETENTION_DAYS
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.options import SECONDS_PER_DAY, ReadOptions
from source_stripe_proxy.source.state import Checkpoint
from source_stripe_proxy.source.events import ChildRecords, EventChanges, Stamp, chain
from source_stripe_proxy.source.reader import ConcurrentReader, StreamJob

CURSOR_FIELD = "updated"  # the change cursor every record carries
EVENT_RETENTION_SECONDS = EVENT_RETENTION_DAYS * SECONDS_PER_DAY  # how long Stripe keeps events
STALE_MARGIN_SECONDS = 3600  # treat state as stale this long before Stripe drops the events
CLOCK_SKEW_SECONDS = 300  # our clock may run ahead of Stripe's; events are de-duplicated anyway


class StripeStream(Stream, CheckpointMixin):
    """Any stream of the catalogue; all behaviour is driven by its ``StreamSpec``."""

    cursor_field = CURSOR_FIELD

    def __init__(self, spec: StreamSpec, client: StripeClient, options: ReadOptions):
        self.spec = spec
        self.client = client
        self.options = options
        self.accounts: Optional[Tuple[str, ...]] = None  # resolved Connect accounts (source.read)
        self.warnings: List[Tuple[str, str]] = []  # (analytics kind, message), said before reading
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
        if not self.per_account:
            self._checkpoints = {None: Checkpoint.parse(self.name, value)}
            return
        accounts = value.get("accounts") if isinstance(value, Mapping) else None
        if value and not isinstance(accounts, Mapping):
            # A single-account state can't say which account it belongs to: start each over.
            self.warnings.append(
                ("state_not_per_account", f"Stream '{self.name}': the saved state is not per account; every account is read from the start.")
            )
            accounts = {}
        self._checkpoints = {acct: Checkpoint.parse(f"{self.name}/{acct}", cp) for acct, cp in (accounts or {}).items()}

    def checkpoint(self, account_id: Optional[str]) -> Checkpoint:
        return self._checkpoints.setdefault(account_id, Checkpoint())

    def advance(self, job: StreamJob, cursor: int) -> None:
        """A ``state`` event of one of this stream's jobs."""
        checkpoint = self.checkpoint(job.account_id)
        if job.phase == "events":
            # Stripe can list an event a moment after its `created`: the next read overlaps the
            # last few minutes instead of trusting the newest event seen (records are de-duplicated).
            began = job.began if job.began is not None else cursor
            checkpoint.events_since = max(checkpoint.events_since or 0, min(cursor, began - CLOCK_SKEW_SECONDS))
        else:
            checkpoint.created = cursor

    def finish(self, job: StreamJob) -> None:
        """A job completed: a finished list read hands over to events from when it began."""
        checkpoint = self.checkpoint(job.account_id)
        if job.phase == "list" and checkpoint.first_read_began is not None:
            checkpoint.events_since, checkpoint.first_read_began = checkpoint.first_read_began, None

    # -- planning ----------------------------------------------------------------------

    def jobs(self, sync_mode: SyncMode) -> List[StreamJob]:
        """One job per account (or one), each reading the list or the events."""
        accounts: Iterable[Optional[str]] = self.accounts if self.per_account else (None,)
        if self.per_account and self.accounts is None:
            raise ValueError("accounts must be resolved before planning a per-account read")
        return [self._job(sync_mode, account) for account in accounts]

    def _job(self, sync_mode: SyncMode, account: Optional[str]) -> StreamJob:
        now = int(self.options.clock())
        checkpoint = self.checkpoint(account)
        if sync_mode == SyncMode.incremental and changes_through_events(self.spec):
            anchor = checkpoint.events_since if checkpoint.events_since is not None else checkpoint.first_read_began
            if anchor is not None and anchor < now - EVENT_RETENTION_SECONDS + STALE_MARGIN_SECONDS:
                self._stale(account, now - anchor)
                checkpoint = self._checkpoints[account] = Checkpoint()
            elif checkpoint.events_since is not None:
                return self._events_job(checkpoint, account, now)
        else:
            checkpoint.events_since = None  # full refresh, or an immutable stream: `created` only
        return self._list_job(sync_mode, checkpoint, account, now)

    def _list_job(self, sync_mode: SyncMode, checkpoint: Checkpoint, account: Optional[str], now: int) -> StreamJob:
        source = self.spec.source
        start = self.options.start_date
        if sync_mode == SyncMode.incremental and checkpoint.created is not None:
            resume_from = max(0, checkpoint.created - self.options.lookback_seconds)
            start = resume_from if start is None else max(start, resume_from)
        if changes_through_events(self.spec) and checkpoint.first_read_began is None:
            checkpoint.first_read_began = now - CLOCK_SKEW_SECONDS  # events from here follow this read
        if source.filters_created:
            windows = [(w.get("created_gte"), w.get("created_lt")) for w in created_windows(start, now, self.options.window_seconds)]
        else:
            windows = [(None, None)]
        params: Dict[str, Any] = dict(source.params)
        if source.expand:
            params["expand"] = [f"data.{path}" for path in source.expand]
        return StreamJob(
            name=self.name,
            path=source.path,
            fixed_params=params,
            windows=windows,
            page_size=self.options.page_size,
            state=checkpoint.created,
            account_id=account,
            splittable=source.filters_created,
            transform=chain(self._children(account), self._stamp(account)),
            created_field=source.created_field,
            phase="list",
        )

    def _events_job(self, checkpoint: Checkpoint, account: Optional[str], now: int) -> StreamJob:
        source = self.spec.source
        changes = EventChanges(
            source,
            self.client,
            refetch_always=self.options.refetch_always,
            account_id=account,
            min_created=self.options.start_date,
            children=self._children(account),  # a child stream: the changed parents' children, and removed ones
        )
        return StreamJob(
            name=self.name,
            path="/v1/events",
            fixed_params={"types": list(source.event_types)},
            windows=[(checkpoint.events_since, None)],
            page_size=self.options.page_size,
            state=checkpoint.events_since,
            account_id=account,
            splittable=False,  # newest first in one pass: the first event seen per object is its latest
            transform=chain(changes, self._stamp(account)),
            phase="events",
            began=now,
        )

    def _children(self, account: Optional[str]) -> Optional[ChildRecords]:
        if self.spec.child_of is None:
            return None
        return ChildRecords(self.spec.child_of, self.client, page_size=self.options.page_size, account_id=account)

    def _stamp(self, account: Optional[str]) -> Stamp:
        stamped_account = account if account is not None else self.client.settings.account_id
        return Stamp(self.spec.source.created_field, stamped_account, marks_deletes=self.spec.can_be_deleted)

    def _stale(self, account: Optional[str], age_seconds: int) -> None:
        whose = f"Stream '{self.name}'" + (f" of account {account}" if account else "")
        message = (
            f"{whose}: the saved state is {age_seconds // SECONDS_PER_DAY} days old, and Stripe keeps events for "
            f"only {EVENT_RETENTION_SECONDS // SECONDS_PER_DAY} days, so changes since then can't be read from events."
        )
        if self.options.fail_on_stale_state:
            raise ConfigError(
                message + " Reset the stream to read it again, or set 'on_stale_state' to 'full_refresh' to re-read it automatically."
            )
        self.warnings.append(("stale_state_full_reread", message + " Re-reading the whole stream from its list endpoint instead."))

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
        jobs = self.jobs(sync_mode)
        for event in ConcurrentReader(self.client, concurrency=1).run(jobs):
            if event[0] == "records":
                yield from event[2]
            elif event[0] == "state":
                self.advance(event[1], event[2])
            elif event[0] == "complete":
                self.finish(event[1])
            elif event[0] == "failed":
                raise event[2]


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
