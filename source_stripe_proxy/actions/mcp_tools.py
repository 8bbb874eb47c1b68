"""The MCP server's tools, without the MCP SDK: what is offered, and what a call does.

``mcp_server.py`` puts these on the wire. Kept apart so the rules (which tools exist, what
they accept, what a result looks like) are plain Python over the actions' API
(``prepare_call`` + one ``StripeConnection``), testable without an MCP session.

Tools: one per call of the seed document (``create_customer``, ``list_customers``...), plus
``stripe_call`` (any action by entity, action and parameters) and ``stripe_describe`` (what
exists and what an action accepts). A model chooses badly among hundreds of tools, so the
545 actions are reached through those two rather than one tool each.

A tool is a ``ToolDefinition``: name, schema, hints and its ``run(arguments, context)``;
``StripeTools.add`` offers another. Before a call to Stripe is sent, each of the table's
``guards`` sees the prepared call and may refuse it (raise ``ActionInputError``) or ask the
person at the client first (``context.ask(Question(...))``, which the server layer answers
through MCP elicitation; ``Answer.unavailable`` when it cannot ask).
"""

from __future__ import annotations

import json
import logging
import re
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from source_stripe_proxy.actions.catalog import (
    ActionSpec,
    actions_of,
    describe_action,
    find_action,
    input_schema,
    resolve_entity,
)
from source_stripe_proxy.actions.catalog import seed_calls
from source_stripe_proxy.actions.connection import PreparedCall, prepare_call
from source_stripe_proxy.actions.params import coerce
from source_stripe_proxy.actions.errors import CREDENTIALS, DESCRIBE, ActionInputError, Hint, error_to_dict
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError
from source_stripe_proxy.core.redaction import scrub_document
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.data import resources

log = logging.getLogger("source_stripe_proxy.mcp")

CALL_TOOL = "stripe_call"
DESCRIBE_TOOL = "stripe_describe"
GENERAL_TOOLS = (CALL_TOOL, DESCRIBE_TOOL)
DEFAULT_PAGE_SIZE = 10  # Stripe's own default `limit`: a page a model can read
DEFAULT_MAX_RESULT_CHARS = 50_000  # about 12k tokens of JSON
MIN_RESULT_CHARS = 2_000
DRY_RUN = "dry_run"
NEXT_CURSOR = "next_starting_after"  # added to a list with has_more: the id to continue after

_BOOLEAN = {"type": "boolean"}
_DRY_RUN_SCHEMA = {
    "type": "boolean",
    "description": "true: validate and return the request that would be sent (method, path, form fields); send nothing.",
}


