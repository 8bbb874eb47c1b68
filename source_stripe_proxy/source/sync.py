"""One ``read``: the plans of every selected stream through the concurrent reader, and its
signals turned into protocol messages on the caller's thread (``SyncRun``).

* Records, then per-stream STATE only after the records it covers, and STARTED / RUNNING /
  COMPLETE / INCOMPLETE stream status traces (a stream ends when all its accounts' reads have).
* STATE pace. A single account's state is a few hundred bytes: it is emitted at every checkpoint
  of the reader. A per-account state grows with the accounts, so it is emitted at most once per
  ``size / STATE_BYTES_PER_SECOND`` seconds (and always when the stream ends): STATE costs a few
  KB per second of reading, whatever the number of accounts, and a killed sync re-reads at most
  that long of each stream.
* Connect accounts. One the platform can't reach any more (Stripe's 403 ``account_invalid``:
  ``accounts.py``) is dropped from every stream's state with one warning, and fails nothing,
  unless no account of the sync can be reached. One whose read fails otherwise fails that
  stream's read of it alone; the others finish and the sync then fails naming it.
* A rejected key (401) ends the whole read at once with one config_error. A stream the account
  can't read (``availability.py``) ends INCOMPLETE with a config_error naming why and the sync
  fails listing them; with ``unavailable_streams: "skip"`` it is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteAnalyticsTraceMessage,
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStreamStatus,
    AirbyteTraceMessage,
    EstimateType,
    FailureType,
    StreamDescriptor,
    TraceType,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as stream_status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy.airbyte.errors import ReadEnded, traced
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, fails_every_call
from source_stripe_proxy.source.accounts import account_gone
from source_stripe_proxy.source.availability import StreamUnavailable, unavailable
from source_stripe_proxy.source.options import ALL_ACCOUNTS, ReadOptions
from source_stripe_proxy.source.reader import Complete, ConcurrentReader, Estimate, Failed, Progress, ReadPlan, Records
from source_stripe_proxy.source.streams import ReadContext, StripeStream

STATE_BYTES_PER_SECOND = 4096  # a per-account stream's STATE, at most, on average
NAMED_AT_MOST = 5  # a message names this many streams or accounts and counts the rest

Selected = list[tuple[StripeStream, Any]]  # each selected stream with its configured catalog entry


def ends_the_read(error: BaseException) -> bool:
    """A rejected key or proxy token (401), or a host that can't be reached or never answered,
    fails every stream the same way: stop at the first."""
    return fails_every_call(error)


def read_ended(error: AirbyteTracedException) -> ReadEnded:
    """The error that ends a read: its message says what to fix; a worker's stack adds nothing."""
    return ReadEnded(internal_message=error.internal_message, message=error.message, failure_type=error.failure_type)


