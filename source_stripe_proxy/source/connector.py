"""The Airbyte source: spec, check, discover and read over the shared client.

``discover`` offers every stream of the generated catalogue (``stream_specs.py``) without a
request. ``check`` probes every stream's list cheaply (``limit=1``, side by side within the
request budget): it succeeds when one stream is readable, and logs which are not and why.

``read`` plans each configured stream's reads (``streams.plan_stream``: one per Connect account
with ``account_ids``; a list read or an events read, from the saved state), makes the events
reads of all streams one (``streams.share_events_read``), hands them all to the concurrent
reader (``reader/``, which reads a parent's list once for all its children) and turns its
signals into protocol messages on this thread: records, then per-stream STATE only after the
records it covers, and STARTED / RUNNING / COMPLETE / INCOMPLETE stream status traces (a stream
ends when all its accounts' reads have). A rejected key or token (401) ends the whole read at
once with one config_error. A stream the account can't read (a product not enabled, a key
without the permission: ``availability.py``) ends INCOMPLETE with a config_error naming why,
the others finish, and the sync fails listing them; with ``unavailable_streams: "skip"`` it is
skipped with a warning instead.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteAnalyticsTraceMessage,
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    AirbyteStreamStatus,
    AirbyteTraceMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    EstimateType,
    FailureType,
    StreamDescriptor,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as stream_status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy.airbyte.clients import reuse_client
from source_stripe_proxy.airbyte.errors import ReadEnded, raises_traced, traced
from source_stripe_proxy.airbyte.hooks import load_spec, read_json_file
from source_stripe_proxy.core.budget import default_concurrency
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError, fails_every_call
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.source.availability import Probe, StreamUnavailable, probe_all, probes, unavailable
from source_stripe_proxy.source.events_read import EVENTS_PATH, EventSample, needs_sample, share_events_read
from source_stripe_proxy.source.options import ReadOptions, read_options, source_config
from source_stripe_proxy.source.read_cost import read_cost
from source_stripe_proxy.source.reader import Complete, ConcurrentReader, Estimate, Failed, Progress, ReadPlan, Records
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from source_stripe_proxy.source.streams import (
    ReadContext,
    StripeStream,
    build_streams,
    connected_accounts,
    needs_own_account,
    own_account_id,
    path_for_account,
)

SYNC_MODES = ("full_refresh", "incremental")
FIRST_PROBE = "customers"  # check's first request, alone: a rejected key costs one
CHECK_STREAMS_NAMED = 5  # a failed check names this many streams and counts the rest


class SourceStripeProxy(AbstractSource):
    # The CDK's jsonschema check quotes the offending value (a key, a token) in its error;
    # source_config() validates every field with messages that never do. (The CDK's `check`
    # runs its jsonschema check regardless: airbyte/hooks.py's SourceEntrypoint calls
    # validate_config instead.)
    check_config_against_spec = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """``clock``: the epoch seconds a read plans by (tests pass one they move)."""
        super().__init__()
        self._client: Optional[StripeClient] = None
        self._clock = clock

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return load_spec(__package__)

    def client_for(self, config: Mapping[str, Any]) -> StripeClient:
        """One client (and one request budget) per connection settings for the whole process."""
        settings = ConnectionSettings.from_config(config)
        # Connections for the reader's workers and as many for the child streams' requests.
        pool_size = 2 * concurrency_for(read_options(config), settings)
        self._client = reuse_client(self._client, settings, lambda s: StripeClient(s, pool_size=pool_size))
        return self._client

    @raises_traced
    def validate_config(self, config: Mapping[str, Any]) -> None:
        """The source's one validation path, the same for check, discover and read."""
        source_config(split_config(config)[0])

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        """Probe every stream's list (``limit=1``); the connection works when one stream is
        readable, and each one that is not is logged with why. A first probe that gets no answer
        (a host that can't be reached, retries used up) ends the check: the others would fail alike."""
        try:
            options = source_config(config).options
            client = self.client_for(config)
            results = probe_every_stream(client, options)
        except StripeProxyError as error:
            # Our messages never carry config values, so they are safe in CONNECTION_STATUS.
            stopped = " The check stopped at this first request." if error.failure_type == "transient_error" else ""
            return False, _Safe(str(error) + stopped)
        readable, problems = [], {}
        for probe, error in results.items():
            for name in probe.streams:
                if error is None:
                    readable.append(name)
                    continue
                reason = unavailable(STREAM_SPECS[name], error)
                problems[name] = reason.reason if reason else str(error)
        for name in sorted(problems):
            logger.warning("Stream %s: %s", name, problems[name])
        if not readable:
            return False, _Safe("No stream can be read with this connection: " + summarize_problems(problems, FIRST_PROBE))
        logger.info(
            "Connected to Stripe %s: %d of %d streams readable%s.",
            client.settings.connection_mode.via,
            len(readable),
            len(readable) + len(problems),
            f" ({len(problems)} not: see the warnings above)" if problems else "",
        )
        return True, None

    @classmethod
    @raises_traced
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        """The CDK's parser fails on a bad sync mode with a bare system error; name the field."""
        raw = read_json_file(catalog_path)
        streams = raw.get("streams") if isinstance(raw, dict) else None
        if not isinstance(streams, list):
            raise ConfigError("The configured catalog must be an object with a 'streams' list.")
        for entry in streams:
            name = (entry.get("stream") or {}).get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                raise ConfigError("Every stream of the configured catalog needs 'stream.name'.")
            if entry.get("sync_mode") not in SYNC_MODES:
                raise ConfigError(f"Stream '{name}' has sync_mode {entry.get('sync_mode')!r}; use one of: {', '.join(SYNC_MODES)}.")
        return super().read_catalog(catalog_path)

    @classmethod
    @raises_traced
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        """The CDK refuses a pre-per-stream state object with a bare system error; say what to do."""
        if state_path and not isinstance(read_json_file(state_path), (list, type(None))):
            raise ConfigError(
                "The state file holds one object (the old, pre-per-stream format). This source needs a list of "
                "per-stream STATE messages: reset the connection's state, or wrap each stream's state as "
                '{"type": "STREAM", "stream": {"stream_descriptor": {"name": ...}, "stream_state": ...}}.'
            )
        return super().read_state(state_path)

    @raises_traced
    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        options = read_options(config)
        client = self.client_for(config)
        return build_streams(client, options)

    @raises_traced
    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        config, _ = split_config(config)
        options = dataclasses.replace(read_options(config), clock=self._clock)
        client = self.client_for(config)
        metered = client.meter.snapshot()  # this read's requests are those counted from here
        state_manager = ConnectorStateManager(state=state)
        selected = select_streams(build_streams(client, options), catalog, logger)
        accounts = _before_reading(lambda: connected_accounts(client, options.account_ids)) if selected else None
        own, unplanned = None, {}
        if accounts is None and any(needs_own_account(stream.spec) for stream, _ in selected):
            try:
                own = _before_reading(lambda: own_account_id(client))
            except StripeProxyError as error:  # e.g. a key without the account permission: those streams can't be read
                unplanned = {stream.name: error for stream, _ in selected if needs_own_account(stream.spec)}
        concurrency = concurrency_for(options, client.settings)
        context = ReadContext.for_sync(client, options, concurrency, own, selected=(stream.name for stream, _ in selected))
        plans: List[ReadPlan] = []
        try:
            for stream, configured in selected:
                if stream.name in unplanned:
                    continue
                saved = state_manager.get_stream_state(stream.name, None)  # a full refresh keeps only what is unreadable
                plans.extend(stream.plan(context, configured.sync_mode, saved, accounts))  # a stale state may fail here, before any read
            plans = share_events_read(plans, _before_reading(lambda: sample_events(client, plans, options)))
            yield from self._read_plans(logger, client, concurrency, selected, plans, state_manager, options, unplanned)
        finally:
            context.pages.close()
            logger.info(read_cost(client.meter.since(metered), plans).line())

    def _read_plans(
        self,
        logger: logging.Logger,
        client: StripeClient,
        concurrency: int,
        selected: List[Tuple[StripeStream, Any]],
        plans: List[ReadPlan],
        state_manager: ConnectorStateManager,
        options: ReadOptions,
        unplanned: Mapping[str, BaseException],
    ) -> Iterator[AirbyteMessage]:
        """Run the plans and turn the reader's signals into messages on this thread.
        ``unplanned``: streams that failed before their reads could be planned."""
        streams = {stream.name: stream for stream, _ in selected}
        descriptors = {stream.name: configured.stream for stream, configured in selected}
        logger.info("Reading %d streams (%d reads) with up to %d concurrent requests.", len(selected), len(plans), concurrency)
        started = time.monotonic()
        remaining = Counter(plan.name for plan in plans)  # a stream ends when all its accounts' reads have
        failures = _StreamFailures(logger, options.skip_unavailable)
        statuses = _StreamStatuses(descriptors)
        estimates = _StreamEstimates(plans)
        try:
            for stream, _ in selected:
                yield from self._before_reading_stream(logger, stream, statuses, failures, state_manager, remaining[stream.name], unplanned)
            reader = ConcurrentReader(client, concurrency, stop_on=ends_the_read)
            for signal in reader.run(plans):
                plan = signal.plan
                stream = streams[plan.name]
                yield from statuses.started(plan.name)
                if isinstance(signal, Records):
                    yield from statuses.running(plan.name)
                    emitted_at = int(time.time() * 1000)
                    for record in signal.records:
                        yield AirbyteMessage(
                            type=Type.RECORD, record=AirbyteRecordMessage(stream=plan.name, data=record, emitted_at=emitted_at)
                        )
                    continue
                if isinstance(signal, Estimate):
                    rows = estimates.update(plan, signal.rows)
                    if rows is not None:
                        yield _estimate(plan.name, rows)
                    continue
                if isinstance(signal, Progress):
                    stream.apply(signal)
                    yield self._state_message(state_manager, stream)
                    continue
                if isinstance(signal, Complete):
                    stream.apply(signal)  # every read checkpoints at least once, at its end
                    estimates.complete(plan)
                    yield self._state_message(state_manager, stream)
                elif isinstance(signal, Failed):
                    if ends_the_read(signal.error):
                        # A rejected key fails every stream alike: one error says what to fix, and the read ends.
                        yield from statuses.ended(plan.name, AirbyteStreamStatus.INCOMPLETE)
                        raise _read_ended(traced(signal.error)) from None
                    yield from failures.add(stream, plan.account_id, signal.error)
                    if stream.apply(signal):  # learned that the account can't read it: kept for the next syncs
                        yield self._state_message(state_manager, stream)
                remaining[plan.name] -= 1
                if not remaining[plan.name]:
                    status = AirbyteStreamStatus.INCOMPLETE if failures.ended_short(plan.name) else AirbyteStreamStatus.COMPLETE
                    yield from statuses.ended(plan.name, status)
        finally:
            logger.info(
                "Stripe requests: %d (%d of them retries) in %.1fs.",
                client.request_count,
                client.retry_count,
                time.monotonic() - started,
            )
        failures.raise_if_any()

    def _before_reading_stream(
        self, logger: logging.Logger, stream: StripeStream, statuses: "_StreamStatuses", failures: "_StreamFailures",
        state_manager: ConnectorStateManager, reads: int, unplanned: Mapping[str, BaseException],
    ) -> Iterator[AirbyteMessage]:
        """A stream's warnings, and the end of a stream none of whose reads the reader runs."""
        for kind, warning in stream.warnings:
            logger.warning(warning)
            yield _analytics(kind, stream.name)
        if stream.name in unplanned:
            yield from statuses.started(stream.name)
            yield from failures.add(stream, None, unplanned[stream.name])
            yield from statuses.ended(stream.name, AirbyteStreamStatus.INCOMPLETE)
        elif stream.known_unavailable:
            yield from self._known_unavailable(stream, statuses, failures, state_manager, reads)
        elif not reads:  # `account_ids: "all"` found no account
            yield from statuses.started(stream.name)
            yield self._state_message(state_manager, stream)
            yield from statuses.ended(stream.name, AirbyteStreamStatus.COMPLETE)

    def _known_unavailable(
        self, stream: StripeStream, statuses: "_StreamStatuses", failures: "_StreamFailures", state_manager: ConnectorStateManager,
        reads: int,
    ) -> Iterator[AirbyteMessage]:
        """A stream the account could not read less than a day ago, not asked again: reported as
        then (skipped, or INCOMPLETE with the config error), for each account; it ends here when
        no account of it is read."""
        yield from statuses.started(stream.name)
        for account, error in sorted(stream.known_unavailable.items(), key=lambda item: str(item[0])):
            yield from failures.add(stream, account, error)
        if not reads:
            yield self._state_message(state_manager, stream)
            yield from statuses.ended(stream.name, AirbyteStreamStatus.INCOMPLETE)

    @staticmethod
    def _state_message(state_manager: ConnectorStateManager, stream: StripeStream) -> AirbyteMessage:
        state_manager.update_state_for_stream(stream.name, None, stream.state)
        return state_manager.create_state_message(stream.name, None)


