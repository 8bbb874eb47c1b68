"""Stripe's form encoding: nested values flatten into bracketed keys.

    {"metadata": {"plan": "gold"}}        -> metadata[plan]=gold
    {"items": [{"price": "price_1"}]}     -> items[0][price]=price_1
    {"expand": ["data.customer"]}         -> expand[]=data.customer
    {"active": True}                      -> active=true

``None`` values are left out (Stripe reads a missing key as "no change"); send "" to clear.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

FormPairs = list[tuple[str, str]]
BOOLEAN_TEXT = ("true", "false")  # how a form, a command line or a record writes a boolean


def parse_boolean(value: Any) -> bool | None:
    """The one reading of a boolean: ``True``/``False``, or their text in any case ("TRUE",
    " false"); ``None`` for anything else, which the caller refuses in its own terms."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_TEXT:
        return value.strip().lower() == "true"
    return None


def encode_form(params: Mapping[str, Any]) -> FormPairs:
    return list(_flatten(params, prefix=None))


def _flatten(value: Any, prefix: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}[{key}]" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        if not value:
            yield prefix, ""  # an empty list clears the field on Stripe's side
        elif all(_is_scalar(item) for item in value):
            for item in value:
                yield f"{prefix}[]", _scalar(item)
        else:
            for index, item in enumerate(value):
                yield from _flatten(item, f"{prefix}[{index}]")
    elif value is not None:
        yield prefix, _scalar(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
