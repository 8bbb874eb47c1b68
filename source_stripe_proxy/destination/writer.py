"""Write records into Stripe: map, match, create or update, never twice.

This module is the destination's engine; ``destination.py`` only speaks the Airbyte
protocol around it. Everything that differs between streams is data (``STREAMS``):
the path, the id prefix, the fields a record may set and how an existing object is
found. The code below reads that table and has no per-stream branches.

How a record is matched (see docs/destination.md for the guarantees):

* ``id`` (``cus_...`` / ``prod_...``): that object, fetched by id (strongly consistent).
* products without ``id``: a *derived* product id, ``prod_x_<slug>_<hash>``, computed from
  the external key. ``GET`` it (strongly consistent); 404 -> create with that id;
  ``resource_already_exists`` (a concurrent writer won) -> fetch and update.
* customers without ``id``: ``GET /v1/customers?email=`` when ``match_customers_by_email``
  (strongly consistent), then the Search API on ``metadata['<external_id_field>']``
  (eventually consistent: it can lag writes by about a minute). Two things make search
  safe: an in-run cache of key -> id, and the deterministic Idempotency-Key of the
  create, so re-running the same input within Stripe's 24 h idempotency window replays
  the original create (same customer back) even when search has not indexed it yet.
  What search cannot rule out: a record whose data *changed* re-sent within about a
  minute of the run that created its customer (docs/destination.md says so plainly).

Idempotency keys are deterministic (``idempotency.py``); records become Stripe parameters
in ``mapping.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from source_stripe_proxy.core.client import ApiResponse, StripeClient
from source_stripe_proxy.core.errors import ConfigError, FailureType, StripeAPIError, StripeProxyError
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.destination.idempotency import derived_product_id, idempotency_key
from source_stripe_proxy.destination.mapping import (
    MATCH_BY_DERIVED_ID,
    STREAMS,
    MappedRecord,
    RecordProblem,
    StreamTable,
    apply_payload,
    create_params,
    current_values,
    payload_matches,
    update_params,
)
from source_stripe_proxy.destination.options import WriterOptions

logger = logging.getLogger("airbyte.destination_stripe_proxy")


SEARCH_PAGE_SIZE = 10
EMAIL_PAGE_SIZE = MAX_PAGE_SIZE

# Outcome kinds, in the order the summary lists them.
CREATED, UPDATED, UNCHANGED, REJECTED, SKIPPED = "created", "updated", "unchanged", "rejected", "skipped"
OUTCOME_KINDS = (CREATED, UPDATED, UNCHANGED, REJECTED, SKIPPED)


def search_query(field_name: str, value: str) -> str:
    """``metadata['<field>']:'<value>'`` in Stripe's search language, quotes escaped."""
    return f"metadata[{_quote(field_name)}]:{_quote(value)}"


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- outcomes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a record sits in the input: its stream and 1-based ordinal there, and its line."""

    stream: str
    ordinal: int
    line: int

    def __str__(self) -> str:
        return f"{self.stream} record #{self.ordinal} (input message {self.line})"


@dataclass
class Outcome:
    kind: str
    position: Position
    key: str = ""
    object_id: str | None = None
    error: Mapping[str, Any] | None = None  # Stripe's error fields for rejections
    requests: int = 0
    note: str = ""


class SearchUnavailableError(ConfigError):
    """The account (or the Stripe stand-in) has no Search API: external-id matching can't work."""


class RecordRejectedError(StripeProxyError):
    """fail_fast: the run stops at the first rejected record (the user must fix the data)."""

    failure_type_default = FailureType.config_error


# -- the writer --------------------------------------------------------------------------


@dataclass
class _Found:
    obj: Mapping[str, Any] | None  # current object, or None: create
    create_id: str | None = None  # caller-chosen id for the create (products)
    note: str = ""


