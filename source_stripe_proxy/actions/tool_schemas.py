"""The named tools' input schemas and descriptions, from the actions' table (no SDK).

The schema of a named tool is its action's parameters (Stripe's names and the seed's), as
``describe_action`` gives them, without what a tool call does not take (``all``, ``save_to``),
an upload as its content only, and with ``dry_run`` on writes.
"""

from __future__ import annotations

import re
from typing import Any

from source_stripe_proxy.actions.catalog import ActionSpec, input_schema, required_names
from source_stripe_proxy.actions.files import UPLOAD_SCHEMA, is_upload
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.data import resources

DRY_RUN = "dry_run"
NEXT_CURSOR = "next_starting_after"  # added to a list with has_more: the id to continue after
DRY_RUN_SCHEMA = {
    "type": "boolean",
    "description": "true: validate and return the request that would be sent (method, path, form fields); send nothing.",
}
MOVES_MONEY = "Moves money."  # the mark in a description: short, as every listed character counts


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


def tool_input_schema(spec: ActionSpec) -> dict[str, Any]:
    """The action's parameters as a tool's input: Stripe's names and the seed's, no ``all``
    (pages are followed with starting_after) nor ``save_to`` (a PDF comes back as a resource),
    an upload as its content (never a path on the server's machine), ``dry_run`` on writes. No
    top-level ``allOf``: several model APIs refuse it, so "either name" requirements are in the
    description."""
    schema = _without_vendor_keys(input_schema(spec))
    for ours in ("all", "save_to"):
        schema["properties"].pop(ours, None)
    schema.pop("allOf", None)
    for name, prop in spec.properties.items():
        if is_upload(prop):
            schema["properties"][name] = {**UPLOAD_SCHEMA, "description": "The file: its name and its bytes in base64."}
    if not spec.read_only:
        schema["properties"][DRY_RUN] = dict(DRY_RUN_SCHEMA)
    return schema


def _either_names(spec: ActionSpec) -> list[str]:
    """Each required parameter with the other names that fill it: 'customer_id (or customer, id)'."""
    return [names[0] + (f" (or {', '.join(names[1:])})" if len(names) > 1 else "") for names in required_names(spec)]


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
    if spec.moves_money:
        lines.append(MOVES_MONEY)
    return "\n".join(lines)


def title_of(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ------------------------------------------------------------------------------------------
# Slim schemas: what an agent can afford to read in every conversation
# ------------------------------------------------------------------------------------------

SLIM_DESCRIPTION_CHARS = 110  # a parameter's description: its first sentence, about one line
SLIM_DEPTH = 2  # nested objects keep their fields down to this depth (address.city), then just "object"
SLIM_ENUM = 16  # a longer enum is named, not listed


def slim_parameters(spec: ActionSpec) -> list[str]:
    """The parameters a slim schema keeps, in this order: the required ones and the seed's
    aliases (an aliased parameter by its seed name only: customer_id, not customer), then the
    seed's common ones (``SEED_COMMON``), then our own: ``idempotency_key`` where a key is made."""
    from source_stripe_proxy.actions.seed_aliases import SEED_COMMON

    aliased = {re.split(r"[\[.]", target, maxsplit=1)[0] for target in spec.aliases.values()}
    names = [name for name in spec.required if name not in aliased]
    names += list(spec.aliases)
    names += [name for name in SEED_COMMON.get((spec.action, spec.entity), ()) if name not in aliased]
    if spec.generates_idempotency_key:
        names.append("idempotency_key")
    return list(dict.fromkeys(names))


def slim_input_schema(spec: ActionSpec) -> dict[str, Any]:
    """A named tool's slim input: the ``slim_parameters``, each slimmed by rule (``slim``).
    Other parameters of the action are accepted too and checked against the full schema, so
    the schema leaves ``additionalProperties`` open; ``stripe_describe`` gives the full one."""
    full = tool_input_schema(spec)
    properties = {name: slim(full["properties"][name], 1) for name in slim_parameters(spec)}
    for alias in spec.aliases:  # a seed name for an id (product_id) takes the id, not an inline object
        branches = properties[alias].get("anyOf", ())
        if alias.endswith("_id") and any(b.get("type") == "string" for b in branches):
            properties[alias] = {"type": "string", "description": properties[alias].get("description", "")}
    if "idempotency_key" in properties:
        properties["idempotency_key"] = {"type": "string", "description": "Repeat a write with the same key to retry it safely."}
    if not spec.read_only:
        properties[DRY_RUN] = {"type": "boolean", "description": "true: return the request without sending it."}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [name for name in full.get("required", ()) if name in properties]
    if required:
        schema["required"] = required
    return schema


def slim(schema: Any, depth: int) -> dict[str, Any]:
    """One parameter's schema, shorter by rule: a one-line description (top level only), no
    ``title`` or default ``maxLength``, no ``""`` branch (unsetting still works), enums of at
    most ``SLIM_ENUM`` values, nested objects below ``SLIM_DEPTH`` as plain objects."""
    if not isinstance(schema, dict):
        return schema
    branches = [b for b in schema.get("anyOf", ()) if b.get("enum") != [""]]
    if len(branches) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **branches[0]}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description":
            if depth == 1 and value:
                out[key] = _one_line(value)
        elif key == "anyOf":
            out[key] = [slim(branch, depth) for branch in value if branch.get("enum") != [""]]
        elif key == "properties":
            if depth < SLIM_DEPTH:
                out[key] = {name: slim(item, depth + 1) for name, item in value.items()}
        elif key == "items":
            out[key] = slim(value, depth if value.get("type") != "object" else depth + 1)
        elif (
            (key == "enum" and len(value) > SLIM_ENUM)
            or (key == "maxLength" and value >= 5000)
            or (key in ("title", "required") and depth > SLIM_DEPTH)
        ):
            continue
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = slim(value, depth + 1)
        else:
            out[key] = value
    enum = schema.get("enum") or ()
    if len(enum) > SLIM_ENUM:  # named, not listed: the server still checks the value
        first = f"{out['description']} " if out.get("description") else ""
        out["description"] = f"{first}One of {len(enum)} values: stripe_describe lists them."
    return out


def slim_description(spec: ActionSpec, page_size: int) -> str:
    """A named tool's description in a few short lines: what it does, Stripe's path, what is
    required, paging and units, and that every other parameter of the action is taken too."""
    lines = [_one_line(spec.description) or f"{spec.action} {spec.entity}.", f"Stripe: {spec.method} {spec.path}."]
    required = _either_names(spec)
    if required:
        lines.append(f"Required: {', '.join(required)}.")
    if spec.paging == "list":
        lines.append(f"{page_size} per page unless limit (1-{MAX_PAGE_SIZE}); if has_more, pass starting_after={NEXT_CURSOR}.")
    if any(name in spec.properties for name in ("amount", "unit_amount")) or "amount" in spec.aliases:
        lines.append("Amounts in the smallest currency unit: 1000 is 10.00 USD.")
    if spec.destructive:
        lines.append("This cannot be undone.")
    if spec.moves_money:
        lines.append(MOVES_MONEY)
    lines.append(f"Takes Stripe's other parameters too: stripe_describe entity={spec.entity} action={spec.action}.")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    text = " ".join(text.replace("`", "").split())
    end = text.find(". ")
    first = text if end < 0 else text[: end + 1]
    return first if len(first) <= SLIM_DESCRIPTION_CHARS else first[: SLIM_DESCRIPTION_CHARS - 3].rstrip() + "..."
