"""Parameters checked against the JSON Schema generated from Stripe's spec, before any request.

``coerce(schema, value, where)`` returns the value to send or raises ``ActionInputError``
naming the parameter (in Stripe's form notation: ``items[0][price]``) and what is allowed.
Values typed on a command line arrive as text and are converted where the schema says so:
``"14"`` -> 14 for an integer, ``"true"`` -> True, ``"a,b"`` -> ["a", "b"] for an array,
``{"plan": "gold"}`` as JSON text for an object. Values from Python or JSON keep their type:
a number is not accepted where Stripe wants text, a decimal not where it wants a whole number.

``unflatten`` turns ``metadata.plan=gold``, ``recurring[interval]=month`` or
``items[0][price]=price_1`` into nested values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from source_stripe_proxy.actions.errors import ActionInputError, refuse
from source_stripe_proxy.core.forms import BOOLEAN_TEXT, parse_boolean
from source_stripe_proxy.core.settings import iso_epoch
from source_stripe_proxy.core.stripe_facts import metadata_count_problem, metadata_key_problem, metadata_value_problem

Schema = Mapping[str, Any]

_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL_RE = re.compile(r"^[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)$")
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_NAME_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\.[^.\[\]]+|\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\.([^.\[\]]+)|\[([^\[\]]*)\]")
ENUM_SHOWN = 12


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------------
# Describing a schema (error messages, `describe`)
# ------------------------------------------------------------------------------------------


def is_unset(schema: Schema) -> bool:
    """The ``{"enum": [""]}`` branch by which Stripe lets an anyOf field be unset."""
    return schema.get("enum") == [""]


def is_map(schema: Schema) -> bool:
    return isinstance(schema.get("additionalProperties"), Mapping) and not schema.get("properties")


def is_object(schema: Schema) -> bool:
    return schema.get("type") == "object" or "properties" in schema


def enum_text(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:ENUM_SHOWN])
    return shown + (f" (and {len(values) - ENUM_SHOWN} more)" if len(values) > ENUM_SHOWN else "")


def describe(schema: Schema) -> str:
    """What a schema accepts, in a few words: 'one of day, month, week, year'."""
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if not is_unset(b)]
        text = " or ".join(dict.fromkeys(describe(b) for b in branches)) or "''"
        return text + (", or '' to unset it" if len(branches) < len(schema["anyOf"]) else "")
    if "enum" in schema:
        return f"one of {enum_text(schema['enum'])}" + (" (others may be accepted)" if schema.get("x-stripeBypassValidation") else "")
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    fmt = schema.get("format")
    if kind == "string":
        if fmt == "currency":
            return "a three-letter ISO currency code such as usd"
        if fmt == "decimal":
            return "a decimal number such as 12.5"
        return "text" + (f" of at most {schema['maxLength']} characters" if schema.get("maxLength", 5000) < 5000 else "")
    if kind == "integer":
        if fmt == "unix-time":
            return "a Unix time in seconds (or an ISO 8601 date)"
        if "minimum" in schema and "maximum" in schema:
            return f"a whole number from {schema['minimum']} to {schema['maximum']}"
        return "a whole number"
    if kind == "number":
        return "a number"
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        return f"a list of {describe(schema.get('items', {}))}"
    if kind == "object":
        if is_map(schema):
            return f"an object of {describe(schema['additionalProperties'])} values"
        keys = sorted(schema.get("properties", {}))
        return f"an object with {', '.join(keys)}" if keys else "an object"
    return "any value"


# ------------------------------------------------------------------------------------------
# Checking and converting
# ------------------------------------------------------------------------------------------


def coerce(schema: Schema, value: Any, where: str) -> Any:
    """``value`` checked against ``schema`` and converted for sending (see the module doc)."""
    if "anyOf" in schema:
        return _any_of(schema, value, where)
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    checker = _CHECKERS.get(kind) if isinstance(kind, str) else None
    return value if checker is None else checker(schema, value, where)


def _fail(schema: Schema, value: Any, where: str, detail: str = "") -> NoReturn:
    accepted = [str(v) for v in schema.get("enum", ())] if "enum" in schema else ()
    raise refuse(where, f"'{where}' must be {describe(schema)}{detail}, got {show(value)}.", accepted)


def _enum(schema: Schema, value: str, where: str) -> str:
    choices = schema["enum"]
    if value in choices:
        return value
    folded = [c for c in choices if isinstance(c, str) and c.lower() == value.strip().lower()]
    if len(folded) == 1:
        return folded[0]  # "ACTIVE" -> "active"
    if schema.get("x-stripeBypassValidation"):
        return value  # Stripe accepts values newer than the spec
    _fail(schema, value, where)
    return value


def _string(schema: Schema, value: Any, where: str) -> str:
    fmt = schema.get("format")
    if fmt == "decimal" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        _fail(schema, value, where)
    if fmt == "decimal" and not _DECIMAL_RE.match(value.strip()):
        _fail(schema, value, where)
    if fmt == "currency":
        value = value.strip().lower()
        if not _CURRENCY_RE.match(value):
            _fail(schema, value, where)
    if "enum" in schema:
        return _enum(schema, value, where)
    if len(value) > schema.get("maxLength", len(value)):
        raise refuse(where, f"'{where}' is at most {schema['maxLength']} characters long; this value has {len(value)}.")
    return value


def _amount_hint(where: str) -> str:
    return " (in the smallest currency unit, e.g. cents: 1000 is 10.00 USD)" if where.endswith("amount") else ""


def _integer(schema: Schema, value: Any, where: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        number = int(value.strip())
    elif isinstance(value, str) and schema.get("format") == "unix-time":
        number = iso_epoch(value)
    if number is None and (isinstance(value, float) or (isinstance(value, str) and _DECIMAL_RE.match(value.strip()))):
        raise refuse(
            where,
            f"'{where}' must be {describe(schema)}{_amount_hint(where)}; decimals such as {show(value)} are refused.",
        )
    low, high = schema.get("minimum"), schema.get("maximum")
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        _fail(schema, value, where, _amount_hint(where))
    return number


def _number(schema: Schema, value: Any, where: str) -> Any:
    if isinstance(value, str) and _DECIMAL_RE.match(value.strip()):
        text = value.strip()
        return int(text) if _INT_RE.match(text) else float(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(schema, value, where)
    return value


def _boolean(schema: Schema, value: Any, where: str) -> bool:
    parsed = parse_boolean(value)
    if parsed is None:
        raise refuse(where, f"'{where}' must be true or false, got {show(value)}.", BOOLEAN_TEXT)
    return parsed


def _array(schema: Schema, value: Any, where: str) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _json(text, list, where, 'a JSON array such as ["a", "b"]')
        elif text:
            value = [part.strip() for part in text.split(",")] if "," in text else [text]
    elif isinstance(value, Mapping) and value and all(isinstance(k, str) and k.isdigit() for k in value):
        indexes = sorted(int(k) for k in value)  # from items.0.price=... / items[0][price]=...
        if indexes != list(range(len(indexes))):
            raise refuse(where, f"'{where}' is given by position with gaps ({', '.join(map(str, indexes))}); number them from 0.")
        value = [value[str(i)] for i in indexes]
    if not isinstance(value, (list, tuple)):
        _fail(schema, value, where)
    items = schema.get("items", {})
    return [coerce(items, item, f"{where}[{index}]") for index, item in enumerate(value)]


def _object(schema: Schema, value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str) and value.strip().startswith("{"):
        value = _json(value.strip(), dict, where, "a JSON object")
    if not isinstance(value, Mapping):
        hint = f' (JSON such as {{"key": "value"}}, or key by key as {where}.KEY=VALUE)' if "[" not in where else ""
        raise refuse(where, f"'{where}' must be {describe(schema)}{hint}, got {show(value)}.")
    if is_map(schema):
        return _map(schema, value, where)
    properties: Mapping[str, Schema] = schema.get("properties", {})
    result: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue  # left out, as Stripe reads a missing key
        if key not in properties and properties and schema.get("additionalProperties") is not True:
            raise refuse(
                f"{where}[{key}]",
                f"Unknown parameter '{where}[{key}]': '{where}' takes {', '.join(sorted(properties))}.",
                sorted(properties),
            )
        result[key] = coerce(properties.get(key, {}), item, f"{where}[{key}]")
    for key in schema.get("required", ()):
        if result.get(key) is None:
            raise refuse(f"{where}[{key}]", f"'{where}[{key}]' is required when '{where}' is given.", tuple(schema["required"]))
    return result


def _map(schema: Schema, value: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Free keys (metadata): each value checked against additionalProperties."""
    metadata = where.rsplit("[", 1)[-1].rstrip("]").endswith("metadata")
    problem = metadata_count_problem(len(value)) if metadata else None
    if problem:
        raise refuse(where, f"'{where}': {problem}")
    values = schema["additionalProperties"]
    result: dict[str, Any] = {}
    for key, item in value.items():
        given = _metadata_text(item) if metadata else item
        if metadata:
            problem = metadata_key_problem(key) or metadata_value_problem(given)
            if problem:
                raise refuse(f"{where}[{key}]", f"'{where}[{key}]': {problem}")
        result[str(key)] = coerce(values, given, f"{where}[{key}]")
    return result


