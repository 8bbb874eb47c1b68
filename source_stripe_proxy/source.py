"""The Airbyte source: spec, check, discover and read over the shared client.

``read`` asks each configured stream for its jobs (one per Connect account with
``account_ids``; a list read or an events read, see ``streams.py``), hands them all to the
concurrent reader (``reader.py``) and turns its events into protocol messages on this thread:
records, then per-stream STATE only after the records it covers, and STARTED / RUNNING /
COMPLETE / INCOMPLETE stream status traces (a stream ends when all its accounts' jobs have).
"""

from __future__ import annotations

import logging
import math
import re
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

from source_stripe_proxy.client import StripeClient
from source_stripe_proxy.errors import ConfigError, StripeProxyError
from source_stripe_proxy.reader import ConcurrentReader
from source_stripe_proxy.settings import MAX_PAGE_SIZE, ConnectionSettings, parse_start_date
from source_stripe_proxy.streams import CURSOR_FIELD, SECONDS_PER_DAY, ReadOptions, StripeStream, build_streams

CHECK_PATH = "/v1/customers"  # one page of one cheap endpoint
SYNC_MODES = ("full_refresh", "incremental")
MAX_CONCURRENCY = 64
ALL_ACCOUNTS = ("all",)
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]+")
CHOICES = {"event_payloads": ("payload", "refetch"), "on_stale_state": ("full_refresh", "fail")}


class SourceStripeProxy(AbstractSource):
    # The CDK's jsonschema check quotes the offending value (a key, a token) in its error;
    # settings.py and read_options() validate every field with messages that never do.
    check_config_against_spec = False

    def __init__(self) -> None:
        super().__init__()
        self._client: Optional[StripeClient] = None

    def client_for(self, config: Mapping[str, Any]) -> StripeClient:
        """One client (and one request budget) per connection settings for the whole process."""
        settings = ConnectionSettings.from_config(config)
        if self._client is None or self._client.settings != settings:
            for secret in settings.secrets:
                add_to_secrets(secret)  # the CDK masks these in LOG messages
            self._client = StripeClient(settings, pool_size=concurrency_for(config, settings))
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
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        """The CDK's parser fails on a bad sync mode with a bare system error; name the field."""
        raw = cls._read_json_file(catalog_path)
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
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        """The CDK refuses a pre-per-stream state object with a bare system error; say what to do."""
        if state_path and not isinstance(cls._read_json_file(state_path), (list, type(None))):
            raise ConfigError(
                "The state file holds one object (the old, pre-per-stream format). This source needs a list of "
                "per-stream STATE messages: reset the connection's state, or wrap each stream's state as "
                '{"type": "STREAM", "stream": {"stream_descriptor": {"name": ...}, "stream_state": ...}}.'
            )
        return super().read_state(state_path)

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        options = read_options(config)
        client = self.client_for(config)
        return build_streams(client, options)

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
        concurrency = concurrency_for(config, client.settings)
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
                    error = _traced(event[2], job.name)
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


def read_options(config: Mapping[str, Any]) -> ReadOptions:
    def whole_number(key: str, default: int, low: int, high: int) -> int:
        value = config.get(key)
        if value is None:
            return default  # absent or null: the default; 0 is a value and is checked
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"'{key}' must be a whole number from {low} to {high}.")
        return value

    lookback_days = whole_number("lookback_window_days", 0, 0, 3650)
    window_days = whole_number("slice_range_days", 365, 1, 3650)
    page_size = whole_number("page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    whole_number("concurrency", 1, 1, MAX_CONCURRENCY)
    for key, allowed in CHOICES.items():
        if config.get(key) not in (None, *allowed):
            raise ConfigError(f"'{key}' must be one of: {', '.join(allowed)}.")
    return ReadOptions(
        start_date=parse_start_date(config.get("start_date")),
        lookback_seconds=lookback_days * SECONDS_PER_DAY,
        window_seconds=window_days * SECONDS_PER_DAY,
        page_size=page_size,
        refetch_always=config.get("event_payloads") == "refetch",
        fail_on_stale_state=config.get("on_stale_state") == "fail",
        account_ids=parse_account_ids(config),
    )


def parse_account_ids(config: Mapping[str, Any]) -> Optional[Tuple[str, ...]]:
    """``account_ids``: a list of ``acct_...`` ids, or ``"all"`` (also ``["all"]``); None when unset."""
    value = config.get("account_ids")
    if value in (None, "", []):
        return None
    if config.get("account_id"):
        raise ConfigError("Set either 'account_id' (one account) or 'account_ids' (several), not both.")
    if value == "all" or value == ["all"]:
        return ALL_ACCOUNTS
    if not isinstance(value, list) or not all(isinstance(v, str) and ACCOUNT_ID.fullmatch(v) for v in value):
        raise ConfigError("'account_ids' must be a list of Stripe Connect account ids (acct_ followed by letters and digits), or \"all\".")
    if len(set(value)) != len(value):
        raise ConfigError("'account_ids' lists the same account twice.")
    return tuple(value)


def concurrency_for(config: Mapping[str, Any], settings: ConnectionSettings) -> int:
    """Config `concurrency`, or enough requests in flight to fill the budget at ~400 ms latency."""
    configured = config.get("concurrency")
    if isinstance(configured, int) and not isinstance(configured, bool) and 1 <= configured <= MAX_CONCURRENCY:
        return configured
    return max(2, min(32, math.ceil(settings.requests_per_second * 0.4)))


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


def _traced(error: BaseException, stream_name: str) -> AirbyteTracedException:
    if isinstance(error, AirbyteTracedException):
        return error
    return AirbyteTracedException.from_exception(
        error, message=f"Stream {stream_name} failed unexpectedly: {type(error).__name__}. See the logs for details."
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
