"""The table of actions: every operation of Stripe's API as an action on an entity.

Generated from Stripe's OpenAPI description by ``scripts/generate_operations.py`` into
``data/generated/operations_index.json`` (entities, their names, actions and flags) and
``data/generated/operations/<entity>.json`` (each action's parameters as JSON Schema). A call
reads the index and its entity's file only. The seed's names are aliases on top
(``seed_aliases.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from source_stripe_proxy.actions.errors import DESCRIBE, Hint, refuse
from source_stripe_proxy.actions.files import is_upload, upload_schema
from source_stripe_proxy.actions.params import schema_at, show
from source_stripe_proxy.actions.seed_aliases import SEED_CALLS, SEED_REQUIRED
from source_stripe_proxy.data import load_generated, resources

ACTION_SYNONYMS = {"retrieve": "get"}  # Stripe's docs say "retrieve"
FLAGS = ("read_only", "destructive", "idempotent", "moves_money")


@cache
def _entity_by_name() -> dict[str, str]:
    return {compact(name): entity for entity, info in resources.entities().items() for name in info["names"]}


def compact(name: str) -> str:
    """How names are matched: case, '_', '.', '-' and spaces ignored ('Balance-Transactions')."""
    return re.sub(r"[\s_.\-]", "", name.lower())


def entity_names() -> tuple[str, ...]:
    return tuple(resources.entities())


@dataclass(frozen=True)
class ActionSpec:
    """One generated action, with the seed's aliases when it is one of the seed's calls."""

    entity: str
    action: str
    method: str
    path: str
    description: str
    parameters: Mapping[str, Any]  # JSON Schema: path, query or body parameters by Stripe's names
    id_param: str | None  # the path parameter holding the entity's id (get/update/delete/...)
    path_params: tuple[str, ...]
    read_only: bool
    destructive: bool
    idempotent: bool
    paging: str | None = None  # "list" (starting_after) or "search" (page)
    returns: str | None = None  # Stripe's object name of the answer
    unsupported: str | None = None  # why the actions cannot send it
    own_path: str | None = None  # used when the id is left out (the key's own account)
    test_helper: bool = False
    moves_money: bool = False  # charges, refunds, pays out, transfers... (generated: the spec plus a reviewed list)
    moves_money_because: str | None = None
    amount_fields: tuple[tuple[str, ...], ...] = ()  # paths of its amount parameters ("*": each item)
    host: str | None = None  # another of Stripe's hosts (https://files.stripe.com), from the spec
    body: str | None = None  # "multipart": an upload
    answer: str | None = None  # a binary answer's media type (application/pdf)
    aliases: Mapping[str, str] = field(default_factory=dict)  # seed name -> Stripe name
    seed_required: tuple[str, ...] = ()

    @property
    def properties(self) -> Mapping[str, Mapping[str, Any]]:
        return self.parameters.get("properties", {})

    @property
    def required(self) -> tuple[str, ...]:
        required = [n for n in self.parameters.get("required", ()) if not (n == self.id_param and self.own_path)]
        return tuple(dict.fromkeys([*required, *self.seed_required]))

    @property
    def extras(self) -> tuple[str, ...]:
        """Parameters of ours: ``idempotency_key`` on writes, ``all`` on lists, ``id`` for the id."""
        extras = []
        if self.method == "POST":
            extras.append("idempotency_key")
        if self.paging == "list":
            extras.append("all")
        if self.answer:
            extras.append("save_to")
        if self.id_param and "id" not in self.properties:
            extras.append("id")
        return tuple(extras)

    @property
    def id_aliases(self) -> dict[str, str]:
        """Ids by the seed's habit of naming them: ``<entity>_id`` for the entity's id, and
        ``<name>_id`` for a path parameter or for a parameter named after an entity
        (``customer_id`` for ``customer``); never over a real parameter."""
        aliases: dict[str, str] = {}
        if self.id_param:
            aliases[f"{self.entity}_id"] = self.id_param
        entities = resources.entities()
        for name, schema in self.properties.items():
            if is_upload(schema):
                continue  # a file's content, not an id
            if (name in self.path_params and not name.endswith("id")) or name in entities:
                aliases.setdefault(f"{name}_id", name)
        return {alias: target for alias, target in aliases.items() if alias not in self.properties and alias != target}

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.properties, *self.extras, *self.aliases, *self.id_aliases)))

    @property
    def generates_idempotency_key(self) -> bool:
        """A write that must not happen twice (create, pay, capture...): a key is made and reported."""
        return self.method == "POST" and not self.idempotent

    @property
    def name(self) -> str:
        return f"{self.action} {self.entity}"


def resolve_entity(entity: Any) -> str:
    """'Customers', 'balance-transactions', 'invoiceitems' -> the entity's name."""
    if not isinstance(entity, str) or not entity.strip():
        raise refuse("entity", "Missing 'entity': name a Stripe object such as customer.", hint=Hint(DESCRIBE))
    found = _entity_by_name().get(compact(entity))
    if found is None:
        raise refuse(
            "entity",
            f"Unknown entity {show(entity)}{_did_you_mean(entity, entity_names())}; the entities are Stripe's objects, singular or plural.",
            entity_names(),
            hint=Hint(DESCRIBE),
        )
    return found