def select_streams(streams: List[StripeStream], catalog: ConfiguredAirbyteCatalog, logger: logging.Logger) -> List[Tuple[StripeStream, Any]]:
    """The catalog's streams with their configured entries; an unknown stream is a config error."""
    by_name = {stream.name: stream for stream in streams}
    selected = []
    for configured in catalog.streams:
        name = configured.stream.name
        if name not in by_name:
            raise ConfigError(
                f"The catalog asks for stream '{name}', which this source does not have "
                f"(it has {len(by_name)} streams; see docs/streams.md). Refresh the source schema in the connection."
            )
        stream = by_name[name]
        selected.append((stream, configured))
        if configured.sync_mode != SyncMode.incremental:
            continue
        if not stream.spec.incremental:
            logger.warning("Stream %s can only be read in full (it has no cursor): it is read as a full refresh.", name)
        elif configured.cursor_field not in (None, [], [stream.spec.cursor]):
            logger.warning(
                "Stream %s: cursor field %s is not this stream's; its source-defined cursor '%s' is used.",
                name,
                configured.cursor_field,
                stream.spec.cursor,
            )
    return selected


class _StreamFailures:
    """The streams that failed, and why: those this account can't read (``availability.py``),
    reported as such or skipped with ``unavailable_streams: "skip"``, and every other failure."""

    def __init__(self, logger: logging.Logger, skip_unavailable: bool):
        self._logger = logger
        self._skip = skip_unavailable
        self.failures: Dict[str, AirbyteTracedException] = {}
        self.unreadable: Dict[str, StreamUnavailable] = {}
        self.skipped: set = set()

    def add(self, stream: StripeStream, account_id: Optional[str], error: BaseException) -> Iterator[AirbyteMessage]:
        whose = f" of {account_id}" if account_id else ""
        cannot = unavailable(stream.spec, error)
        if cannot is not None and self._skip:
            self.skipped.add(stream.name)
            self._logger.warning("Skipping stream %s%s: %s (unavailable_streams is 'skip').", stream.name, whose, cannot.reason)
            yield _analytics("stream_unavailable_skipped", stream.name)
            return
        if cannot is not None:
            self.unreadable.setdefault(stream.name, cannot)
        unexpected = f"Stream {stream.name} failed unexpectedly: {type(error).__name__}. See the logs for details."
        failure = traced(cannot or error, unexpected)
        self.failures.setdefault(stream.name, failure)
        self._logger.error("Stream %s%s failed: %s", stream.name, whose, failure.message)
        yield failure.as_sanitized_airbyte_message(stream_descriptor=StreamDescriptor(name=stream.name))

    def ended_short(self, name: str) -> bool:
        return name in self.failures or name in self.skipped

    def raise_if_any(self) -> None:
        """The sync's closing error: the streams this account can't read first, then the rest."""
        if not self.failures:
            return
        parts = []
        if self.unreadable:
            parts.append(
                f"{len(self.unreadable)} selected stream(s) can't be read with this account or key: "
                + "; ".join(f"{name} ({error.reason})" for name, error in sorted(self.unreadable.items()))
                + ". Enable them in Stripe, deselect them, or set 'unavailable_streams' to 'skip'."
            )
        others = {name: error for name, error in self.failures.items() if name not in self.unreadable}
        if others:
            parts.append("These streams did not sync completely: " + "; ".join(f"{name}: {error.message}" for name, error in others.items()))
        raise AirbyteTracedException(message=" ".join(parts), failure_type=_overall_failure_type(self.failures.values()))