def named(items: Iterable[str], limit: int = NAMED_AT_MOST) -> str:
    """``a, b, c`` or, beyond ``limit``, ``a, b, c, d, e and 7 more``."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


class SyncRun:
    """One sync: plans the selected streams, runs the reader, and handles each of its signals
    in a method of its own (``_records``, ``_estimate``, ``_progress``, ``_complete``, ``_failed``)."""

    def __init__(
        self,
        logger: logging.Logger,
        client: StripeClient,
        options: ReadOptions,
        selected: Selected,
        state_manager: ConnectorStateManager,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger = logger
        self.client = client
        self.options = options
        self.concurrency = concurrency
        self.state_manager = state_manager
        self.streams = {stream.name: stream for stream, _ in selected}
        self.selected = selected
        self.statuses = _StreamStatuses({stream.name: configured.stream for stream, configured in selected})
        self.failures = _StreamFailures(logger, options.skip_unavailable)
        self.pacer = _StatePacer(clock)
        self.accounts: tuple[str, ...] = ()
        self.dropped: dict[str, None] = {}  # accounts of the saved state not read any more, in order
        self.gone: set[str] = set()  # accounts Stripe says the platform can't reach
        self.unplanned: Mapping[str, BaseException] = {}
        self.remaining: Counter = Counter()
        self.estimates = _StreamEstimates([])
        # each takes its own signal type, chosen by type(signal): hence Any for the argument
        self._handlers: dict[type, Callable[[Any], Iterator[AirbyteMessage]]] = {
            Records: self._records,
            Estimate: self._estimate,
            Progress: self._progress,
            Complete: self._complete,
            Failed: self._failed,
        }

    # -- before reading ----------------------------------------------------------------

    def plan(self, context: ReadContext, accounts: tuple[str, ...] | None, unplanned: Mapping[str, BaseException]) -> list[ReadPlan]:
        """Every selected stream's reads, from its saved state (a stale state may fail here,
        before any read). ``unplanned``: streams that failed before they could be planned."""
        self.accounts, self.unplanned = accounts or (), unplanned
        plans: list[ReadPlan] = []
        for stream, configured in self.selected:
            if stream.name in unplanned:
                continue
            saved = self.state_manager.get_stream_state(stream.name, None)  # a full refresh keeps only what is unreadable
            plans.extend(stream.plan(context, configured.sync_mode, saved, accounts))
            self.dropped.update(dict.fromkeys(stream.dropped))
        return plans

    def run(self, plans: list[ReadPlan]) -> Iterator[AirbyteMessage]:
        self.remaining = Counter(plan.name for plan in plans)
        self.estimates = _StreamEstimates(plans)
        self.logger.info(
            "Reading %d streams (%d reads) with up to %d concurrent requests.", len(self.selected), len(plans), self.concurrency
        )
        started = time.monotonic()
        try:
            yield from self._before_reading()
            for signal in ConcurrentReader(self.client, self.concurrency, stop_on=ends_the_read).run(plans):
                yield from self.statuses.started(signal.plan.name)
                yield from self._handlers[type(signal)](signal)
        finally:
            self.logger.info(
                "Stripe requests: %d (%d of them retries) in %.1fs.",
                self.client.request_count,
                self.client.retry_count,
                time.monotonic() - started,
            )
        self._raise_if_unreachable()
        self.failures.raise_if_any()

    def _before_reading(self) -> Iterator[AirbyteMessage]:
        """Warnings, the accounts dropped from the state, and the streams with nothing to read."""
        for stream, _ in self.selected:
            for kind, warning in stream.warnings:
                self.logger.warning(warning)
                yield _analytics(kind, stream.name)
        for account in self.dropped:
            self.logger.warning("Connect account %s is no longer %s: its saved state is dropped.", account, self._listed_where())
            yield _analytics("connected_account_dropped", account)
        for stream, _ in self.selected:
            if stream.name in self.unplanned:
                yield from self.statuses.started(stream.name)
                yield from self.failures.add(stream, None, self.unplanned[stream.name])
                yield from self.statuses.ended(stream.name, AirbyteStreamStatus.INCOMPLETE)
            elif stream.known_unavailable:
                yield from self._known_unavailable(stream)
            elif not self.remaining[stream.name]:  # `account_ids: "all"` found no account
                yield from self.statuses.started(stream.name)
                yield self._state_message(stream)
                yield from self.statuses.ended(stream.name, AirbyteStreamStatus.COMPLETE)

    def _known_unavailable(self, stream: StripeStream) -> Iterator[AirbyteMessage]:
        """A stream an account could not read less than a day ago, not asked again: reported as
        then (skipped, or INCOMPLETE with the config error), for each such account; it ends here
        when no account of it is read."""
        yield from self.statuses.started(stream.name)
        for account, error in sorted(stream.known_unavailable.items(), key=lambda item: str(item[0])):
            yield from self.failures.add(stream, account, error)
        if not self.remaining[stream.name]:
            yield self._state_message(stream)
            yield from self.statuses.ended(stream.name, AirbyteStreamStatus.INCOMPLETE)

    def _listed_where(self) -> str:
        return "listed by /v1/accounts" if self.options.account_ids == ALL_ACCOUNTS else "in 'account_ids'"

    # -- the reader's signals ------------------------------------------------------------

    def _records(self, signal: Records) -> Iterator[AirbyteMessage]:
        name = signal.plan.name
        yield from self.statuses.running(name)
        emitted_at = int(time.time() * 1000)
        for record in signal.records:
            yield AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=name, data=record, emitted_at=emitted_at))

    def _estimate(self, signal: Estimate) -> Iterator[AirbyteMessage]:
        rows = self.estimates.update(signal.plan, signal.rows)
        if rows is not None:
            yield _estimate(signal.plan.name, rows)

    def _progress(self, signal: Progress) -> Iterator[AirbyteMessage]:
        yield from self._apply(signal)

    def _complete(self, signal: Complete) -> Iterator[AirbyteMessage]:
        self.estimates.complete(signal.plan)
        yield from self._apply(signal)  # every read checkpoints at least once, at its end
        yield from self._plan_ended(signal.plan)

    def _failed(self, signal: Failed) -> Iterator[AirbyteMessage]:
        plan, error = signal.plan, signal.error
        if ends_the_read(error):
            # A rejected key fails every stream alike: one error says what to fix, and the read ends.
            yield from self.statuses.ended(plan.name, AirbyteStreamStatus.INCOMPLETE)
            raise read_ended(traced(error)) from None
        if plan.account_id is not None and account_gone(error):
            yield from self._account_gone(plan.account_id)
        else:
            yield from self.failures.add(self.streams[plan.name], plan.account_id, error)
            yield from self._learned(signal)
        yield from self._plan_ended(plan)

    # -- state and ends --------------------------------------------------------------------

    def _apply(self, signal: Any) -> Iterator[AirbyteMessage]:
        """Keep the signal in the stream's state (not for an account that is gone) and emit the
        state when it is due."""
        stream = self.streams[signal.plan.name]
        if signal.plan.account_id in self.gone:
            return
        stream.apply(signal)
        self.pacer.changed(stream.name)
        if not stream.per_account or self.pacer.due(stream.name):
            yield self._state_message(stream)

    def _learned(self, signal: Failed) -> Iterator[AirbyteMessage]:
        """A failure that says the account can't read the stream (a product not enabled) is kept in
        its state, so the syncs of the next day report it without asking again."""
        stream = self.streams[signal.plan.name]
        if stream.apply(signal):
            self.pacer.changed(stream.name)
            if not stream.per_account or self.pacer.due(stream.name):
                yield self._state_message(stream)

    def _plan_ended(self, plan: ReadPlan) -> Iterator[AirbyteMessage]:
        self.remaining[plan.name] -= 1
        if self.remaining[plan.name]:
            return
        if self.pacer.unsaved(plan.name):
            yield self._state_message(self.streams[plan.name])
        status = AirbyteStreamStatus.INCOMPLETE if self.failures.ended_short(plan.name) else AirbyteStreamStatus.COMPLETE
        yield from self.statuses.ended(plan.name, status)

    def _account_gone(self, account: str) -> Iterator[AirbyteMessage]:
        """Once per account: one warning, and the account out of every stream's state."""
        if account in self.gone:
            return
        self.gone.add(account)
        self.logger.warning(
            "Connect account %s can't be read any more: Stripe says the platform has no access to it "
            "(disconnected or deauthorized). It is dropped from the state; a new connection is read whole.",
            account,
        )
        yield _analytics("connected_account_gone", account)
        for stream in self.streams.values():
            stream.forget(account)
            self.pacer.changed(stream.name)

    def _state_message(self, stream: StripeStream) -> AirbyteMessage:
        state = stream.state
        self.state_manager.update_state_for_stream(stream.name, None, state)
        self.pacer.emitted(stream.name, len(json.dumps(state)) if stream.per_account else 0)
        return self.state_manager.create_state_message(stream.name, None)

    def _raise_if_unreachable(self) -> None:
        """Every account of the sync answered ``account_invalid``: the key is not this platform's
        (or of the other mode, test or live), and an empty sync would look like success."""
        if self.accounts and self.gone >= set(self.accounts):
            raise ConfigError(
                f"None of the {len(self.accounts)} Connect account(s) of this sync can be read with this key: "
                f"Stripe says the platform has no access to {named(sorted(self.gone))}. Check that the key is the "
                "platform's, in the same mode (test or live) as the accounts, and the accounts in 'account_ids'."
            )