class RecordWriter:
    """Writes one mapped record and returns its outcome; never raises for a bad record.

    Raises only for failures that stop the run (auth, permissions, proxy errors, retries
    exhausted): those are typed errors from the client. Thread-safe: ``WriteRun`` writes
    records of different keys concurrently (records of one key stay in order on one
    thread), and the shared key -> object caches sit behind a lock.
    """

    def __init__(self, client: StripeClient, options: WriterOptions):
        self.client = client
        self.options = options
        self._ids: dict[tuple[str, str, str], str] = {}  # (stream, key kind, key value) -> object id
        self._objects: dict[tuple[str, str], Mapping[str, Any]] = {}  # (stream, id) -> last known object
        self._planned = 0
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------

    def write(self, record: MappedRecord, position: Position) -> Outcome:
        table = STREAMS[record.stream]
        requests_before = self.client.thread_request_count()
        outcome = Outcome(kind=UNCHANGED, position=position, key=record.describe_key())
        try:
            found = self._find(table, record)
            if found.obj is None:
                outcome.kind, outcome.object_id = self._create(table, record, found.create_id)
            else:
                outcome.kind, outcome.object_id = self._update_if_changed(table, record, found.obj)
            outcome.note = found.note
        except RecordProblem as problem:
            outcome.kind, outcome.error = REJECTED, problem.error
        except StripeAPIError as error:
            if not is_record_error(error):
                raise
            outcome.kind, outcome.error = REJECTED, stripe_error_fields(error)
        finally:
            outcome.requests = self.client.thread_request_count() - requests_before
        return outcome

    # -- matching -------------------------------------------------------------------

    def _find(self, table: StreamTable, record: MappedRecord) -> _Found:
        cached = self._cached(table, record)
        if cached is not None:
            return _Found(cached)
        if record.stripe_id:
            return _Found(self._retrieve(table, record.stripe_id, missing_ok=False))
        if table.match == MATCH_BY_DERIVED_ID:
            derived = derived_product_id(record.external_id or "")
            return _Found(self._retrieve(table, derived, missing_ok=True), create_id=derived)
        return self._find_customer(table, record)

    def _find_customer(self, table: StreamTable, record: MappedRecord) -> _Found:
        ext_field, ext = self.options.external_id_field, record.external_id
        unclaimed: list[Mapping[str, Any]] = []
        if table.email_filter and self.options.match_customers_by_email and record.email:
            candidates = list(self.client.get(table.path, {table.email_filter: record.email, "limit": EMAIL_PAGE_SIZE}).get("data") or [])
            if ext is None:
                if len(candidates) > 1:
                    raise RecordProblem(
                        "ambiguous_match",
                        f"{len(candidates)} {table.name} have this email; give the record an 'id' or an external id.",
                        param="email",
                    )
                return _Found(candidates[0] if candidates else None)
            mine = [c for c in candidates if (c.get("metadata") or {}).get(ext_field) == ext]
            if mine:
                return _Found(_oldest(mine), note=_duplicates_note(mine))
            unclaimed = [c for c in candidates if not (c.get("metadata") or {}).get(ext_field)]
        search_path = table.search_path  # set: only tables matched by search come here
        if ext is not None and search_path is not None:
            try:
                page = self.client.get(search_path, {"query": search_query(ext_field, ext), "limit": SEARCH_PAGE_SIZE})
            except StripeAPIError as error:
                if error.http_status == 404:  # no such endpoint here: every record would fail the same way
                    raise SearchUnavailableError(
                        f"Stripe's Search API is not available (GET {search_path} answered 404), so {table.name} "
                        "without an 'id' can't be matched by external id. Send Stripe ids, or match by email "
                        "and leave the external id out."
                    ) from None
                raise
            hits = [h for h in page.get("data") or [] if (h.get("metadata") or {}).get(ext_field) == ext]
            if hits:
                return _Found(_oldest(hits), note=_duplicates_note(hits))
        if len(unclaimed) > 1:
            raise RecordProblem(
                "ambiguous_match",
                f"{len(unclaimed)} {table.name} have this email and none carries the record's external id; "
                "give the record an 'id', or tag one of them with the external id in metadata.",
                param="email",
            )
        return _Found(unclaimed[0] if unclaimed else None)

    @overload
    def _retrieve(self, table: StreamTable, object_id: str, *, missing_ok: Literal[False]) -> Mapping[str, Any]: ...
    @overload
    def _retrieve(self, table: StreamTable, object_id: str, *, missing_ok: bool) -> Mapping[str, Any] | None: ...
    def _retrieve(self, table: StreamTable, object_id: str, *, missing_ok: bool) -> Mapping[str, Any] | None:
        try:
            obj = self.client.get(table.object_path("get", object_id))
        except StripeAPIError as error:
            if missing_ok and error.http_status == 404 and error.source == "stripe":
                return None
            raise
        if obj.get("deleted"):
            raise RecordProblem(
                "resource_deleted",
                f"{table.object_name.capitalize()} {object_id} was deleted in Stripe.",
                param="id",
                error_type="invalid_request_error",
            )
        return obj

    def _cached(self, table: StreamTable, record: MappedRecord) -> Mapping[str, Any] | None:
        with self._lock:
            kind, value = record.key
            object_id = self._ids.get((table.name, kind, value))
            return self._objects.get((table.name, object_id)) if object_id else None

    def _remember(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> None:
        with self._lock:
            self._remember_locked(table, record, obj)

    def _remember_locked(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> None:
        self._objects[(table.name, obj["id"])] = obj
        kind, value = record.key
        self._ids[(table.name, kind, value)] = obj["id"]
        if record.external_id is not None:
            self._ids[(table.name, "external_id", record.external_id)] = obj["id"]
        self._ids[(table.name, "id", obj["id"])] = obj["id"]

    # -- writing --------------------------------------------------------------------

    def _create(self, table: StreamTable, record: MappedRecord, create_id: str | None) -> tuple[str, str]:
        if self.options.dry_run:
            with self._lock:
                self._planned += 1
                planned_id = create_id or f"(new {table.object_name} {self._planned})"
            self._remember(table, record, apply_payload({"id": planned_id}, record.payload))
            return CREATED, planned_id
        params = create_params(record.payload)
        if create_id:
            params["id"] = create_id
        key = idempotency_key(table.name, "create", record.key, params)
        try:
            created = self._post(table.path, params, key)
        except StripeAPIError as error:
            if create_id and error.code == "resource_already_exists":
                # Created by someone else (a concurrent run) between our GET and POST: update it.
                return self._update_if_changed(table, record, self._retrieve(table, create_id, missing_ok=False))
            raise
        if not created.replayed_from_earlier_run:
            self._remember(table, record, created.data)
            return CREATED, created.data["id"]
        # An earlier run created it with this very payload (search had not indexed it yet).
        # The replay shows the object as it was then; compare with what it is now.
        current = self._retrieve(table, created.data["id"], missing_ok=False)
        return self._update_if_changed(table, record, current)

    def _update_if_changed(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> tuple[str, str]:
        if payload_matches(record.payload, obj):
            self._remember(table, record, obj)
            return UNCHANGED, obj["id"]
        return self._update(table, record, obj)

    def _update(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> tuple[str, str]:
        object_id = obj["id"]
        if self.options.dry_run:
            self._remember(table, record, apply_payload(obj, record.payload))
            return UPDATED, object_id
        params = update_params(table, record.payload, obj)
        before = current_values(params, obj)
        key = idempotency_key(table.name, "update", record.key, params, target_id=object_id, before=before)
        response = self._post(table.object_path("update", object_id), params, key)
        self._remember(table, record, response.data)
        return (UNCHANGED if response.replayed_from_earlier_run else UPDATED), object_id

    def _post(self, path: str, params: Mapping[str, Any], key: str) -> _Posted:
        response: ApiResponse = self.client.send("POST", path, data=params, idempotency_key=key)
        # A replay while the client retried is our own first attempt coming back (its
        # response was lost); a replay on the first attempt is an earlier run's write.
        return _Posted(response.data, response.idempotent_replayed and response.attempts == 1)


@dataclass(frozen=True)
class _Posted:
    data: Mapping[str, Any]
    replayed_from_earlier_run: bool


def _oldest(objects: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    return min(objects, key=lambda o: (o.get("created") or 0, o.get("id") or ""))


def _duplicates_note(objects: list[Mapping[str, Any]]) -> str:
    if len(objects) < 2:
        return ""
    return f"{len(objects)} objects carry this external id; the oldest was used"


def is_record_error(error: StripeAPIError) -> bool:
    """Stripe refused this record (bad value, unknown id): report it and go on.

    Auth (401/403), rate limits, server errors and anything a proxy said stop the run.
    """
    return error.source == "stripe" and 400 <= error.http_status < 500 and error.http_status not in (401, 403, 429)


def stripe_error_fields(error: StripeAPIError) -> dict[str, Any]:
    return {
        "type": error.error_type,
        "code": error.code,
        "param": error.param,
        "message": error.stripe_message or str(error),
        "http_status": error.http_status,
    }


__all__ = ["OUTCOME_KINDS", "Outcome", "Position", "RecordRejectedError", "RecordWriter", "SearchUnavailableError", "search_query"]