def ends_the_read(error: BaseException) -> bool:
    """A rejected key or proxy token (401), or a host that can't be reached or never answered,
    fails every stream the same way: stop at the first."""
    return fails_every_call(error)


def summarize_problems(problems: Mapping[str, str], first: str, named: int = CHECK_STREAMS_NAMED) -> str:
    """"stream: why" for at most ``named`` streams, ``first`` first, the rest counted. Streams
    that fail for the same reason share it ("charges: HTTP 500 (also refunds and 40 more)")."""
    by_reason: Dict[str, List[str]] = {}
    for name in sorted(problems, key=lambda n: (n != first, n)):
        by_reason.setdefault(problems[name], []).append(name)
    groups = sorted(by_reason.items(), key=lambda group: (first not in group[1], -len(group[1])))
    parts, counted, left = [], 0, named
    for reason, names in groups[:named]:
        if left <= 0:
            break
        shown = names[1:left]
        more = f" and {len(names) - 1 - len(shown)} more" if len(names) - 1 > len(shown) else ""
        also = f" (also {', '.join(shown)}{more})" if len(names) > 1 else ""
        parts.append(f"{names[0]}: {reason}{also}")
        left -= 1 + len(shown)
        counted += len(names)
    if len(problems) > counted:
        parts.append(f"and {len(problems) - counted} more stream(s) for other reasons (each is in the log's warnings)")
    return "; ".join(parts)