class _StatePacer:
    """When a stream's state is worth emitting: once ``size / STATE_BYTES_PER_SECOND`` seconds
    have passed since its last STATE (at once for a small state)."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # stream -> (time of its last STATE, its size)
        self._unsaved: set[str] = set()

    def changed(self, name: str) -> None:
        self._unsaved.add(name)

    def unsaved(self, name: str) -> bool:
        return name in self._unsaved

    def due(self, name: str) -> bool:
        if name not in self._last:
            return True
        at, size = self._last[name]
        return self._clock() - at >= size / STATE_BYTES_PER_SECOND

    def emitted(self, name: str, size: int) -> None:
        self._last[name] = (self._clock(), size)
        self._unsaved.discard(name)


class _StreamFailures:
    """The streams that failed, and why: those this account can't read (``availability.py``),
    reported as such or skipped with ``unavailable_streams: "skip"``, and every other failure.
    Each stream's error trace is emitted once (its first failure); every account's is logged."""

    def __init__(self, logger: logging.Logger, skip_unavailable: bool):
        self._logger = logger
        self._skip = skip_unavailable
        self.failures: dict[str, AirbyteTracedException] = {}
        self.accounts: dict[str, list[str]] = {}  # stream -> the accounts whose read of it failed
        self.unreadable: dict[str, StreamUnavailable] = {}
        self.skipped: set[str] = set()

    def add(self, stream: StripeStream, account_id: str | None, error: BaseException) -> Iterator[AirbyteMessage]:
        whose = f" of {account_id}" if account_id else ""
        cannot = unavailable(stream.spec, error)
        if cannot is not None and self._skip:
            first = stream.name not in self.skipped
            self.skipped.add(stream.name)
            self._logger.warning("Skipping stream %s%s: %s (unavailable_streams is 'skip').", stream.name, whose, cannot.reason)
            if first:
                yield _analytics("stream_unavailable_skipped", stream.name)
            return
        if cannot is not None:
            self.unreadable.setdefault(stream.name, cannot)
        unexpected = f"Stream {stream.name} failed unexpectedly: {type(error).__name__}. See the logs for details."
        failure = traced(cannot or error, unexpected)
        if account_id:
            self.accounts.setdefault(stream.name, []).append(account_id)
        self._logger.error("Stream %s%s failed: %s", stream.name, whose, failure.message)
        if stream.name not in self.failures:
            self.failures[stream.name] = failure
            yield failure.as_sanitized_airbyte_message(stream_descriptor=StreamDescriptor(name=stream.name))

    def ended_short(self, name: str) -> bool:
        return name in self.failures or name in self.skipped

    def raise_if_any(self) -> None:
        """The sync's closing error: the streams this account can't read first, then the rest;
        a handful of streams (and of accounts per stream) named, the rest counted."""
        if not self.failures:
            return
        parts = []
        if self.unreadable:
            reasons = [f"{name} ({error.reason}{self._whose(name)})" for name, error in sorted(self.unreadable.items())]
            parts.append(
                f"{len(self.unreadable)} selected stream(s) can't be read with this account or key: {named(reasons)}. "
                "Enable them in Stripe, deselect them, or set 'unavailable_streams' to 'skip'."
            )
        others = [f"{name}{self._whose(name)}: {error.message}" for name, error in self.failures.items() if name not in self.unreadable]
        if others:
            parts.append(f"{len(others)} stream(s) did not sync completely: " + "; ".join(others[:NAMED_AT_MOST]) + self._more(others))
        raise AirbyteTracedException(message=" ".join(parts), failure_type=_overall_failure_type(self.failures.values()))

    def _whose(self, name: str) -> str:
        accounts = self.accounts.get(name)
        return f", {len(accounts)} account(s): {named(accounts)}" if accounts else ""

    @staticmethod
    def _more(items: list[str]) -> str:
        return f"; and {len(items) - NAMED_AT_MOST} more streams (see the logs)" if len(items) > NAMED_AT_MOST else ""


class _StreamStatuses:
    """STARTED, RUNNING and the end of each stream, each once, STARTED before anything else of it."""

    def __init__(self, descriptors: Mapping[str, Any]):
        self._descriptors = descriptors
        self._said: dict[str, set] = {name: set() for name in descriptors}

    def _once(self, name: str, status: AirbyteStreamStatus) -> Iterator[AirbyteMessage]:
        if status not in self._said[name]:
            self._said[name].add(status)
            yield stream_status_message(self._descriptors[name], status)

    def started(self, name: str) -> Iterator[AirbyteMessage]:
        yield from self._once(name, AirbyteStreamStatus.STARTED)

    def running(self, name: str) -> Iterator[AirbyteMessage]:
        yield from self._once(name, AirbyteStreamStatus.RUNNING)

    def ended(self, name: str, status: AirbyteStreamStatus) -> Iterator[AirbyteMessage]:
        yield from self.started(name)
        yield from self._once(name, status)


class _StreamEstimates:
    """A stream's row estimate is the sum over its reads (one per account), given only once
    every read has an honest estimate of its own or has completed."""

    def __init__(self, plans: list[ReadPlan]):
        self._rows: dict[str, dict[str | None, int | None]] = {}  # stream -> account -> rows
        for plan in plans:
            self._rows.setdefault(plan.name, {})[plan.account_id] = None
        self._unknown = {name: len(rows) for name, rows in self._rows.items()}  # reads with neither
        self._complete: set = set()

    def update(self, plan: ReadPlan, rows: int) -> int | None:
        mine = self._rows[plan.name]
        if mine[plan.account_id] is None and plan.key not in self._complete:
            self._unknown[plan.name] -= 1
        mine[plan.account_id] = rows
        return sum(value or 0 for value in mine.values()) if not self._unknown[plan.name] else None

    def complete(self, plan: ReadPlan) -> None:
        if plan.key not in self._complete and self._rows[plan.name][plan.account_id] is None:
            self._unknown[plan.name] -= 1
        self._complete.add(plan.key)


def _analytics(kind: str, value: str) -> AirbyteMessage:
    trace = AirbyteTraceMessage(
        type=TraceType.ANALYTICS, emitted_at=time.time() * 1000, analytics=AirbyteAnalyticsTraceMessage(type=kind, value=value)
    )
    return AirbyteMessage(type=Type.TRACE, trace=trace)


def _estimate(stream_name: str, rows: int) -> AirbyteMessage:
    """A progress hint for the platform (and PyAirbyte's progress bar): rows expected."""
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ESTIMATE,
            emitted_at=time.time() * 1000,
            estimate=AirbyteEstimateTraceMessage(name=stream_name, type=EstimateType.STREAM, row_estimate=rows),
        ),
    )


def _overall_failure_type(errors: Iterable[AirbyteTracedException]) -> FailureType:
    kinds = {error.failure_type for error in errors}
    for kind in (FailureType.config_error, FailureType.transient_error):
        if kinds == {kind}:
            return kind
    return FailureType.system_error if FailureType.system_error in kinds else next(iter(kinds))
