"""The Airbyte source: spec, check, discover and read over the shared client.

``discover`` offers every stream of the generated catalogue (``stream_specs.py``) without a
request. ``check`` probes every stream's list cheaply (``limit=1``, side by side within the
request budget): it succeeds when one stream is readable, and logs which are not and why.

``read`` resolves the Connect accounts (``accounts.py``), plans each configured stream's reads
(``streams.plan_stream``: one per account with ``account_ids``; a list read or an events read,
from the saved state), makes the events reads of all streams one (``events_read.py``), and hands
them to a ``sync.SyncRun``, which runs the concurrent reader (``reader/``) and turns its signals
into protocol messages: records, per-stream STATE after the records it covers, stream statuses,
and the errors that end a read (see ``sync.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_stripe_proxy.airbyte.clients import reuse_client
from source_stripe_proxy.airbyte.errors import raises_traced, traced
from source_stripe_proxy.airbyte.hooks import load_spec, read_json_file
from source_stripe_proxy.core.budget import default_concurrency
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.source.accounts import connected_accounts
from source_stripe_proxy.source.availability import Probe, probe_all, probes, unavailable
from source_stripe_proxy.source.events_read import EVENTS_PATH, EventSample, needs_sample, share_events_read
from source_stripe_proxy.source.options import ReadOptions, read_options, source_config
from source_stripe_proxy.source.read_cost import read_cost
from source_stripe_proxy.source.reader import ReadPlan
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from source_stripe_proxy.source.streams import (
    ReadContext,
    StripeStream,
    build_streams,
    needs_own_account,
    own_account_id,
    path_for_account,
)
from source_stripe_proxy.source.sync import SyncRun, ends_the_read, read_ended

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
        self._client: StripeClient | None = None
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

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any | None]:
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
        readable: list[str] = []
        problems: dict[str, str] = {}
        for probe, failure in results.items():
            for name in probe.streams:
                if failure is None:
                    readable.append(name)
                    continue
                reason = unavailable(STREAM_SPECS[name], failure)
                problems[name] = reason.reason if reason else str(failure)
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
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        """The CDK refuses a pre-per-stream state object with a bare system error; say what to do."""
        if state_path and not isinstance(read_json_file(state_path), (list, type(None))):
            raise ConfigError(
                "The state file holds one object (the old, pre-per-stream format). This source needs a list of "
                "per-stream STATE messages: reset the connection's state, or wrap each stream's state as "
                '{"type": "STREAM", "stream": {"stream_descriptor": {"name": ...}, "stream_state": ...}}.'
            )
        return super().read_state(state_path)

    @raises_traced
    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        options = read_options(config)
        client = self.client_for(config)
        return list(build_streams(client, options))  # the CDK's list[Stream] (a list is invariant)

    @raises_traced
    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        config, _ = split_config(config)
        options = dataclasses.replace(read_options(config), clock=self._clock)
        client = self.client_for(config)
        metered = client.meter.snapshot()  # this read's requests are those counted from here
        selected = select_streams(build_streams(client, options), catalog, logger)
        concurrency = concurrency_for(options, client.settings)
        accounts = _before_reading(lambda: connected_accounts(client, options.account_ids, concurrency)) if selected else None
        own, unplanned = None, {}
        if accounts is None and any(needs_own_account(stream.spec) for stream, _ in selected):
            try:
                own = _before_reading(lambda: own_account_id(client))
            except StripeProxyError as error:  # e.g. a key without the account permission: those streams can't be read
                unplanned = {stream.name: error for stream, _ in selected if needs_own_account(stream.spec)}
        context = ReadContext.for_sync(client, options, concurrency, own, selected=(stream.name for stream, _ in selected))
        sync = SyncRun(logger, client, options, selected, ConnectorStateManager(state=state), concurrency)
        plans: list[ReadPlan] = []
        try:
            plans = sync.plan(context, accounts, unplanned)
            plans = share_events_read(plans, _before_reading(lambda: sample_events(client, plans, options)))
            yield from sync.run(plans)
        finally:
            context.pages.close()
            logger.info(read_cost(client.meter.since(metered), plans).line())


def select_streams(
    streams: list[StripeStream], catalog: ConfiguredAirbyteCatalog, logger: logging.Logger
) -> list[tuple[StripeStream, Any]]:
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


def summarize_problems(problems: Mapping[str, str], first: str, named: int = CHECK_STREAMS_NAMED) -> str:
    """ "stream: why" for at most ``named`` streams, ``first`` first, the rest counted. Streams
    that fail for the same reason share it ("charges: HTTP 500 (also refunds and 40 more)")."""
    by_reason: dict[str, list[str]] = {}
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


def sample_events(client: StripeClient, plans: list[ReadPlan], options: ReadOptions) -> dict[str | None, EventSample]:
    """For each account whose streams read more than 20 event types: the newest page of every
    event since the oldest cursor (one request), so ``share_events_read`` can tell whether one
    read of every event or a read per group of types costs fewer requests."""
    samples = {}
    now = int(options.clock())
    for account, since in needs_sample(plans).items():
        params: dict[str, Any] = {"limit": options.page_size}
        if since is not None:
            params["created"] = {"gte": since}
        page = client.get(EVENTS_PATH, params, account_id=account)
        events = [e for e in page.get("data") or [] if isinstance(e, dict)]
        times = [e["created"] for e in events if isinstance(e.get("created"), int)]
        samples[account] = EventSample(
            types=tuple(str(e.get("type")) for e in events),
            has_more=bool(page.get("has_more")),
            span_seconds=(max(times) - min(times)) if times else 0,
            window_seconds=max(0, now - since) if since is not None else 0,
        )
    return samples


def probe_every_stream(client: StripeClient, options: ReadOptions) -> dict[Probe, BaseException | None]:
    """Each top-level list once (``limit=1``): probe -> its error, or None when readable.

    The first probe (customers, the list most accounts read) goes alone, so a rejected key
    costs one request and ends the check at once; the others go side by side within the budget.
    """
    first, *rest = sorted(STREAM_SPECS.values(), key=lambda spec: spec.name != FIRST_PROBE)

    def fetch(probe: Probe) -> Any:
        return client.get(probe.path, probe.query)

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
    context = ReadContext.for_sync(client, options, 1, own)  # no child lists are probed: its pool never starts
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
            raise read_ended(traced(error)) from None
        raise


def concurrency_for(options: ReadOptions, settings: ConnectionSettings) -> int:
    """Config `concurrency`, or enough requests in flight to fill the request budget."""
    return options.concurrency or default_concurrency(settings.requests_per_second)


class _Safe:
    """AbstractSource.check formats the error with repr(); keep it to our plain message."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return self.message


__all__ = ["SourceStripeProxy"]
