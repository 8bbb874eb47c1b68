"""Tool results: Stripe's JSON as a model can read it (no SDK): a list's objects in a compact
view unless the call picks ``fields``, and everything cut to a size (``cut_to_size``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from source_stripe_proxy.actions.errors import refuse
from source_stripe_proxy.actions.tool_schemas import NEXT_CURSOR
from source_stripe_proxy.data import resources


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def is_list(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") in ("list", "search_result") and isinstance(value.get("data"), list)


def with_cursor(result: Any) -> Any:
    """A page of a list with more after it names the id to continue after."""
    if is_list(result) and result.get("object") == "list" and result.get("has_more") and result["data"]:
        last = result["data"][-1]
        if isinstance(last, dict) and isinstance(last.get("id"), str):
            return {**result, NEXT_CURSOR: last["id"]}
    return result


def cut_to_size(result: Any, max_chars: int) -> Any:
    """``result`` if its JSON fits in ``max_chars``, else a shorter one that says so.

    A list keeps as many items as fit, with ``has_more: true`` and ``next_starting_after``
    (a search result: ask again with a smaller ``limit``). An object keeps its fields and
    empties its nested lists (``has_more: true``); if that is still too long, only its
    plain fields stay."""
    if len(to_json(result)) <= max_chars:
        return result
    if is_list(result):
        return _cut_list(result, max_chars)
    if isinstance(result, dict):
        emptied = {key: _emptied(value) for key, value in result.items()}
        emptied["truncated"] = (
            f"This object's JSON is over {max_chars} characters: its nested lists were emptied "
            "(has_more: true); read them with their own list action."
        )
        if len(to_json(emptied)) <= max_chars:
            return emptied
        plain = {key: value for key, value in result.items() if not isinstance(value, (dict, list))}
        plain["truncated"] = (
            f"This object's JSON is over {max_chars} characters: only its plain fields are shown. "
            "Ask for fewer expansions, or read its parts with their own actions."
        )
        return plain
    return result


def _emptied(value: Any) -> Any:
    if is_list(value):
        return {**value, "data": [], "has_more": bool(value["data"]) or bool(value.get("has_more"))}
    if isinstance(value, dict):
        return {key: _emptied(item) for key, item in value.items()}
    return value


def _cut_list(result: dict[str, Any], max_chars: int) -> dict[str, Any]:
    items = result["data"]
    searching = result.get("object") == "search_result"

    def page(count: int) -> dict[str, Any]:
        cut = {key: value for key, value in result.items() if key not in ("next_page", NEXT_CURSOR)}
        cut["data"] = items[:count]
        cut["has_more"] = True
        if searching:
            cut["truncated"] = (
                f"Only the first {count} of {len(items)} results fit in {max_chars} characters: "
                f"search again with limit={max(count, 1)} and follow next_page."
            )
        else:
            if count:
                cut = with_cursor(cut)
            cut["truncated"] = (
                f"Only the first {count} of {len(items)} objects fit in {max_chars} characters: "
                f"call again with starting_after={cut.get(NEXT_CURSOR, '...')} (and a smaller limit) for the rest."
            )
        return cut

    low, high = 0, len(items)  # the largest count that fits, by bisection: log2(100) dumps at most
    while low < high:
        middle = (low + high + 1) // 2
        if len(to_json(page(middle))) <= max_chars:
            low = middle
        else:
            high = middle - 1
    if low == 0 and items:
        first = cut_to_size(items[0], max_chars // 2)
        shortened = page(1)
        shortened["data"] = [first]
        return shortened
    return page(low)


# ------------------------------------------------------------------------------------------
# Fields: a compact view of each object in a list, or the fields a call asks for
# ------------------------------------------------------------------------------------------

ALL_FIELDS = "*"
FIELDS = "fields"
ALWAYS = ("id", "object")
_NAMES = ("name", "email", "description", "nickname", "phone", "lookup_key", "number", "interval", "interval_count")
_AMOUNTS = ("balance", "total", "subtotal", "quantity", "currency", "percent_off", "fee", "net")
_STATUSES = ("status", "type", "active", "paid", "refunded", "deleted", "livemode", "reason", "cancel_at_period_end")
_TIME_ENDS = ("_at", "_date", "_start", "_end")
FIELDS_SCHEMA = {
    "type": "array",
    "items": {"type": "string"},
    "description": 'e.g. ["email","address.city"]; ["*"]: all',
}
MAX_FIELDS = 50
_FIELD = re.compile(r"^(?:\*|[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)$")
COMPACT_NOTE = (
    "Each object shows its ids, names, amounts, statuses and times; fields=[...] picks others "
    '(address.city reaches inside), fields=["*"] gives whole objects.'
)


def parse_fields(value: Any) -> list[str]:
    """``fields`` as a list of names: a JSON array, or text with commas (``"email,name"``)."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") and _is_json(text) else [part.strip() for part in text.split(",")]
    names = value if isinstance(value, list) else None
    if not names or len(names) > MAX_FIELDS or not all(isinstance(n, str) and _FIELD.match(n) for n in names):
        raise refuse(
            FIELDS,
            f'\'fields\' must be a list of 1 to {MAX_FIELDS} field names such as ["email", "address.city"], or ["*"] for whole objects.',
        )
    return list(dict.fromkeys(names))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def compact_key(key: str, value: Any) -> bool:
    """Does a compact view keep this field? Ids (its own and other objects' as text), names,
    amounts, statuses and times; never an empty value, a nested list or free text beyond names."""
    if value is None or value == "" or isinstance(value, list):
        return False
    if key in ALWAYS or key in _NAMES or key in _AMOUNTS or key in _STATUSES or "amount" in key:
        return True
    if key == "created" or key.endswith(_TIME_ENDS) or key.startswith("trial_"):
        return True
    return isinstance(value, str) and (_looks_like_id(value) or key in resources.entities())  # customer: cus_...


