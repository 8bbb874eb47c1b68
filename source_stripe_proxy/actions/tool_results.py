"""Tool results: Stripe's JSON, cut to a size a model can read (no SDK)."""

from __future__ import annotations

import json
from typing import Any, Dict

from source_stripe_proxy.actions.tool_schemas import NEXT_CURSOR




def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _is_list(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") in ("list", "search_result") and isinstance(value.get("data"), list)


def with_cursor(result: Any) -> Any:
    """A page of a list with more after it names the id to continue after."""
    if _is_list(result) and result.get("object") == "list" and result.get("has_more") and result["data"]:
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
    if _is_list(result):
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
    if _is_list(value):
        return {**value, "data": [], "has_more": bool(value["data"]) or bool(value.get("has_more"))}
    if isinstance(value, dict):
        return {key: _emptied(item) for key, item in value.items()}
    return value


def _cut_list(result: Dict[str, Any], max_chars: int) -> Dict[str, Any]:
    items = result["data"]
    searching = result.get("object") == "search_result"

    def page(count: int) -> Dict[str, Any]:
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
