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

Idempotency keys: ``sp-<stream>-<action>-<sha256 hex[:48]>`` of the canonical JSON of
``["v1", stream, action, record key, target id, payload, before]``, where ``before`` is
the object's current value of every field the payload sets (updates only). The same
input against the same Stripe state gives the same key, so a retried or re-run write
replays instead of applying twice; a genuinely different write gets a different key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from source_stripe_proxy.core.client import ApiResponse, StripeClient
from source_stripe_proxy.core.errors import ConfigError, FailureType, StripeAPIError, StripeProxyError
from source_stripe_proxy.destination.options import WriterOptions

logger = logging.getLogger("airbyte.destination_stripe_proxy")

# -- facts -------------------------------------------------------------------------------

STRING, BOOLEAN, ADDRESS, METADATA = "string", "boolean", "address", "metadata"
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
# Hash fields an update replaces as a whole (metadata, by contrast, merges key by key).
REPLACED_WHOLE = frozenset({ADDRESS})

# How an object without a Stripe id is found.
MATCH_BY_SEARCH = "search"  # Search API on metadata (eventually consistent) + idempotent create
MATCH_BY_DERIVED_ID = "derived_id"  # caller-chosen id derived from the key (strongly consistent)

SEARCH_PAGE_SIZE = 10
EMAIL_PAGE_SIZE = 100  # Stripe's maximum `limit`
METADATA_VALUE_MAX = 500  # Stripe's limit on a metadata value
METADATA_KEY_MAX = 40  # Stripe's limit on a metadata key
METADATA_KEYS_MAX = 50  # Stripe's limit on the number of metadata keys
STRING_MAX = 5000  # Stripe's limit on a string parameter
IDEMPOTENCY_KEY_VERSION = "v1"
DERIVED_ID_PREFIX = "prod_x_"
DERIVED_ID_SLUG_MAX = 32
DERIVED_ID_HASH_CHARS = 16


@dataclass(frozen=True)
class StreamTable:
    name: str
    path: str  # collection path; an object is path + "/" + id
    id_prefix: str  # what a Stripe id of this stream starts with
    fields: Mapping[str, str]  # field a record may set -> kind (STRING, BOOLEAN, ADDRESS, METADATA)
    match: str  # MATCH_BY_SEARCH or MATCH_BY_DERIVED_ID
    search_path: Optional[str] = None
    email_filter: Optional[str] = None  # list filter that finds objects by email, if any
    object_name: str = ""


STREAMS: Mapping[str, StreamTable] = {
    "customers": StreamTable(
        name="customers",
        path="/v1/customers",
        id_prefix="cus_",
        fields={"email": STRING, "name": STRING, "description": STRING, "phone": STRING, "address": ADDRESS, "metadata": METADATA},
        match=MATCH_BY_SEARCH,
        search_path="/v1/customers/search",
        email_filter="email",
        object_name="customer",
    ),
    "products": StreamTable(
        name="products",
        path="/v1/products",
        id_prefix="prod_",
        fields={"name": STRING, "description": STRING, "active": BOOLEAN, "metadata": METADATA},
        match=MATCH_BY_DERIVED_ID,
        object_name="product",
    ),
}

# Outcome kinds, in the order the summary lists them.
CREATED, UPDATED, UNCHANGED, REJECTED, SKIPPED = "created", "updated", "unchanged", "rejected", "skipped"
OUTCOME_KINDS = (CREATED, UPDATED, UNCHANGED, REJECTED, SKIPPED)


# -- records -----------------------------------------------------------------------------


class RecordProblem(Exception):
    """A record we refuse before calling Stripe; reported like Stripe's own errors."""

    def __init__(self, code: str, message: str, param: Optional[str] = None, error_type: str = "record_error"):
        super().__init__(message)
        self.error = {"type": error_type, "code": code, "param": param, "message": message}