def sample_events(client: StripeClient, plans: List[ReadPlan], options: ReadOptions) -> Dict[Optional[str], EventSample]:
    """For each account whose streams read more than 20 event types: the newest page of every
    event since the oldest cursor (one request), so ``share_events_read`` can tell whether one
    read of every event or a read per group of types costs fewer requests."""
    samples = {}
    now = int(options.clock())
    for account, since in needs_sample(plans).items():
        params: Dict[str, Any] = {"limit": options.page_size}
        if since is not None:
            params["created"] = {"gte": since}
        page = client.get(EVENTS_PATH, params, account_id=account)
        events = [e for e in page.get("data") or [] if isinstance(e, dict)]
        times = [e.get("created") for e in events if isinstance(e.get("created"), int)]
        samples[account] = EventSample(
            types=tuple(str(e.get("type")) for e in events),
            has_more=bool(page.get("has_more")),
            span_seconds=(max(times) - min(times)) if times else 0,
            window_seconds=max(0, now - since) if since is not None else 0,
        )
    return samples


def probe_every_stream(client: StripeClient, options: ReadOptions) -> Dict[Probe, Optional[BaseException]]:
    """Each top-level list once (``limit=1``): probe -> its error, or None when readable.

    The first probe (customers, the list most accounts read) goes alone, so a rejected key
    costs one request and ends the check at once; the others go side by side within the budget.
    """
    first, *rest = sorted(STREAM_SPECS.values(), key=lambda spec: spec.name != FIRST_PROBE)
    fetch = lambda probe: client.get(probe.path, probe.query)  # noqa: E731
    results = probe_all(probes([first], lambda spec: spec.path), fetch, 1, stop_on=_ends_the_check)
    own = None
    named = [spec for spec in rest if needs_own_account(spec)]
    if named:
        try:
            own = own_account_id(client)
        except StripeProxyError as error:
            if ends_the_read(error):
                raise
            # Without the account's id its own lists can't be asked for: they can't be read.
            results[Probe("/v1/account", (), tuple(spec.name for spec in named))] = error
            rest = [spec for spec in rest if not needs_own_account(spec)]
    context = ReadContext(client, options, None, own)
    checks = probes(rest, lambda spec: path_for_account(spec, context, None))
    results.update(probe_all(checks, fetch, concurrency_for(options, client.settings), stop_on=ends_the_read))
    return results