def actions_of(entity: str) -> tuple[str, ...]:
    return tuple(resources.entities()[entity]["actions"])


def find_action(action: Any, entity: Any) -> ActionSpec:
    if not isinstance(action, str) or not action.strip():
        raise refuse("action", "Missing 'action': such as create, update, get, list, delete or search.")
    name = resolve_entity(entity)
    verb = re.sub(r"[\s\-]+", "_", action.strip().lower())
    verb = ACTION_SYNONYMS.get(verb, verb)
    actions = actions_of(name)
    if verb not in actions:
        raise refuse(
            "action",
            f"'{action.strip()}' is not an action of {name}{_did_you_mean(verb, actions)}: use one of {', '.join(actions)}.",
            actions,
            hint=Hint(DESCRIBE, entity=name),
        )
    return action_spec(name, verb)


@cache
def action_spec(entity: str, action: str) -> ActionSpec:
    record = load_generated(f"operations/{entity}.json")["actions"][action]
    return ActionSpec(
        entity=entity,
        action=action,
        method=record["method"],
        path=record["path"],
        description=record["description"],
        parameters=record["parameters"],
        id_param=record["id_param"],
        path_params=tuple(record["path_params"]),
        read_only=record["read_only"],
        destructive=record["destructive"],
        idempotent=record["idempotent"],
        paging=record.get("paging"),
        returns=record.get("returns"),
        unsupported=record.get("unsupported"),
        own_path=record.get("own_path"),
        test_helper=record.get("test_helper", False),
        moves_money=record.get("moves_money", False),
        moves_money_because=record.get("moves_money_because"),
        amount_fields=tuple(tuple(path) for path in record.get("amount_fields", ())),
        host=record.get("host"),
        body=record.get("body"),
        answer=record.get("answer"),
        aliases=dict(SEED_CALLS.get((action, entity), {})),
        seed_required=tuple(SEED_REQUIRED.get((action, entity), ())),
    )


def required_names(spec: ActionSpec) -> list[list[str]]:
    """Each required parameter as the names that fill it, the seed's first: [customer_id, customer, id]."""
    names: dict[str, list[str]] = {}
    for alias, target in {**spec.id_aliases, **spec.aliases}.items():
        names.setdefault(re.split(r"[\[.]", target, maxsplit=1)[0], []).append(alias)
    if spec.id_param and "id" in spec.extras:
        names.setdefault(spec.id_param, []).append("id")
    return [
        [*(a for a in names.get(name, ()) if a in spec.aliases), name, *(a for a in names.get(name, ()) if a not in spec.aliases)]
        for name in spec.required
    ]


def seed_calls() -> tuple[ActionSpec, ...]:
    """The seed document's calls, in its order: the help text, the docs and the named tools list them."""
    return tuple(action_spec(entity, action) for action, entity in SEED_CALLS)