@dataclass(frozen=True)
class MappedRecord:
    """A record as Stripe parameters plus what identifies it."""

    stream: str
    payload: Mapping[str, Any]  # Stripe parameters, external key included in metadata
    stripe_id: Optional[str] = None
    external_id: Optional[str] = None
    email: Optional[str] = None

    @property
    def key(self) -> Tuple[str, str]:
        """What identifies the record within its stream: ("id"|"external_id"|"email", value)."""
        if self.stripe_id:
            return ("id", self.stripe_id)
        if self.external_id is not None:
            return ("external_id", self.external_id)
        return ("email", self.email or "")

    def describe_key(self) -> str:
        kind, value = self.key
        return f"{kind} {mask_email(value) if kind == 'email' else value}"


def map_record(stream: str, data: Mapping[str, Any], options: WriterOptions) -> MappedRecord:
    """Record data -> Stripe parameters, or ``RecordProblem``. Null values mean "leave as is"."""
    table = STREAMS[stream]
    if not isinstance(data, Mapping):
        raise RecordProblem("invalid_record", "The record is not a JSON object.")
    ext_field = options.external_id_field
    stripe_id = _stripe_id(table, data.get("id"))
    external_id = _external_id(data.get(ext_field))

    payload: Dict[str, Any] = {}
    extra_metadata: Dict[str, str] = {}
    for name, value in data.items():
        if name in ("id", ext_field) or value is None:
            continue
        kind = table.fields.get(name)
        if kind is None:
            if options.unknown_fields == "metadata":
                extra_metadata[name] = _metadata_value(value, name)
                continue
            raise RecordProblem(
                "unknown_field",
                f"'{name}' is not a {table.object_name} field the destination writes "
                f"(allowed: {', '.join(table.fields)}, id and the external id field). "
                "Set unknown_fields to 'metadata' to keep such fields in metadata.",
                param=name,
            )
        payload[name] = _COERCE[kind](value, name)

    metadata: Dict[str, str] = dict(payload.pop("metadata", {}) or {})
    for name, value in extra_metadata.items():
        if name in metadata and metadata[name] != value:
            raise RecordProblem("metadata_conflict", f"'{name}' is set both as a field and in metadata, differently.", param=name)
        metadata[name] = value
    if external_id is not None:
        if metadata.get(ext_field, external_id) != external_id:
            raise RecordProblem(
                "metadata_conflict",
                "metadata holds the external id field with a value other than the record's external id.",
                param="metadata",
            )
        metadata[ext_field] = external_id
    if len(metadata) > METADATA_KEYS_MAX:
        raise RecordProblem(
            "invalid_metadata", f"Stripe allows at most {METADATA_KEYS_MAX} metadata keys; this record has {len(metadata)}.", param="metadata"
        )
    if metadata:
        for name in metadata:
            if len(name) > METADATA_KEY_MAX or any(c in name for c in "[]"):
                raise RecordProblem(
                    "invalid_metadata_key",
                    f"Metadata keys are at most {METADATA_KEY_MAX} characters without brackets.",
                    param=f"metadata[{name[:METADATA_KEY_MAX]}]",
                )
        payload["metadata"] = metadata

    email = payload.get("email") if isinstance(payload.get("email"), str) and payload.get("email") else None
    if stripe_id is None and external_id is None:
        if not (table.email_filter and options.match_customers_by_email and email):
            hint = " or an email (match_customers_by_email is on)" if table.email_filter and options.match_customers_by_email else ""
            raise RecordProblem(
                "missing_key",
                f"The record has no Stripe 'id' and no external id (the field named by external_id_field){hint}, "
                "so it can't be matched safely.",
                param="id",
            )
    return MappedRecord(stream=stream, payload=payload, stripe_id=stripe_id, external_id=external_id, email=email)