def _ends_the_check(error: BaseException) -> bool:
    """The first probe's errors that the others would meet too: those ending a read, and a
    failure that outlasted every retry (the service is down or overloaded: probing a hundred
    more lists, each retried for minutes, would only say so a hundred times)."""
    return ends_the_read(error) or getattr(error, "failure_type", None) == "transient_error"


def _before_reading(call: Any) -> Any:
    """A request made before the reader starts (the accounts to read): a rejected key ends the
    read as it would in the reader, with one error and no stack."""
    try:
        return call()
    except StripeProxyError as error:
        if ends_the_read(error):
            raise _read_ended(traced(error)) from None
        raise


def _read_ended(error: AirbyteTracedException) -> ReadEnded:
    """The error that ends a read: its message says what to fix; a worker's stack adds nothing."""
    return ReadEnded(internal_message=error.internal_message, message=error.message, failure_type=error.failure_type)


class _StreamStatuses:
    """STARTED, RUNNING and the end of each stream, each once, STARTED before anything else of it."""

    def __init__(self, descriptors: Mapping[str, Any]):
        self._descriptors = descriptors
        self._said: Dict[str, set] = {name: set() for name in descriptors}

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

    def __init__(self, plans: List[ReadPlan]):
        self._rows: Dict[Tuple[str, Optional[str]], Optional[int]] = {plan.key: None for plan in plans}
        self._complete: set = set()

    def update(self, plan: ReadPlan, rows: int) -> Optional[int]:
        self._rows[plan.key] = rows
        mine = [key for key in self._rows if key[0] == plan.name]
        if any(self._rows[key] is None and key not in self._complete for key in mine):
            return None
        return sum(self._rows[key] or 0 for key in mine)

    def complete(self, plan: ReadPlan) -> None:
        self._complete.add(plan.key)


def _analytics(kind: str, value: str) -> AirbyteMessage:
    trace = AirbyteTraceMessage(
        type=TraceType.ANALYTICS, emitted_at=time.time() * 1000, analytics=AirbyteAnalyticsTraceMessage(type=kind, value=value)
    )
    return AirbyteMessage(type=Type.TRACE, trace=trace)


def concurrency_for(options: ReadOptions, settings: ConnectionSettings) -> int:
    """Config `concurrency`, or enough requests in flight to fill the request budget."""
    return options.concurrency or default_concurrency(settings.requests_per_second)


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


def _overall_failure_type(errors) -> FailureType:
    kinds = {error.failure_type for error in errors}
    for kind in (FailureType.config_error, FailureType.transient_error):
        if kinds == {kind}:
            return kind
    return FailureType.system_error if FailureType.system_error in kinds else next(iter(kinds))


class _Safe:
    """AbstractSource.check formats the error with repr(); keep it to our plain message."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return self.message


__all__ = ["SourceStripeProxy"]