def _did_you_mean(given: str, choices: tuple[str, ...]) -> str:
    from difflib import get_close_matches  # only on this error path

    close = get_close_matches(compact(given), {compact(c): c for c in choices}, n=3, cutoff=0.75)
    names = [c for c in choices if compact(c) in close]
    return f" (did you mean {' or '.join(names)}?)" if names else ""


# ------------------------------------------------------------------------------------------
# What agents and the MCP server read
# ------------------------------------------------------------------------------------------


def list_actions(entity: str | None = None) -> dict[str, Any]:
    """Every entity (or one), with its names and its actions' method, path, description and
    flags (read_only, destructive, idempotent)."""
    entities = resources.entities()
    chosen = [resolve_entity(entity)] if entity is not None else list(entities)
    return deepcopy({name: entities[name] for name in chosen})  # callers may change it; the table stays


def describe_action(action: str, entity: str) -> dict[str, Any]:
    """One action: what it does, its flags, and the JSON Schema of its input (aliases included)."""
    spec = find_action(action, entity)
    described: dict[str, Any] = {
        "entity": spec.entity,
        "action": spec.action,
        "method": spec.method,
        "path": spec.path,
        "description": spec.description,
        **{flag: getattr(spec, flag) for flag in FLAGS},
        "returns": spec.returns,
        "id_param": spec.id_param,
        "required": list(spec.required),
        "input_schema": input_schema(spec),
    }
    if spec.paging:
        described["paging"] = spec.paging
    if spec.aliases or spec.id_aliases:
        described["aliases"] = {**spec.id_aliases, **spec.aliases}
    if spec.moves_money_because:
        described["moves_money_because"] = spec.moves_money_because
    if spec.amount_fields:
        described["amount_fields"] = [_form_name(path) for path in spec.amount_fields]
    if spec.host:
        described["host"] = spec.host
    if spec.body:
        described["body"] = spec.body
    if spec.answer:
        described["answer"] = spec.answer
    if spec.unsupported:
        described["unsupported"] = spec.unsupported
    if spec.test_helper:
        described["test_helper"] = True
    return described


def _form_name(path: tuple[str, ...]) -> str:
    """('line_items', '*', 'price_data', 'unit_amount') -> line_items[][price_data][unit_amount]."""
    head, *rest = path
    return head + "".join("[]" if part == "*" else f"[{part}]" for part in rest)


def input_schema(spec: ActionSpec, *, aliases: bool = True) -> dict[str, Any]:
    """The action's parameters as one JSON Schema object: Stripe's, plus ours (``idempotency_key``,
    ``all``, ``id``) and, with ``aliases``, the seed's names (either name satisfies a requirement)."""
    properties: dict[str, Any] = dict(spec.properties)
    for name, prop in spec.properties.items():
        if is_upload(prop):
            properties[name] = {**upload_schema(paths=True), "description": prop.get("description", "The file.")}
    if "idempotency_key" in spec.extras:
        properties["idempotency_key"] = {
            "type": "string",
            "maxLength": 255,
            "description": "Stripe's Idempotency-Key: repeat a write with the same key and Stripe answers with the first result.",
        }
    if "all" in spec.extras:
        properties["all"] = {"type": "boolean", "description": "Follow every page and return one list (limit sets the page size)."}
    if "save_to" in spec.extras:
        properties["save_to"] = {"type": "string", "description": f"A local path to save the answer ({spec.answer}) to."}
    if "id" in spec.extras:
        properties["id"] = {"type": "string", "description": f"Same as {spec.id_param}."}
    either: list[dict[str, Any]] = []
    required = list(spec.required)
    if aliases:
        for alias, target in spec.aliases.items():
            top = re.split(r"[\[.]", target, maxsplit=1)[0]
            properties[alias] = {**schema_at(spec.properties, target), "description": f"The seed's name for {target}."}
            if top in required:
                required.remove(top)
                either.append({"anyOf": [{"required": [top]}, {"required": [alias]}]})
    if spec.id_param and spec.id_param in required and "id" in spec.extras:
        required.remove(spec.id_param)
        either.append({"anyOf": [{"required": [spec.id_param]}, {"required": ["id"]}]})
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if either:
        schema["allOf"] = either
    return deepcopy(schema)  # callers may trim it; the table that checks calls stays whole