def _looks_like_id(text: str) -> bool:
    """cus_NffrFeUfNV2Hib, price_1MoBy5LkdIwHu7ix: a short lower-case prefix, then random
    letters and digits (not a word such as charge_automatically)."""
    prefix, _, rest = text.partition("_")
    return (
        2 <= len(prefix) <= 8
        and prefix.isalpha()
        and prefix.islower()
        and len(rest) >= 8
        and rest.isalnum()
        and any(c.isdigit() or c.isupper() for c in rest)
    )


# Stripe's legacy copies of an object beside the object itself (docs.stripe.com/api: a plan is
# the older form of a price), left out of a compact view where both are present.
LEGACY_COPIES = {"plan": "price"}
_LIST_NOISE = ("url", "total_count")  # an embedded list's own fields a model does not need


def compact(value: Any) -> Any:
    """An object cut to what ``compact_key`` keeps, in one pass: an embedded object (a
    subscription item's price) compact too and only once (the same id met again is left out,
    nested lists read first),
    plain nested terms (a price's ``recurring``) one level deep, a nested list by its items;
    ``livemode`` (the same for the whole account) and a ``*_decimal`` twin of a kept amount left out."""
    return _compact(value, set(), 0)


def _compact(value: Any, seen: set, plain_depth: int) -> Any:
    if not isinstance(value, dict):
        return value
    if is_list(value):
        rest = {k: v for k, v in value.items() if k not in ("data", *_LIST_NOISE)}
        return {**rest, "data": [_compact(item, seen, 0) for item in value["data"]]}
    if isinstance(value.get("id"), str):
        seen.add(value["id"])
    kept: dict[str, Any] = {}
    lists_first = sorted(value, key=lambda k: not is_list(value[k]))  # an item's price wins over a top-level copy
    for key in lists_first:
        item = value[key]
        if key in LEGACY_COPIES and LEGACY_COPIES[key] in value:
            continue
        if isinstance(item, dict):
            embedded = isinstance(item.get("id"), str)
            if (embedded and item["id"] in seen) or (not embedded and not is_list(item) and plain_depth >= 1):
                continue
            small = _compact(item, seen, 0 if embedded or is_list(item) else plain_depth + 1)
            if small and (set(small) - {"object"}):
                kept[key] = small
        elif compact_key(key, item) and key != "livemode" and not (key.endswith("_decimal") and key[:-8] in value):
            kept[key] = item
    return {key: kept[key] for key in value if key in kept}


def select(value: Any, paths: Sequence[str]) -> Any:
    """The fields named by ``paths`` ('email', 'address.city', 'items.data.price') of an object
    (each item of a list), with its id and object always."""
    if isinstance(value, list):
        return [select(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    heads: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        heads.setdefault(head, []).append(rest)
    picked = {key: value[key] for key in ALWAYS if key in value}
    for head, rests in heads.items():
        if head in value:
            picked[head] = value[head] if "" in rests else select(value[head], rests)
    return picked


def shape(result: Any, fields: Sequence[str] | None) -> Any:
    """A call's result as a tool returns it: ``fields`` selected in an object or in each object
    of a list; without ``fields``, a list's objects in their compact view and an object whole;
    ``["*"]`` whole objects. Asked-for fields found in no object are named (a typo, or a field
    this object does not have)."""
    if fields is not None and ALL_FIELDS in fields:
        return result
    listing = is_list(result)
    if fields is None:
        if not listing:
            return result
        shaped = {**result, "data": [compact(item) for item in result["data"]]}
        return {**shaped, "compact": COMPACT_NOTE} if shaped["data"] != result["data"] else result
    objects = result["data"] if listing else [result]
    found = {path.partition(".")[0] for obj in objects if isinstance(obj, dict) for path in fields if path.partition(".")[0] in obj}
    shaped = {**result, "data": select(result["data"], fields)} if listing else select(result, fields)
    unknown = [path for path in fields if path.partition(".")[0] not in found]
    if unknown and isinstance(shaped, dict) and objects:
        shaped["unknown_fields"] = unknown
    return shaped
