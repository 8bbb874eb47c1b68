"""Records into Stripe parameters: which fields each stream writes, how values are checked,
and how a payload compares with the object Stripe holds.

Everything that differs between streams is data (``STREAMS``): the path, the id prefix, the
fields a record may set and how an existing object is found. The code reads that table and
has no per-stream branches. Null values mean "leave as is"; "" clears a field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from source_stripe_proxy.core.endpoints import fill_path
from source_stripe_proxy.core.forms import parse_boolean
from source_stripe_proxy.core.stripe_facts import (
    METADATA_KEY_MAX,
    METADATA_VALUE_MAX,
    STRING_MAX,
    metadata_count_problem,
    metadata_key_problem,
    metadata_value_problem,
)
from source_stripe_proxy.data import resources

if TYPE_CHECKING:  # options.py reads STREAMS from here
    from source_stripe_proxy.destination.options import WriterOptions

STRING, BOOLEAN, ADDRESS, METADATA = "string", "boolean", "address", "metadata"
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
# Hash fields an update replaces as a whole (metadata, by contrast, merges key by key).
REPLACED_WHOLE = frozenset({ADDRESS})

# How an object without a Stripe id is found.
MATCH_BY_SEARCH = "search"  # Search API on metadata (eventually consistent) + idempotent create
MATCH_BY_DERIVED_ID = "derived_id"  # caller-chosen id derived from the key (strongly consistent)


@dataclass(frozen=True)
class StreamTable:
    name: str
    object_name: str  # Stripe's object; its paths come from the registry of resources
    id_prefix: str  # what a Stripe id of this stream starts with (the spec does not say)
    fields: Mapping[str, str]  # field a record may set -> kind (STRING, BOOLEAN, ADDRESS, METADATA)
    match: str  # MATCH_BY_SEARCH or MATCH_BY_DERIVED_ID
    email_filter: str | None = None  # list filter that finds objects by email, if any

    @property
    def path(self) -> str:
        """The collection: create and list here."""
        return resources.path(self.object_name, "create")

    def object_path(self, action: str, object_id: str) -> str:
        """Where ``action`` (get, update) reaches one object, e.g. ``/v1/products/prod_1``."""
        template = resources.path(self.object_name, action)
        (param,) = re.findall(r"{(\w+)}", template)  # an object's path names its id only
        return fill_path(template, {param: object_id})

    @property
    def search_path(self) -> str | None:
        return resources.path(self.object_name, "search") if self.match == MATCH_BY_SEARCH else None


STREAMS: Mapping[str, StreamTable] = {
    "customers": StreamTable(
        name="customers",
        object_name="customer",
        id_prefix="cus_",
        fields={"email": STRING, "name": STRING, "description": STRING, "phone": STRING, "address": ADDRESS, "metadata": METADATA},
        match=MATCH_BY_SEARCH,
        email_filter="email",
    ),
    "products": StreamTable(
        name="products",
        object_name="product",
        id_prefix="prod_",
        fields={"name": STRING, "description": STRING, "active": BOOLEAN, "metadata": METADATA},
        match=MATCH_BY_DERIVED_ID,
    ),
}


class RecordProblem(Exception):
    """A record we refuse before calling Stripe; reported like Stripe's own errors."""

    def __init__(self, code: str, message: str, param: str | None = None, error_type: str = "record_error"):
        super().__init__(message)
        self.error = {"type": error_type, "code": code, "param": param, "message": message}


@dataclass(frozen=True)
class MappedRecord:
    """A record as Stripe parameters plus what identifies it."""

    stream: str
    payload: Mapping[str, Any]  # Stripe parameters, external key included in metadata
    stripe_id: str | None = None
    external_id: str | None = None
    email: str | None = None

    @property
    def key(self) -> tuple[str, str]:
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
    payload, extra_metadata = _fields(table, data, options)
    metadata = _metadata(dict(payload.pop("metadata", {}) or {}), extra_metadata, ext_field, external_id)
    if metadata:
        payload["metadata"] = metadata

    email = payload.get("email") if isinstance(payload.get("email"), str) and payload.get("email") else None
    if stripe_id is None and external_id is None and not (table.email_filter and options.match_customers_by_email and email):
        hint = " or an email (match_customers_by_email is on)" if table.email_filter and options.match_customers_by_email else ""
        raise RecordProblem(
            "missing_key",
            f"The record has no Stripe 'id' and no external id (the field named by external_id_field){hint}, "
            "so it can't be matched safely.",
            param="id",
        )
    return MappedRecord(stream=stream, payload=payload, stripe_id=stripe_id, external_id=external_id, email=email)