@dataclass(frozen=True)
class Question:
    """What a tool asks the person at the client before going on (MCP elicitation, SDK-free).
    ``schema``: a flat JSON Schema object of strings, numbers, booleans and enums, as MCP allows."""

    message: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class Answer:
    """The person's answer: ``action`` is accept, decline or cancel (MCP's), or ``unavailable``
    when the client cannot be asked (it declared no elicitation, or the channel has no way back)."""

    action: str
    content: Mapping[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.action == "accept"

    @property
    def unavailable(self) -> bool:
        return self.action == "unavailable"


Ask = Callable[[Question], Answer]


class QuestionPending(Exception):
    """Raised by an ``ask`` whose answer comes with a retry of the whole call (MCP 2026-07-28
    asks by returning the question; the client calls again with the answer). Nothing has been
    sent: guards run before sending, and ``StripeTools.call`` lets this through unchanged."""

    def __init__(self, key: str, question: Question):
        self.key, self.question = key, question
        super().__init__(question.message)


def cannot_ask(question: Question) -> Answer:
    """The ``ask`` of a call with nobody to ask (tests, the Python API, a client without elicitation)."""
    return Answer("unavailable")


@dataclass(frozen=True)
class CallContext:
    """What a tool's ``run`` and the guards know of the call beyond its arguments."""

    tool: str
    ask: Ask = cannot_ask


# Looks at a prepared call before it is sent; raises ActionInputError to refuse it.
Guard = Callable[[PreparedCall, CallContext], None]


class ToolCallError(Exception):
    """A tool call refused or failed: ``error`` is Stripe's error shape, ``{"error": {...}}``."""

    def __init__(self, error: Mapping[str, Any]):
        self.error = error
        super().__init__(json.dumps(error, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True)
class ToolDefinition:
    """One tool as offered: its name, what a model reads, its input's JSON Schema, its hints,
    and what a call does: ``run(arguments, context)`` returns the result's JSON value or raises
    (``ActionInputError``, ``ToolCallError``, any ``StripeProxyError``)."""

    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool
    run: Callable[[Dict[str, Any], CallContext], Any] = field(repr=False, compare=False)
    open_world: bool = True  # it reaches Stripe (stripe_describe does not)
    spec: Optional[ActionSpec] = field(default=None, repr=False)  # the seed call of a named tool


# ------------------------------------------------------------------------------------------
# Which calls and tools are offered: --read-only, --allow, --deny
# ------------------------------------------------------------------------------------------

Call = Tuple[str, str]  # (action, entity)


@dataclass(frozen=True)
class _Rules:
    entities: FrozenSet[str] = frozenset()
    calls: FrozenSet[Call] = frozenset()
    tools: FrozenSet[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.entities or self.calls or self.tools)

    def match(self, action: str, entity: str) -> bool:
        return entity in self.entities or (action, entity) in self.calls


def _parse_rules(items: Iterable[str], option: str) -> _Rules:
    entities, calls, tools = set(), set(), set()
    for raw in items:
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            if item in GENERAL_TOOLS:
                tools.add(item)
                continue
            try:
                entities.add(resolve_entity(item))
                continue
            except ActionInputError:
                pass
            found = _calls_named(item)
            if not found:
                raise ConfigError(
                    f"{option}: '{item}' is not an entity (customer, invoice...), an action written as a tool name "
                    f"(get_customer, finalize_invoice...) or a general tool ({', '.join(GENERAL_TOOLS)})."
                )
            calls.update(found)
    return _Rules(frozenset(entities), frozenset(calls), frozenset(tools))


def _calls_named(item: str) -> List[Call]:
    """'finalize_invoice' -> [('finalize', 'invoice')]; 'list_customers', 'test_expire_refund' likewise."""
    words = re.split(r"[\s_\-]+", item.strip().lower())
    found = []
    for cut in range(1, len(words)):
        action, entity_name = "_".join(words[:cut]), "_".join(words[cut:])
        action = {"retrieve": "get"}.get(action, action)
        try:
            entity = resolve_entity(entity_name)
        except ActionInputError:
            continue
        if action in actions_of(entity):
            found.append((action, entity))
    return found


class AccessPolicy:
    """What the server offers and accepts.

    ``read_only``: only reads (get, list, search and Stripe's other GETs). ``allow``: only these
    items; ``deny``: never these, over ``allow``. An item is an entity (every action on it), an
    action written as a tool name (``finalize_invoice``, ``list_customers``) or a general tool
    (``stripe_call``, ``stripe_describe``)."""

    def __init__(self, *, read_only: bool = False, allow: Sequence[str] = (), deny: Sequence[str] = ()):
        self.read_only = read_only
        self.allow = _parse_rules(allow, "--allow")
        self.deny = _parse_rules(deny, "--deny")

    def permits(self, action: str, entity: str, read_only: bool) -> bool:
        """May this call be made at all (by a named tool or stripe_call)?"""
        if self.read_only and not read_only:
            return False
        if self.deny.match(action, entity):
            return False
        if self.allow.entities or self.allow.calls:
            return self.allow.match(action, entity)
        return True

    def offers_named(self, spec: ActionSpec) -> bool:
        if not self.permits(spec.action, spec.entity, spec.read_only):
            return False
        return not self.allow or self.allow.match(spec.action, spec.entity)

    def refusal(self, action: str, entity: str, read_only: bool) -> str:
        if self.read_only and not read_only:
            return f"'{action} {entity}' writes, and this server is read-only: only get, list, search and other reads are allowed."
        return f"'{action} {entity}' is not allowed by this server's --allow/--deny settings."

    def describe(self) -> str:
        parts = []
        if self.read_only:
            parts.append("read-only")
        for name, rules in (("allow", self.allow), ("deny", self.deny)):
            items = sorted(rules.entities) + sorted(f"{a}_{e}" for a, e in rules.calls) + sorted(rules.tools)
            if items:
                parts.append(f"{name}: {', '.join(items)}")
        return "; ".join(parts) or "every action"


# ------------------------------------------------------------------------------------------
# Schemas and descriptions
# ------------------------------------------------------------------------------------------


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
        schema["properties"][DRY_RUN] = dict(_DRY_RUN_SCHEMA)
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


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ------------------------------------------------------------------------------------------
# Results: Stripe's JSON, cut to a size a model can read
# ------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------
# The tools
# ------------------------------------------------------------------------------------------


class StripeTools:
    """The tools of one server: built once, called from any thread.

    ``execute`` sends a prepared call (``StripeConnection.execute`` of the one long-lived
    connection); ``secrets`` are scrubbed from every result and error."""

    def __init__(
        self,
        execute: Callable[[PreparedCall], Any],
        *,
        policy: Optional[AccessPolicy] = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
        secrets: Sequence[str] = (),
        guards: Sequence[Guard] = (),
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"--page-size must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        if max_result_chars < MIN_RESULT_CHARS:
            raise ConfigError(f"--max-result-chars must be at least {MIN_RESULT_CHARS}.")
        self._execute = execute
        self.policy = policy or AccessPolicy()
        self.page_size = page_size
        self.max_result_chars = max_result_chars
        self.secrets = tuple(s for s in secrets if s)
        self.guards: List[Guard] = list(guards)
        self.tools: Dict[str, ToolDefinition] = {}
        for spec in seed_calls():
            if self.policy.offers_named(spec):
                self.tools[tool_name(spec)] = self._named_tool(spec)
        self._named_calls = {(t.spec.action, t.spec.entity) for t in self.tools.values() if t.spec}
        self._permitted = self._permitted_calls()
        if self._offers(CALL_TOOL):
            self.tools[CALL_TOOL] = self._call_tool()
        if self._offers(DESCRIBE_TOOL):
            self.tools[DESCRIBE_TOOL] = self._describe_tool()

    def add(self, tool: ToolDefinition) -> None:
        """Offer one more tool (after the named ones and the general ones)."""
        if tool.name in self.tools:
            raise ValueError(f"a tool named {tool.name} is already offered")
        self.tools[tool.name] = tool

    # -- what is offered -------------------------------------------------------------------

    def _permitted_calls(self) -> Dict[str, Dict[str, Mapping[str, Any]]]:
        """entity -> action -> its index record, for every call the policy permits."""
        permitted: Dict[str, Dict[str, Mapping[str, Any]]] = {}
        for entity, info in resources.entities().items():
            for action, record in info["actions"].items():
                if self.policy.permits(action, entity, record["read_only"]):
                    permitted.setdefault(entity, {})[action] = record
        return permitted

    def _offers(self, tool: str) -> bool:
        policy = self.policy
        if tool in policy.deny.tools:
            return False
        if tool == DESCRIBE_TOOL:
            return tool in policy.allow.tools or CALL_TOOL in self.tools
        if not policy.allow or tool in policy.allow.tools:
            return bool(self._permitted)
        beyond_named = any((a, e) not in self._named_calls for e, actions in self._permitted.items() for a in actions)
        return bool(policy.allow.entities or policy.allow.calls) and beyond_named

    def _named_tool(self, spec: ActionSpec) -> ToolDefinition:
        name = tool_name(spec)
        return ToolDefinition(
            name=name,
            title=_title(name),
            description=tool_description(spec, self.page_size),
            input_schema=tool_input_schema(spec),
            read_only=spec.read_only,
            destructive=spec.destructive,
            idempotent=spec.idempotent,
            run=lambda arguments, context: self._run(spec, arguments, context),
            spec=spec,
        )

    def _call_tool(self) -> ToolDefinition:
        entities = sorted(self._permitted)
        reads_only = all(record["read_only"] for actions in self._permitted.values() for record in actions.values())
        properties: Dict[str, Any] = {
            "entity": {
                "type": "string",
                "enum": entities,
                "description": "Stripe's object, singular: customer, invoice, invoice_item, refund, coupon, checkout_session...",
            },
            "action": {
                "type": "string",
                "description": "create, update, get, list, delete, search, or a named operation such as finalize, pay, "
                "void, cancel, capture or confirm. stripe_describe lists an entity's actions.",
            },
            "params": {
                "type": "object",
                "additionalProperties": True,
                "description": "The action's parameters by Stripe's names, nested as objects (metadata, items...); "
                "ids as id or <entity>_id. stripe_describe with entity and action lists them.",
            },
        }
        if not reads_only:
            properties[DRY_RUN] = dict(_DRY_RUN_SCHEMA)
        scope = "reads only (get, list, search)" if reads_only else "any action"
        description = (
            f"Call {scope} on any of {len(entities)} Stripe entities by entity, action and parameters; parameters are "
            "checked against Stripe's API before anything is sent, and an error names the one at fault and lists what is "
            "accepted. Use the named tools for customers, subscriptions, products, prices, plans and balance transactions; "
            "this for the rest (invoices, invoice items, refunds, coupons, payment intents, checkout sessions...). "
            f"Lists return {self.page_size} per page unless params.limit is given; continue with starting_after = "
            f"{NEXT_CURSOR}. Amounts are whole numbers in the smallest currency unit (1000 is 10.00 USD)."
        )
        if not reads_only:
            description += " dry_run=true returns the request without sending it."
        return ToolDefinition(
            name=CALL_TOOL,
            title="Call a Stripe action",
            description=description,
            input_schema={"type": "object", "properties": properties, "required": ["entity", "action"], "additionalProperties": False},
            read_only=reads_only,
            destructive=not reads_only,
            idempotent=reads_only,
            run=self._stripe_call,
        )

    def _describe_tool(self) -> ToolDefinition:
        return ToolDefinition(
            name=DESCRIBE_TOOL,
            title="Describe Stripe actions",
            description=(
                "What stripe_call can do. No arguments: every entity and its actions. entity: that entity's actions with "
                "what each does and whether it only reads, is destructive or idempotent. entity and action: the action's "
                "parameters as JSON Schema (Stripe's names), which are required, and the seed's aliases."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "entity": {"type": "string", "description": "Stripe's object: customer, invoice, refund..."},
                    "action": {"type": "string", "description": "One of the entity's actions: create, list, finalize..."},
                },
                "additionalProperties": False,
            },
            read_only=True,
            destructive=False,
            idempotent=True,
            run=lambda arguments, context: self._describe(arguments),
            open_world=False,
        )

    # -- calls -------------------------------------------------------------------------------

    def call(self, name: str, arguments: Optional[Mapping[str, Any]], *, ask: Ask = cannot_ask) -> Any:
        """Run a tool; returns Stripe's JSON (or a description, or a dry run's request).
        ``ask`` puts a question to the person at the client (the server layer's elicitation).
        Raises ``ToolCallError`` with Stripe's error shape, scrubbed."""
        try:
            return self._call(name, dict(arguments or {}), CallContext(tool=name, ask=ask))
        except QuestionPending:
            raise
        except ToolCallError as exc:
            raise ToolCallError(self._scrubbed(exc.error)) from None
        except Exception as exc:  # Stripe's, the proxy's or ours: the same error object for the model
            if not isinstance(exc, StripeProxyError):  # a bug: the operator gets the traceback (scrubbed)
                log.exception("tool %s failed unexpectedly", name)
            raise ToolCallError(self._scrubbed(error_to_dict(exc, mcp_words))) from None

    def render(self, result: Any) -> str:
        """The result as the JSON text a tool returns: secrets scrubbed, then cut to size."""
        return to_json(cut_to_size(scrub_document(result, self.secrets), self.max_result_chars))

    def _call(self, name: str, arguments: Dict[str, Any], context: CallContext) -> Any:
        tool = self.tools.get(name)
        if tool is None:
            raise ActionInputError(self.unknown_tool(name), param="name", accepted=tuple(self.tools))
        return tool.run(arguments, context)

    def unknown_tool(self, name: str) -> str:
        """Why ``name`` is not served: not a tool at all, or one the policy does not offer."""
        hidden = next((t for t in seed_calls() if tool_name(t) == name), None)
        if hidden is not None and not self.policy.offers_named(hidden):
            why = self.policy.refusal(hidden.action, hidden.entity, hidden.read_only)
            return f"Unknown tool: {name}. {why} The tools are {', '.join(self.tools)}."
        return f"Unknown tool: {name}. The tools are {', '.join(self.tools)}."

    def _stripe_call(self, arguments: Dict[str, Any], context: CallContext) -> Any:
        known = ("entity", "action", "params", DRY_RUN)
        for key in arguments:
            if key not in known:
                raise ActionInputError(
                    f"Unknown argument '{key}' for {CALL_TOOL}: it takes entity, action, params and dry_run; "
                    f"give the action's parameters inside params ({{\"{key}\": ...}}).",
                    param=key, accepted=known,
                )
        params = arguments.get("params") or {}
        if isinstance(params, str):  # some clients send an object as JSON text
            try:
                params = json.loads(params)
            except ValueError:
                pass
        if not isinstance(params, dict):
            raise ActionInputError("'params' must be an object of the action's parameters.", param="params")
        spec = find_action(arguments.get("action"), arguments.get("entity"))
        if DRY_RUN in arguments:
            params = {**params, DRY_RUN: arguments[DRY_RUN]}
        return self._run(spec, params, context)

    def _run(self, spec: ActionSpec, params: Dict[str, Any], context: CallContext) -> Any:
        if not self.policy.permits(spec.action, spec.entity, spec.read_only):
            raise ActionInputError(self.policy.refusal(spec.action, spec.entity, spec.read_only), param="action")
        dry_run = False
        if DRY_RUN in params and (context.tool == CALL_TOOL or not spec.read_only):  # named reads take no dry_run
            dry_run = coerce(_BOOLEAN, params.pop(DRY_RUN), DRY_RUN)
        if "all" in params:
            raise ActionInputError(
                f"'all' is not offered here: read {spec.entity} lists page by page with limit and starting_after "
                f"({NEXT_CURSOR} in each page).", param="all",
            )
        if spec.paging and params.get("limit") is None:
            params["limit"] = self.page_size
        prepared = prepare_call(spec.action, spec.entity, params)
        if dry_run:
            return {"dry_run": True, "request": prepared.request()}
        for guard in self.guards:  # a dry run sends nothing, so it passes no guard
            guard(prepared, context)
        try:
            return with_cursor(self._execute(prepared))
        except Exception as exc:
            error = dict(error_to_dict(exc, mcp_words)["error"])
            if prepared.idempotency_key and error["type"] == "api_connection_error":
                # No answer: the write may or may not have happened. The same key makes a retry safe.
                error["idempotency_key"] = prepared.idempotency_key
                error["message"] += " Retry with the same idempotency_key to avoid acting twice."
            raise ToolCallError({"error": error}) from None

    def _describe(self, arguments: Dict[str, Any]) -> Any:
        for key in arguments:
            if key not in ("entity", "action"):
                raise ActionInputError(f"Unknown argument '{key}' for {DESCRIBE_TOOL}: it takes entity and action.",
                                       param=key, accepted=("entity", "action"))
        entity, action = arguments.get("entity"), arguments.get("action")
        if not entity:
            if action:
                raise ActionInputError(f"{DESCRIBE_TOOL}: give the entity with the action.", param="entity")
            return {
                "entities": {name: sorted(actions) for name, actions in sorted(self._permitted.items())},
                "note": f"{DESCRIBE_TOOL} with an entity (and an action) says more; {CALL_TOOL} calls them.",
            }
        name = resolve_entity(entity)
        permitted = self._permitted.get(name)
        if not permitted:
            raise ActionInputError(f"No action on {name} is allowed by this server.", param="entity")
        if not action:
            return {"entity": name, "actions": deepcopy(permitted)}
        spec = find_action(action, name)
        if spec.action not in permitted:
            raise ActionInputError(self.policy.refusal(spec.action, name, spec.read_only), param="action",
                                   accepted=tuple(permitted))
        described = describe_action(spec.action, name)
        described["input_schema"] = tool_input_schema(spec)
        return described

    def _scrubbed(self, error: Mapping[str, Any]) -> Mapping[str, Any]:
        return scrub_document(error, self.secrets)


def mcp_words(hint: Hint) -> str:
    """The actions' hints as an agent reads them: stripe_describe answers, the server holds credentials."""
    if hint.kind == DESCRIBE:
        if hint.action:
            return f"{DESCRIBE_TOOL} with entity={hint.entity}, action={hint.action} lists all its parameters."
        if hint.entity:
            return f"{DESCRIBE_TOOL} with entity={hint.entity} lists its actions."
        return f"{DESCRIBE_TOOL} lists them."
    if hint.kind == CREDENTIALS:
        return "Credentials belong to the server, not to a call."
    return "Or start the server with --config FILE."


__all__ = [
    "AccessPolicy", "Answer", "CallContext", "Guard", "Question", "QuestionPending", "StripeTools", "ToolCallError", "ToolDefinition",
    "cannot_ask", "cut_to_size", "tool_name",
]