def _metadata_text(item: Any) -> Any:
    """Metadata values are text; numbers and booleans become their text, None unsets the key."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return ""
    if isinstance(item, int) or (isinstance(item, float) and math.isfinite(item)):
        return str(item)
    return item


def _json(text: str, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, kind):
        raise refuse(where, f"'{where}' looks like JSON but is not {what}.")
    return value


def _any_of(schema: Schema, value: Any, where: str) -> Any:
    branches = schema["anyOf"]
    if value == "" and any(is_unset(b) for b in branches):
        return ""  # Stripe unsets the field
    errors: list[tuple[Schema, ActionInputError]] = []
    for branch in branches:
        if is_unset(branch):
            continue
        try:
            return coerce(branch, value, where)
        except ActionInputError as exc:
            errors.append((branch, exc))
    # Report the branch the value was meant for (an object for a dict...), else all of them.
    meant = [exc for branch, exc in errors if _shape_fits(branch, value)]
    if len(meant) == 1 and (getattr(meant[0], "param", None) != where or isinstance(value, Mapping)):
        raise meant[0]  # an error inside it (a nested key, or an object's own limit) is the useful one
    accepted = [str(v) for branch, _ in errors for v in branch.get("enum", ())]
    raise refuse(where, f"'{where}' must be {describe(schema)}, got {show(value)}.", accepted)


def _shape_fits(schema: Schema, value: Any) -> bool:
    if isinstance(value, Mapping) or (isinstance(value, str) and value.strip().startswith("{")):
        return is_object(schema)
    if isinstance(value, (list, tuple)) or (isinstance(value, str) and value.strip().startswith("[")):
        return schema.get("type") == "array"
    return not is_object(schema) and schema.get("type") != "array"


_CHECKERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "array": _array,
    "object": _object,
}


def path_id(value: Any, where: str) -> str:
    """An id that goes into the URL path (it is also quoted there)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise refuse(
            where,
            f"'{where}' must be a Stripe id such as cus_1234567890 (letters, digits, '_', '-', '.'), got {show(value)}.",
        )
    return value