def _fields(table: StreamTable, data: Mapping[str, Any], options: WriterOptions) -> tuple[dict[str, Any], dict[str, str]]:
    """The record's fields as Stripe parameters, and the unknown ones kept for metadata (if so configured)."""
    payload: dict[str, Any] = {}
    extra_metadata: dict[str, str] = {}
    for name, value in data.items():
        if name in ("id", options.external_id_field) or value is None:
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
    return payload, extra_metadata


def _metadata(metadata: dict[str, str], extra: Mapping[str, str], ext_field: str, external_id: str | None) -> dict[str, str]:
    """The record's metadata with the unknown fields and the external id added, within Stripe's limits."""
    for name, value in extra.items():
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
    problem = metadata_count_problem(len(metadata))
    if problem:
        raise RecordProblem("invalid_metadata", problem, param="metadata")
    for name in metadata:
        problem = metadata_key_problem(name)
        if problem:
            raise RecordProblem("invalid_metadata_key", problem, param=f"metadata[{name[:METADATA_KEY_MAX]}]")
    return metadata


def _stripe_id(table: StreamTable, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(table.id_prefix) or any(c in value for c in "/?#% \t\r\n"):
        raise RecordProblem("invalid_id", f"'id' must be a Stripe {table.object_name} id starting with '{table.id_prefix}'.", param="id")
    return value


def _external_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordProblem(
            "invalid_external_id",
            "The external id (the field named by external_id_field) must be a string or a number.",
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
    parsed = parse_boolean(value)
    if parsed is None:
        raise RecordProblem("invalid_value", f"'{name}' must be true or false.", param=name)
    return parsed


def _coerce_address(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise RecordProblem("invalid_value", f"'{name}' must be an object with {', '.join(ADDRESS_FIELDS)}.", param=name)
    out = {}
    for key, item in value.items():
        if key not in ADDRESS_FIELDS:
            raise RecordProblem(
                "unknown_field", f"'{name}.{key}' is not an address field ({', '.join(ADDRESS_FIELDS)}).", param=f"{name}[{key}]"
            )
        if item is not None:
            out[key] = _coerce_string(item, f"{name}[{key}]")
    return out


def _coerce_metadata(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise RecordProblem("invalid_value", "'metadata' must be an object of keys to values.", param=name)
    return {str(key): _metadata_value(item, f"{name}[{key}]") for key, item in value.items() if item is not None}


def _metadata_value(value: Any, name: str) -> str:
    """Stripe metadata values are strings: scalars as text, nested values as compact JSON."""
    if isinstance(value, (Mapping, list, tuple)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        text = _scalar_text(value)
    problem = metadata_value_problem(text)
    if problem:
        raise RecordProblem("invalid_metadata", problem, param=name)
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


# -- comparing a payload with Stripe's object -----------------------------------------


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


def current_values(payload: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's present value of every field (and nested key) the payload sets."""
    out: dict[str, Any] = {}
    for name, want in payload.items():
        have = obj.get(name)
        if isinstance(want, Mapping):
            have = have if isinstance(have, Mapping) else {}
            out[name] = {k: have.get(k) for k in want}
        else:
            out[name] = have
    return out


def create_params(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload for a create: "" (clear) means nothing on a new object, so it is left out."""
    out: dict[str, Any] = {}
    for name, want in payload.items():
        if isinstance(want, Mapping):
            kept = {k: v for k, v in want.items() if v != ""}
            if kept:
                out[name] = kept
        elif want != "":
            out[name] = want
    return out


def update_params(table: StreamTable, payload: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """The payload for an update. Hashes Stripe replaces as a whole (``address``) are sent
    complete: the object's other sub-fields plus the record's, so none is lost."""
    out = dict(payload)
    for name, want in payload.items():
        if table.fields.get(name) in REPLACED_WHOLE and isinstance(want, Mapping):
            have = obj.get(name)
            kept = {k: v for k, v in have.items() if v is not None} if isinstance(have, Mapping) else {}
            out[name] = {**kept, **want}
    return out


def apply_payload(obj: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
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
