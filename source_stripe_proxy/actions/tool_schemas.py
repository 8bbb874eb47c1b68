"""The named tools' input schemas and descriptions, from the actions' table (no SDK).

The schema of a named tool is its action's parameters (Stripe's names and the seed's), as
``describe_action`` gives them, without what a tool call does not take (``all``) and with
``dry_run`` on writes.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from source_stripe_proxy.actions.catalog import ActionSpec, input_schema
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.data import resources

DRY_RUN = "dry_run"
NEXT_CURSOR = "next_starting_after"  # added to a list with has_more: the id to continue after
DRY_RUN_SCHEMA = {
    "type": "boolean",
    "description": "true: validate and return the request that would be sent (method, path, form fields); send nothing.",
}




def tool_name(spec: ActionSpec) -> str:
    """Stripe's naming: list_customers, get_customer, create_price, list_balance_transactions."""
    entity = spec.entity
    if spec.action in ("list", "search"):
        plural = entity + "s"
        if plural in resources.entities()[entity]["names"]:
            entity = plural
    return f"{spec.action}_{entity}"


def _without_vendor_keys(schema: Any) -> Any:
    """Drop the spec's ``x-...`` keys (x-in, x-stripeBypassValidation): noise to a model."""
    if isinstance(schema, dict):
        return {k: _without_vendor_keys(v) for k, v in schema.items() if not (isinstance(k, str) and k.startswith("x-"))}
    if isinstance(schema, list):
        return [_without_vendor_keys(v) for v in schema]
    return schema


def tool_input_schema(spec: ActionSpec) -> Dict[str, Any]:
    """The action's parameters as a tool's input: Stripe's names and the seed's, no ``all``
    (pages are followed with starting_after), ``dry_run`` on writes. No top-level ``allOf``:
    several model APIs refuse it, so "either name" requirements are in the description."""
    schema = _without_vendor_keys(input_schema(spec))
    schema["properties"].pop("all", None)
    schema.pop("allOf", None)
    if not spec.read_only:
        schema["properties"][DRY_RUN] = dict(DRY_RUN_SCHEMA)
    return schema


def _either_names(spec: ActionSpec) -> List[str]:
    """Each required parameter with the other names that fill it: 'customer_id (or customer, id)'."""
    names: Dict[str, List[str]] = {}
    for alias, target in {**spec.id_aliases, **spec.aliases}.items():
        names.setdefault(re.split(r"[\[.]", target, 1)[0], []).append(alias)
    if spec.id_param and "id" in spec.extras:
        names.setdefault(spec.id_param, []).append("id")
    shown = []
    for name in spec.required:
        seed_first = [*(a for a in names.get(name, ()) if a in spec.aliases), name,
                      *(a for a in names.get(name, ()) if a not in spec.aliases)]
        shown.append(seed_first[0] + (f" (or {', '.join(seed_first[1:])})" if len(seed_first) > 1 else ""))
    return shown


def _first_sentences(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 0 else text[: limit - 3] + "..."


def tool_description(spec: ActionSpec, page_size: int) -> str:
    lines = [_first_sentences(spec.description) or f"{spec.action} {spec.entity}.", f"Stripe: {spec.method} {spec.path}."]
    required = _either_names(spec)
    if required:
        lines.append(f"Required: {', '.join(required)}.")
    if spec.aliases:
        lines.append("The seed's names: " + ", ".join(f"{a} = {t}" for a, t in spec.aliases.items()) + ".")
    if spec.paging == "list":
        lines.append(
            f"Returns {page_size} per page unless limit is given (1 to {MAX_PAGE_SIZE}). When has_more is true, "
            f"call again with starting_after set to the result's {NEXT_CURSOR}."
        )
    elif spec.paging == "search":
        lines.append(f"Returns {page_size} per page unless limit is given; when has_more is true, call again with page=next_page.")
    if any(name in spec.properties for name in ("amount", "unit_amount")) or "amount" in spec.aliases:
        lines.append("Amounts are whole numbers in the smallest currency unit: 1000 is 10.00 USD.")
    if not spec.read_only:
        lines.append("dry_run=true returns the request without sending it.")
        if spec.generates_idempotency_key:
            lines.append("An idempotency key is sent; pass idempotency_key to retry safely after a timeout.")
    if spec.destructive:
        lines.append("This cannot be undone.")
    return "\n".join(lines)


def title_of(name: str) -> str:
    return name.replace("_", " ").capitalize()