def _stripe_id(table: StreamTable, value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(table.id_prefix) or any(c in value for c in "/?#% \t\r\n"):
        raise RecordProblem(
            "invalid_id", f"'id' must be a Stripe {table.object_name} id starting with '{table.id_prefix}'.", param="id"
        )
    return value


def _external_id(value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordProblem(
            "invalid_external_id", "The external id (the field named by external_id_field) must be a string or a number.",
            param="external_id_field",
        )
    text = _scalar_text(value)
    if len(text) > METADATA_VALUE_MAX or text != text.strip() or any(c in text for c in "\r\n"):
        raise RecordProblem(
            "invalid_external_id",
            f"The external id (the field named by external_id_field) must be at most {METADATA_VALUE_MAX} characters, "
            "without surrounding spaces or line breaks.",
            param="external_id_field",
        )
    return text


def _coerce_string(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordProblem("invalid_value", f"'{name}' must be a string.", param=name)
    text = _scalar_text(value)
    if len(text) > STRING_MAX:
        raise RecordProblem("invalid_value", f"'{name}' is longer than Stripe's {STRING_MAX} characters.", param=name)
    return text


def _coerce_boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RecordProblem("invalid_value", f"'{name}' must be true or false.", param=name)


def _coerce_address(value: Any, name: str) -> Dict[str, str]:
    if not isinstance(value, Mapping):
        raise RecordProblem("invalid_value", f"'{name}' must be an object with {', '.join(ADDRESS_FIELDS)}.", param=name)
    out = {}
    for key, item in value.items():
        if key not in ADDRESS_FIELDS:
            raise RecordProblem("unknown_field", f"'{name}.{key}' is not an address field ({', '.join(ADDRESS_FIELDS)}).", param=f"{name}[{key}]")
        if item is not None:
            out[key] = _coerce_string(item, f"{name}[{key}]")
    return out


def _coerce_metadata(value: Any, name: str) -> Dict[str, str]:
    if not isinstance(value, Mapping):
        raise RecordProblem("invalid_value", "'metadata' must be an object of keys to values.", param=name)
    return {str(key): _metadata_value(item, f"{name}[{key}]") for key, item in value.items() if item is not None}


def _metadata_value(value: Any, name: str) -> str:
    """Stripe metadata values are strings: scalars as text, nested values as compact JSON."""
    if isinstance(value, (Mapping, list, tuple)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        text = _scalar_text(value)
    if len(text) > METADATA_VALUE_MAX:
        raise RecordProblem(
            "invalid_metadata", f"Metadata values are at most {METADATA_VALUE_MAX} characters; {name} is longer.", param=name
        )
    return text


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_COERCE: Mapping[str, Callable[[Any, str], Any]] = {
    STRING: _coerce_string,
    BOOLEAN: _coerce_boolean,
    ADDRESS: _coerce_address,
    METADATA: _coerce_metadata,
}


# -- keys and comparisons ----------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(
    stream: str,
    action: str,
    record_key: Tuple[str, str],
    payload: Mapping[str, Any],
    *,
    target_id: Optional[str] = None,
    before: Optional[Mapping[str, Any]] = None,
) -> str:
    """Deterministic Idempotency-Key: same stream, key, target, payload and prior state -> same key."""
    material = [IDEMPOTENCY_KEY_VERSION, stream, action, list(record_key), target_id, payload, before]
    digest = hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()
    return f"sp-{stream}-{action}-{digest[:48]}"


def derived_product_id(external_id: str) -> str:
    """``prod_x_<readable slug>_<16 hex of sha256>``: stable, valid as a Stripe id, collision-safe."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", external_id).strip("_")[:DERIVED_ID_SLUG_MAX].strip("_")
    digest = hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:DERIVED_ID_HASH_CHARS]
    return f"{DERIVED_ID_PREFIX}{slug}_{digest}" if slug else f"{DERIVED_ID_PREFIX}{digest}"


def search_query(field_name: str, value: str) -> str:
    """``metadata['<field>']:'<value>'`` in Stripe's search language, quotes escaped."""
    return f"metadata[{_quote(field_name)}]:{_quote(value)}"


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _same(want: Any, have: Any) -> bool:
    if want == "":
        return have in (None, "")  # "" clears a field on Stripe's side
    return want == have


def payload_matches(payload: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    """True when writing ``payload`` would not change ``obj`` (nested hashes compared key by key)."""
    for name, want in payload.items():
        have = obj.get(name)
        if isinstance(want, Mapping):
            have = have if isinstance(have, Mapping) else {}
            if not all(_same(v, have.get(k)) for k, v in want.items()):
                return False
        elif not _same(want, have):
            return False
    return True


def current_values(payload: Mapping[str, Any], obj: Mapping[str, Any]) -> Dict[str, Any]:
    """The object's present value of every field (and nested key) the payload sets."""
    out: Dict[str, Any] = {}
    for name, want in payload.items():
        have = obj.get(name)
        if isinstance(want, Mapping):
            have = have if isinstance(have, Mapping) else {}
            out[name] = {k: have.get(k) for k in want}
        else:
            out[name] = have
    return out


def create_params(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """The payload for a create: "" (clear) means nothing on a new object, so it is left out."""
    out: Dict[str, Any] = {}
    for name, want in payload.items():
        if isinstance(want, Mapping):
            want = {k: v for k, v in want.items() if v != ""}
            if want:
                out[name] = want
        elif want != "":
            out[name] = want
    return out


def update_params(table: "StreamTable", payload: Mapping[str, Any], obj: Mapping[str, Any]) -> Dict[str, Any]:
    """The payload for an update. Hashes Stripe replaces as a whole (``address``) are sent
    complete: the object's other sub-fields plus the record's, so none is lost."""
    out = dict(payload)
    for name, want in payload.items():
        if table.fields.get(name) in REPLACED_WHOLE and isinstance(want, Mapping):
            have = obj.get(name) if isinstance(obj.get(name), Mapping) else {}
            out[name] = {**{k: v for k, v in have.items() if v is not None}, **want}
    return out


def apply_payload(obj: Mapping[str, Any], payload: Mapping[str, Any]) -> Dict[str, Any]:
    """What Stripe would hold after the write (used for dry runs and the in-run cache)."""
    out = dict(obj)
    for name, want in payload.items():
        if isinstance(want, Mapping):
            merged = dict(out.get(name) or {})
            merged.update({k: (None if v == "" else v) for k, v in want.items()})
            out[name] = merged
        else:
            out[name] = None if want == "" else want
    return out


def mask_email(email: str) -> str:
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


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
    object_id: Optional[str] = None
    error: Optional[Mapping[str, Any]] = None  # Stripe's error fields for rejections
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
    obj: Optional[Mapping[str, Any]]  # current object, or None: create
    create_id: Optional[str] = None  # caller-chosen id for the create (products)
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
        self._ids: Dict[Tuple[str, str, str], str] = {}  # (stream, key kind, key value) -> object id
        self._objects: Dict[Tuple[str, str], Mapping[str, Any]] = {}  # (stream, id) -> last known object
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
        unclaimed: List[Mapping[str, Any]] = []
        if table.email_filter and self.options.match_customers_by_email and record.email:
            candidates = list(
                self.client.get(table.path, {table.email_filter: record.email, "limit": EMAIL_PAGE_SIZE}).get("data") or []
            )
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
        if ext is not None:
            try:
                page = self.client.get(table.search_path, {"query": search_query(ext_field, ext), "limit": SEARCH_PAGE_SIZE})
            except StripeAPIError as error:
                if error.http_status == 404:  # no such endpoint here: every record would fail the same way
                    raise SearchUnavailableError(
                        f"Stripe's Search API is not available (GET {table.search_path} answered 404), so {table.name} "
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

    def _retrieve(self, table: StreamTable, object_id: str, *, missing_ok: bool) -> Optional[Mapping[str, Any]]:
        try:
            obj = self.client.get(f"{table.path}/{object_id}")
        except StripeAPIError as error:
            if missing_ok and error.http_status == 404 and error.source == "stripe":
                return None
            raise
        if obj.get("deleted"):
            raise RecordProblem(
                "resource_deleted", f"{table.object_name.capitalize()} {object_id} was deleted in Stripe.",
                param="id", error_type="invalid_request_error",
            )
        return obj

    def _cached(self, table: StreamTable, record: MappedRecord) -> Optional[Mapping[str, Any]]:
        with self._lock:
            object_id = self._ids.get((table.name, *record.key))
            return self._objects.get((table.name, object_id)) if object_id else None

    def _remember(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> None:
        with self._lock:
            self._remember_locked(table, record, obj)

    def _remember_locked(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> None:
        self._objects[(table.name, obj["id"])] = obj
        self._ids[(table.name, *record.key)] = obj["id"]
        if record.external_id is not None:
            self._ids[(table.name, "external_id", record.external_id)] = obj["id"]
        self._ids[(table.name, "id", obj["id"])] = obj["id"]

    # -- writing --------------------------------------------------------------------

    def _create(self, table: StreamTable, record: MappedRecord, create_id: Optional[str]) -> Tuple[str, str]:
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

    def _update_if_changed(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> Tuple[str, str]:
        if payload_matches(record.payload, obj):
            self._remember(table, record, obj)
            return UNCHANGED, obj["id"]
        return self._update(table, record, obj)

    def _update(self, table: StreamTable, record: MappedRecord, obj: Mapping[str, Any]) -> Tuple[str, str]:
        object_id = obj["id"]
        if self.options.dry_run:
            self._remember(table, record, apply_payload(obj, record.payload))
            return UPDATED, object_id
        params = update_params(table, record.payload, obj)
        before = current_values(params, obj)
        key = idempotency_key(table.name, "update", record.key, params, target_id=object_id, before=before)
        response = self._post(f"{table.path}/{object_id}", params, key)
        self._remember(table, record, response.data)
        return (UNCHANGED if response.replayed_from_earlier_run else UPDATED), object_id

    def _post(self, path: str, params: Mapping[str, Any], key: str) -> "_Posted":
        response: ApiResponse = self.client.send("POST", path, data=params, idempotency_key=key)
        # A replay while the client retried is our own first attempt coming back (its
        # response was lost); a replay on the first attempt is an earlier run's write.
        return _Posted(response.data, response.idempotent_replayed and response.attempts == 1)


@dataclass(frozen=True)
class _Posted:
    data: Mapping[str, Any]
    replayed_from_earlier_run: bool


def _oldest(objects: List[Mapping[str, Any]]) -> Mapping[str, Any]:
    return min(objects, key=lambda o: (o.get("created") or 0, o.get("id") or ""))


def _duplicates_note(objects: List[Mapping[str, Any]]) -> str:
    if len(objects) < 2:
        return ""
    return f"{len(objects)} objects carry this external id; the oldest was used"


def is_record_error(error: StripeAPIError) -> bool:
    """Stripe refused this record (bad value, unknown id): report it and go on.

    Auth (401/403), rate limits, server errors and anything a proxy said stop the run.
    """
    return error.source == "stripe" and 400 <= error.http_status < 500 and error.http_status not in (401, 403, 429)


def stripe_error_fields(error: StripeAPIError) -> Dict[str, Any]:
    return {
        "type": error.error_type,
        "code": error.code,
        "param": error.param,
        "message": error.stripe_message or str(error),
        "http_status": error.http_status,
    }


__all__ = [
    "STREAMS",
    "StreamTable",
    "WriterOptions",
    "MappedRecord",
    "RecordProblem",
    "RecordWriter",
    "RecordRejectedError",
    "Outcome",
    "Position",
    "map_record",
    "idempotency_key",
    "derived_product_id",
    "search_query",
    "payload_matches",
    "OUTCOME_KINDS",
]
