"""The Airbyte destination: create and update Stripe customers and products, never twice.

The protocol side lives here: spec, check, catalog validation, reading the input
messages, holding STATE until every record before it has an outcome, reports and the
summary. Mapping, matching and writing live in ``writer.py``.

Records are taken in batches: a batch ends at each STATE message (or after
``BATCH_SIZE`` records). In ``append_dedup`` mode a batch keeps only the last record of
each key (the others are counted ``skipped``). A batch is written by a worker pool:
records of one key go, in order, to one worker, different keys run in parallel, all
within the client's request budget. A STATE message is echoed, unchanged, only after
every record of its batch has an outcome. With ``fail_fast`` records are written one at
a time, so nothing after the first rejection is written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airbyte_cdk.models import (
    AirbyteAnalyticsTraceMessage,
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteTraceMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Level,
    Status,
    TraceType,
    Type,
)

from source_stripe_proxy.airbyte.clients import reuse_client
from source_stripe_proxy.airbyte.errors import raises_traced
from source_stripe_proxy.airbyte.hooks import LenientInputDestination, UnreadableLine, load_spec
from source_stripe_proxy.core.budget import default_concurrency
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.destination.mapping import STREAMS, MappedRecord, RecordProblem, map_record
from source_stripe_proxy.destination.options import WriterOptions, destination_config
from source_stripe_proxy.destination.writer import (
    OUTCOME_KINDS,
    REJECTED,
    SKIPPED,
    Outcome,
    Position,
    RecordRejectedError,
    RecordWriter,
)

logger = logging.getLogger("airbyte")

CHECK_PATH = "/v1/customers"
BATCH_SIZE = 500
SUPPORTED_SYNC_MODES = (DestinationSyncMode.append, DestinationSyncMode.append_dedup)
SUMMARY_TRACE_TYPE = "stripe_destination_summary"

ClientFactory = Callable[[ConnectionSettings], StripeClient]


class DestinationStripeProxy(LenientInputDestination):
    # The CDK's jsonschema check quotes offending values (keys, tokens) in its message;
    # destination_config() validates every field with messages that never do.
    check_config_against_spec = False

    def __init__(self, client_factory: ClientFactory | None = None):
        """``client_factory`` exists for tests (fast retry backoff, an emulator without Stripe's
        search limit)."""
        super().__init__()
        self._client_factory: ClientFactory = client_factory or StripeClient
        self._client: StripeClient | None = None
        self.last_summary: dict[str, Any] | None = None

    # -- spec / check --------------------------------------------------------------

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return load_spec(__package__)

    def client_for(self, config: Mapping[str, Any]) -> StripeClient:
        self._client = reuse_client(self._client, ConnectionSettings.from_config(config), self._client_factory)
        return self._client

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            destination_config(config)
            client = self.client_for(config)
            client.get(CHECK_PATH, {"limit": 1})
        except StripeProxyError as error:
            # Our messages never carry config values, so they are safe in CONNECTION_STATUS.
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        except Exception as error:  # noqa: BLE001 - an unexpected failure, reported without details
            logger.error("check failed unexpectedly: %s", type(error).__name__)
            return AirbyteConnectionStatus(
                status=Status.FAILED, message=f"Unexpected {type(error).__name__} while checking the connection."
            )
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    # -- write ---------------------------------------------------------------------

    @raises_traced
    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        modes = validate_catalog(configured_catalog)
        options = destination_config(config).options
        client = self.client_for(config)
        run = WriteRun(RecordWriter(client, options), modes, options)
        try:
            for message in input_messages:
                yield from run.accept(message)
            yield from run.finish()
        except StripeProxyError:
            if not run.summarised:  # say what was done before the run stopped
                yield from run.summary_messages()
            raise
        finally:
            self.last_summary = run.summary()


def validate_catalog(catalog: ConfiguredAirbyteCatalog) -> dict[str, DestinationSyncMode]:
    """Stream name -> sync mode; a ConfigError naming the problem before anything is written."""
    modes: dict[str, DestinationSyncMode] = {}
    for configured in catalog.streams:
        name = configured.stream.name
        if name not in STREAMS:
            raise ConfigError(
                f"The catalog has a stream '{name}' this destination can't write. "
                f"It accepts only: {', '.join(STREAMS)}. Deselect the stream or map it to one of those."
            )
        mode = configured.destination_sync_mode
        if mode not in SUPPORTED_SYNC_MODES:
            mode_name = getattr(mode, "value", mode)
            raise ConfigError(
                f"Stream '{name}' uses destination sync mode '{mode_name}'; this destination supports only "
                "'append' and 'append_dedup' ('overwrite' would mean deleting Stripe objects)."
            )
        if name in modes and modes[name] != mode:
            raise ConfigError(f"Stream '{name}' appears twice in the catalog with different sync modes.")
        modes[name] = mode
    if not modes:
        raise ConfigError("The catalog has no streams; select customers and/or products.")
    return modes


def accepted_catalog(streams: Iterable[str] = tuple(STREAMS)) -> dict[str, Any]:
    """A configured catalog (as JSON) that ``validate_catalog`` accepts: ``append_dedup`` on the
    external id. For scripts and tests that feed this destination."""
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "append_dedup",
                "primary_key": [["external_id"]],
            }
            for name in streams
        ]
    }


class _Pending:
    """An input record waiting for its batch: mapped to Stripe parameters, or the problem that stopped it."""

    __slots__ = ("mapped", "position")

    def __init__(self, position: Position, mapped: MappedRecord | RecordProblem):
        self.position = position
        self.mapped = mapped


class WriteRun:
    """One ``write`` invocation: batches, outcomes, reports, STATE ordering and the summary."""

    def __init__(self, writer: RecordWriter, modes: Mapping[str, DestinationSyncMode], options: WriterOptions):
        self.writer = writer
        self.modes = modes
        self.options = options
        self.counts: dict[str, Counter] = {name: Counter() for name in modes}
        self.requests: Counter = Counter()
        self._pending: list[_Pending] = []
        self._ordinals: Counter = Counter()
        self._line = 0
        self._unknown_streams: Counter = Counter()
        self.unreadable_lines = 0  # lines whose stream couldn't be told (counted, not written)
        self._requests_at_start = writer.client.request_count
        self.summarised = False
        self.workers = 1 if options.fail_fast else write_concurrency(options, writer.client.settings)

    # -- input ---------------------------------------------------------------------

    def accept(self, message: AirbyteMessage) -> Iterator[AirbyteMessage]:
        self._line += 1
        if isinstance(message, UnreadableLine):
            yield from self._accept_unreadable(message)
        elif message.type == Type.RECORD and message.record is not None:
            yield from self._accept_record(message.record)
        elif message.type == Type.STATE:
            yield from self.flush()
            yield message  # unchanged, and only now that every record before it has an outcome
        # Other message types (LOG, TRACE from the source) are not ours to act on.

    def _accept_record(self, record: AirbyteRecordMessage) -> Iterator[AirbyteMessage]:
        stream = record.stream
        if stream not in self.modes:
            self._unknown_streams[stream] += 1
            if self._unknown_streams[stream] == 1:
                yield _log(Level.WARN, f"Skipping records of stream '{stream}': it is not in the configured catalog.")
            return
        self._ordinals[stream] += 1
        position = Position(stream, self._ordinals[stream], self._line)
        try:
            pending = _Pending(position, map_record(stream, record.data, self.options))
        except RecordProblem as problem:
            pending = _Pending(position, problem)
        self._pending.append(pending)
        if len(self._pending) >= BATCH_SIZE:
            yield from self.flush()

    def _accept_unreadable(self, line: UnreadableLine) -> Iterator[AirbyteMessage]:
        stream = line.stream if line.stream in self.modes else None
        if stream is None:
            self.unreadable_lines += 1
            yield _log(Level.ERROR, f"Rejected input line {line.number}: {line.reason}; its stream can't be told.")
            return
        self._ordinals[stream] += 1
        position = Position(stream, self._ordinals[stream], line.number)
        problem = RecordProblem("unreadable_record", f"Input line {line.number}: {line.reason}.")
        self._pending.append(_Pending(position, problem))

    # -- batches -------------------------------------------------------------------

    def flush(self) -> Iterator[AirbyteMessage]:
        batch, self._pending = self._pending, []
        superseded = self._superseded(batch)
        outcomes: dict[int, Outcome] = {}
        to_write: dict[int, MappedRecord] = {}
        by_key: dict[tuple[str, ...], list[int]] = {}
        for index, item in enumerate(batch):
            mapped = item.mapped
            if isinstance(mapped, RecordProblem):
                outcomes[index] = Outcome(REJECTED, item.position, error=mapped.error)
            elif index in superseded:
                outcomes[index] = Outcome(
                    SKIPPED, item.position, mapped.describe_key(), note="a later record with the same key in this batch wins"
                )
            else:
                to_write[index] = mapped
                by_key.setdefault((item.position.stream, *mapped.key), []).append(index)
        if self.workers == 1:
            for index, item in enumerate(batch):
                if index in to_write:
                    outcomes[index] = self.writer.write(to_write[index], item.position)
                yield from self._report(outcomes[index])
            return
        outcomes.update(self._write_concurrently(batch, to_write, list(by_key.values())))
        for index in range(len(batch)):
            yield from self._report(outcomes[index])

    def _write_concurrently(
        self, batch: list[_Pending], to_write: Mapping[int, MappedRecord], groups: list[list[int]]
    ) -> dict[int, Outcome]:
        """Each group (one key's records, in input order) runs on one worker."""
        stop = threading.Event()

        def write_group(indexes: list[int]) -> dict[int, Outcome]:
            done = {}
            for index in indexes:
                if stop.is_set():
                    break
                done[index] = self.writer.write(to_write[index], batch[index].position)
            return done

        outcomes: dict[int, Outcome] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="stripe-write") as pool:
            futures = [pool.submit(write_group, group) for group in groups]
            try:
                for future in futures:
                    outcomes.update(future.result())
            except BaseException:
                stop.set()  # a run-stopping error: start nothing new; this batch's STATE is never echoed
                raise
        return outcomes

    def _superseded(self, batch: list[_Pending]) -> set[int]:
        """append_dedup: indexes of records a later record of the same stream and key replaces."""
        last: dict[tuple[str, str, str], int] = {}
        for index, item in enumerate(batch):
            if isinstance(item.mapped, MappedRecord) and self.modes[item.position.stream] == DestinationSyncMode.append_dedup:
                kind, value = item.mapped.key
                last[(item.position.stream, kind, value)] = index
        keep = set(last.values())
        return {
            index
            for index, item in enumerate(batch)
            if isinstance(item.mapped, MappedRecord)
            and self.modes[item.position.stream] == DestinationSyncMode.append_dedup
            and index not in keep
        }

    def _report(self, outcome: Outcome) -> Iterator[AirbyteMessage]:
        stream = outcome.position.stream
        self.counts[stream][outcome.kind] += 1
        self.requests[stream] += outcome.requests
        if outcome.kind == REJECTED:
            yield rejection_log(outcome)
            if self.options.fail_fast:
                yield from self.summary_messages()
                raise RecordRejectedError(
                    f"Stopped at the first rejected record ({outcome.position}) because fail_fast is on: {_error_text(outcome.error)}"
                )
        elif self.options.dry_run and outcome.kind in ("created", "updated"):
            yield _log(Level.INFO, f"Dry run: would {outcome.kind[:-1]} {outcome.position} ({outcome.key}) -> {outcome.object_id}")
        if outcome.note:
            yield _log(Level.WARN, f"{outcome.position} ({outcome.key}): {outcome.note}.")

    # -- end -----------------------------------------------------------------------

    def finish(self) -> Iterator[AirbyteMessage]:
        yield from self.flush()
        yield from self.summary_messages()

    def summary(self) -> dict[str, Any]:
        streams = {name: {kind: counts.get(kind, 0) for kind in OUTCOME_KINDS} for name, counts in self.counts.items()}
        total = {kind: sum(s[kind] for s in streams.values()) for kind in OUTCOME_KINDS}
        records = sum(total.values())
        requests = self.writer.client.request_count - self._requests_at_start
        for name, counts in streams.items():
            counts["requests"] = self.requests.get(name, 0)
        return {
            "dry_run": self.options.dry_run,
            "streams": streams,
            "total": total,
            "records": records,
            "requests": requests,
            "requests_per_record": round(requests / records, 3) if records else 0.0,
            "skipped_unknown_streams": dict(self._unknown_streams),
            "unreadable_lines": self.unreadable_lines,
        }

    def summary_messages(self) -> Iterator[AirbyteMessage]:
        self.summarised = True
        summary = self.summary()
        title = "Stripe destination summary" + (
            " (dry run: nothing was written, counts are what would happen)" if summary["dry_run"] else ""
        )
        parts = []
        for name, counts in summary["streams"].items():
            parts.append(f"{name}: " + ", ".join(f"{counts[kind]} {kind}" for kind in OUTCOME_KINDS))
        unknown = sum(summary["skipped_unknown_streams"].values())
        text = (
            f"{title}: " + "; ".join(parts) + f". {summary['records']} records, {summary['requests']} requests "
            f"({summary['requests_per_record']} per record)."
            + (f" {unknown} records of streams outside the catalog were skipped." if unknown else "")
            + (f" {self.unreadable_lines} unreadable input lines were rejected." if self.unreadable_lines else "")
        )
        yield _log(Level.INFO, text)
        yield AirbyteMessage(
            type=Type.TRACE,
            trace=AirbyteTraceMessage(
                type=TraceType.ANALYTICS,
                emitted_at=_now_ms(),
                analytics=AirbyteAnalyticsTraceMessage(type=SUMMARY_TRACE_TYPE, value=json.dumps(summary, sort_keys=True)),
            ),
        )