# ------------------------------------------------------------------------------------------
# Nested names: metadata.plan=gold, recurring[interval]=month, items[0][price]=price_1
# ------------------------------------------------------------------------------------------


def split_name(name: str) -> tuple[str, list[str]] | None:
    """'items[0][price]' -> ('items', ['0', 'price']); None when not a parameter name."""
    match = _NAME_RE.match(name)
    if not match:
        return None
    parts = [m.group(1) if m.group(1) is not None else m.group(2) for m in _PART_RE.finditer(match.group(2))]
    return match.group(1), parts


def unflatten(params: Mapping[str, Any], properties: Mapping[str, Schema]) -> dict[str, Any]:
    """Gather nested names into nested values. A free-keyed object (metadata) takes the rest of
    the name as one key, dots included: ``metadata.release.v2=x`` sets the key ``release.v2``."""
    result: dict[str, Any] = {}
    order: dict[Any, None] = {}  # each parameter where it first appears
    nested: list[tuple[str, str, list[str], Any]] = []
    for name, value in params.items():
        split = split_name(name) if isinstance(name, str) else None
        if split is None or not split[1]:
            result[name] = value
            order[name] = None
        else:
            nested.append((name, split[0], split[1], value))
            order[split[0]] = None
    for name, top, parts, value in nested:
        container = result.get(top)
        if isinstance(container, str) and container.strip()[:1] in ("{", "["):
            container = _json(container.strip(), (dict, list), top, "a JSON object or array")
        if container is None:
            container = {}
        if isinstance(container, list):
            container = {str(i): item for i, item in enumerate(container)}
        if not isinstance(container, dict):
            raise refuse(top, f"'{top}' is given whole and key by key ({name}); give it one way.")
        result[top] = container
        _assign(container, parts, value, properties.get(top, {}), name)
    return {name: result[name] for name in order}


def schema_at(properties: Mapping[str, Schema], name: str) -> Schema:
    """The schema of a possibly nested name: 'recurring[interval]' -> the interval's enum."""
    top, parts = split_name(name) or (name, [])
    schema = properties.get(top, {})
    for part in parts:
        schema = _branch_for_nesting(schema)
        if schema.get("type") == "array":
            schema = schema.get("items", {})
        elif is_map(schema):
            return schema["additionalProperties"]
        else:
            schema = schema.get("properties", {}).get(part, {})
    return {key: value for key, value in schema.items() if key != "description"}


def _branch_for_nesting(schema: Schema) -> Schema:
    if "anyOf" in schema:
        for branch in schema["anyOf"]:
            if is_object(branch) or branch.get("type") == "array":
                return branch
    return schema


def _assign(container: dict[str, Any], parts: list[str], value: Any, schema: Schema, name: str) -> None:
    schema = _branch_for_nesting(schema)
    if is_map(schema):
        parts = [".".join(parts)]  # the rest is one free key
    head, rest = parts[0], parts[1:]
    if schema.get("type") == "array":
        if head == "":
            head = str(len(container))  # items[]=... appends
        child_schema = schema.get("items", {})
    else:
        child_schema = schema.get("properties", {}).get(head, {}) if is_object(schema) else {}
    if not rest:
        if head in container:
            raise refuse(name, f"'{name}' is given twice.")
        container[head] = value
        return
    child = container.setdefault(head, {})
    if not isinstance(child, dict):
        raise refuse(name, f"'{name}' sets a key inside a value that is already given whole.")
    _assign(child, rest, value, child_schema, name)
