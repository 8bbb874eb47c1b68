"""The Airbyte source: spec, check, discover and read over the shared client.

``read`` asks each configured stream for its jobs (one per Connect account with
``account_ids``; a list read or an events read, see ``streams.py``), hands them all to the
concurrent reader (``reader/``) and turns its events into protocol messages on this thread:
records, then per-stream STATE only after the records it covers, and STARTED / RUNNING /
COMPLETE / INCOMPLETE stream status traces (a stream ends when all its accounts' jobs have).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

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
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as stream_status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy.airbyte.errors import raises_traced, traced
from source_stripe_proxy.airbyte.hooks import load_spec, read_json_file
from source_stripe_proxy.core.budget import default_concurrency
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.source.options import ALL_ACCOUNTS, ReadOptions, read_options
from source_stripe_proxy.source.reader import ConcurrentReader
from source_stripe_proxy.source.streams import CURSOR_FIELD, StripeStream, build_streams

CHECK_PATH = "/v1/customers"  # one page of one cheap endpoint
SYNC_MODES = ("full_refresh", "incremental")


class SourceStripeProxy(AbstractSource):
    # The CDK's jsonschema check quotes the offending value (a key, a token) in its error;
    # settings.py and read_options() validate every field with messages that never do.
    check_config_against_spec = False

    def __init__(self) -> None:
        super().__init__()
        self._client: Optional[StripeClient] = None

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return load_spec(__package__)

    def client_for(self, config: Mapping[str, Any]) -> StripeClient:
        """One client (and one request budget) per connection settings for the whole process."""
        settings = ConnectionSettings.from_config(config)
        if self._client is None or self._client.settings != settings:
            for secret in settings.secrets:
                add_to_secrets(secret)  # the CDK masks these in LOG messages
            self._client = StripeClient(settings, pool_size=concurrency_for(read_options(config), settings))
        return self._client

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        try:
            read_options(config)
            client = self.client_for(config)
            client.get(CHECK_PATH, {"limit": 1})
        except StripeProxyError as error:
            # Our messages never carry config values, so they are safe in CONNECTION_STATUS.
            return False, _Safe(str(error))
        logger.info("Connected to Stripe through %s.", client.settings.mode)
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
        streams: Dict[str, StripeStream] = {s.name: s for s in self.streams(config)}
        client = self._client
        state_manager = ConnectorStateManager(state=state)
        selected = []
        for configured in catalog.streams:
            name = configured.stream.name
            if name not in streams:
                raise ConfigError(
                    f"The catalog asks for stream '{name}', which this source does not have "
                    f"(it has: {', '.join(streams)}). Refresh the source schema in the connection."
                )
            selected.append((streams[name], configured))
            if configured.sync_mode == SyncMode.incremental and configured.cursor_field not in (None, [], [CURSOR_FIELD]):
                logger.warning(
                    "Stream %s: cursor field %s is not this stream's; its source-defined cursor '%s' is used.",
                    name,
                    configured.cursor_field,
                    CURSOR_FIELD,
                )
        accounts = connected_accounts(client, read_options(config).account_ids) if selected else None
        jobs, descriptors = [], {}
        for stream, configured in selected:
            stream.accounts = accounts
            if configured.sync_mode == SyncMode.incremental:
                stream.state = state_manager.get_stream_state(stream.name, None)
            jobs.extend(stream.jobs(configured.sync_mode))  # a stale state may fail here, before any read
            descriptors[stream.name] = configured.stream

        failures: Dict[str, AirbyteTracedException] = {}
        concurrency = concurrency_for(read_options(config), client.settings)
        logger.info("Reading %d streams (%d jobs) with up to %d concurrent requests.", len(selected), len(jobs), concurrency)
        started = time.monotonic()
        remaining = Counter(job.name for job in jobs)  # a stream ends when all its accounts' jobs have
        try:
            for stream, _ in selected:
                for kind, warning in stream.warnings:
                    logger.warning(warning)
                    yield _analytics(kind, stream.name)
                yield stream_status_message(descriptors[stream.name], AirbyteStreamStatus.STARTED)
                if not remaining[stream.name]:  # `account_ids: "all"` found no account
                    yield self._state_message(state_manager, stream)
                    yield stream_status_message(descriptors[stream.name], AirbyteStreamStatus.COMPLETE)
            running, estimates = set(), {}
            for event in ConcurrentReader(client, concurrency).run(jobs):
                kind, job = event[0], event[1]
                stream = streams[job.name]
                if kind == "records":
                    if job.name not in running:
                        running.add(job.name)
                        yield stream_status_message(descriptors[job.name], AirbyteStreamStatus.RUNNING)
                    emitted_at = int(time.time() * 1000)
                    for record in event[2]:
                        yield AirbyteMessage(
                            type=Type.RECORD, record=AirbyteRecordMessage(stream=job.name, data=record, emitted_at=emitted_at)
                        )
                    continue
                if kind == "state":
                    stream.advance(job, event[2])
                    yield self._state_message(state_manager, stream)
                    continue
                if kind == "estimate":
                    estimates[job.key] = event[2]
                    yield _estimate(job.name, sum(n for key, n in estimates.items() if key[0] == job.name))
                    continue
                if kind == "complete":
                    stream.finish(job)  # every job checkpoints at least once, at its end
                    yield self._state_message(state_manager, stream)
                elif kind == "failed":
                    error = traced(event[2], f"Stream {job.name} failed unexpectedly: {type(event[2]).__name__}. See the logs for details.")
                    failures.setdefault(job.name, error)
                    logger.error("Stream %s%s failed: %s", job.name, f" of {job.account_id}" if job.account_id else "", error.message)
                    yield error.as_sanitized_airbyte_message(stream_descriptor=StreamDescriptor(name=job.name))
                remaining[job.name] -= 1
                if not remaining[job.name]:
                    status = AirbyteStreamStatus.INCOMPLETE if job.name in failures else AirbyteStreamStatus.COMPLETE
                    yield stream_status_message(descriptors[job.name], status)
        finally:
            logger.info(
                "Stripe requests: %d (%d of them retries) in %.1fs.",
                client.request_count,
                client.retry_count,
                time.monotonic() - started,
            )
        if failures:
            raise AirbyteTracedException(
                message="These streams did not sync completely: "
                + "; ".join(f"{name}: {error.message}" for name, error in failures.items()),
                failure_type=_overall_failure_type(failures.values()),
            )

    @staticmethod
    def _state_message(state_manager: ConnectorStateManager, stream: StripeStream) -> AirbyteMessage:
        state_manager.update_state_for_stream(stream.name, None, stream.state)
        return state_manager.create_state_message(stream.name, None)


def connected_accounts(client: StripeClient, account_ids: Optional[Tuple[str, ...]]) -> Optional[Tuple[str, ...]]:
    """The accounts to read: as configured, or for ``"all"`` every account ``/v1/accounts`` lists."""
    if account_ids != ALL_ACCOUNTS:
        return account_ids
    return tuple(account["id"] for account in client.list_objects("/v1/accounts", page_size=MAX_PAGE_SIZE))


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