def write_concurrency(options: WriterOptions, settings: ConnectionSettings) -> int:
    """Config `concurrency`, or enough writes in flight to fill the request budget."""
    return options.concurrency or default_concurrency(settings.requests_per_second)


def rejection_log(outcome: Outcome) -> AirbyteMessage:
    """An ERROR log naming the record's position and key and Stripe's error fields, nothing else."""
    error = dict(outcome.error or {})
    details = {
        "stream": outcome.position.stream,
        "ordinal": outcome.position.ordinal,
        "input_message": outcome.position.line,
        "key": outcome.key or None,
        "error": {k: error.get(k) for k in ("type", "code", "param", "message", "http_status") if error.get(k) is not None},
    }
    key = f" ({outcome.key})" if outcome.key else ""
    text = f"Rejected {outcome.position}{key}: {_error_text(error)} | {json.dumps(details, sort_keys=True)}"
    return _log(Level.ERROR, text)


def _error_text(error: Mapping[str, Any] | None) -> str:
    error = error or {}
    labels = ", ".join(f"{k} {error[k]}" for k in ("type", "code", "param") if error.get(k))
    return f"[{labels}] {error.get('message') or 'no message'}"


def _log(level: Level, message: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=message))


def _now_ms() -> float:
    return time.time() * 1000


__all__ = ["DestinationStripeProxy", "WriteRun", "accepted_catalog", "validate_catalog"]
