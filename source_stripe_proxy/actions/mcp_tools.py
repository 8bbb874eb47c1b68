"""The MCP server's tools, without the MCP SDK: what is offered, and what a call does.

``mcp_server.py`` puts these on the wire; ``tool_schemas.py`` makes the named tools' schemas
and descriptions, ``tool_results.py`` cuts results to size. Kept apart so the rules (which tools exist, what
they accept, what a result looks like) are plain Python over the actions' API
(``prepare_call`` + one ``StripeConnection``), testable without an MCP session.

Tools: one per call of the seed document (``create_customer``, ``list_customers``...), plus
``stripe_call`` (any action by entity, action and parameters), ``stripe_describe`` (what
exists and what an action accepts) and ``stripe_search_actions`` (the actions that match plain
words). A model chooses badly among hundreds of tools, so the 545 actions are reached through
those rather than one tool each.

A tool is a ``ToolDefinition``: name, schema, hints and its ``run(arguments, context)``;
``StripeTools.add`` offers another. Before a call to Stripe is sent, each of the table's
``guards`` sees the prepared call and may refuse it (raise ``ActionInputError``) or ask the
person at the client first (``context.ask(Question(...))``, which the server layer answers
through MCP elicitation; ``Answer.unavailable`` when it cannot ask).

Every call to Stripe goes through the agents' guardrails (``attempts.Attempt``): the account a
call names, the amount cap, then the guards, then the person's confirmation (``--confirm``,
asked with ``context.ask``), and the audit log, by tool name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from source_stripe_proxy.actions.attempts import ACCEPTED, CANNOT, DECLINED, AskPerson, Attempt
from source_stripe_proxy.actions.audit import AuditLog
from source_stripe_proxy.actions.catalog import (
    ActionSpec,
    actions_of,
    describe_action,
    find_action,
    resolve_entity,
    seed_calls,
)
from source_stripe_proxy.actions.connection import PreparedCall
from source_stripe_proxy.actions.errors import CREDENTIALS, DESCRIBE, ActionInputError, Hint, error_to_dict
from source_stripe_proxy.actions.files import default_name
from source_stripe_proxy.actions.guardrails import ACCOUNT_PARAM, CONFIRM_SCHEMA, GuardrailRefusal, Guardrails
from source_stripe_proxy.actions.params import coerce
from source_stripe_proxy.actions.search import DEFAULT_RESULTS, MAX_RESULTS, search_actions
from source_stripe_proxy.actions.tool_results import FIELDS, FIELDS_SCHEMA, cut_to_size, parse_fields, shape, to_json, with_cursor
from source_stripe_proxy.actions.tool_schemas import (
    DRY_RUN,
    DRY_RUN_SCHEMA,
    NEXT_CURSOR,
    slim_description,
    slim_input_schema,
    title_of,
    tool_description,
    tool_input_schema,
    tool_name,
)
from source_stripe_proxy.core.errors import ConfigError, StripeProxyError
from source_stripe_proxy.core.redaction import scrub_document
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.data import resources

log = logging.getLogger("source_stripe_proxy.mcp")

CALL_TOOL = "stripe_call"
DESCRIBE_TOOL = "stripe_describe"
SEARCH_TOOL = "stripe_search_actions"
GENERAL_TOOLS = (CALL_TOOL, DESCRIBE_TOOL, SEARCH_TOOL)
DEFAULT_PAGE_SIZE = 10  # Stripe's own default `limit`: a page a model can read
DEFAULT_MAX_RESULT_CHARS = 50_000  # about 12k tokens of JSON
MIN_RESULT_CHARS = 2_000
_BOOLEAN = {"type": "boolean"}
SLIM_ENTITY_ENUM = 24  # stripe_call lists its entities when --allow leaves at most this many
ACCOUNT_SCHEMA = {"type": "string", "description": "A connected account (acct_...) to act for, sent as Stripe-Account."}


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


def ask_person_through(ask: Ask) -> AskPerson:
    """The guardrails' confirmation (``attempts.AskPerson``: a message -> accepted, declined or
    cannot) over ``ask``: a form of one boolean, ``confirm``. Only an accept with ``confirm``
    true lets the call go; ``unavailable`` (nobody can be asked) is cannot; anything else
    declines. A ``QuestionPending`` goes through: the answer comes with the call's retry."""

    def ask_person(message: str) -> str:
        answer = ask(Question(message, CONFIRM_SCHEMA))
        if answer.unavailable:
            return CANNOT
        return ACCEPTED if answer.accepted and answer.content.get("confirm") is True else DECLINED

    return ask_person


@dataclass(frozen=True)
class BinaryResult:
    """A binary answer (a quote's PDF): the text result is its summary, and the server layer
    hands the bytes to the client as an embedded resource."""

    data: bytes
    mime_type: str
    name: str
    uri: str

    def summary(self) -> dict[str, Any]:
        return {"object": "file_content", "name": self.name, "type": self.mime_type, "bytes": len(self.data), "uri": self.uri}


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
    run: Callable[[dict[str, Any], CallContext], Any] = field(repr=False, compare=False)
    open_world: bool = True  # it reaches Stripe (stripe_describe does not)
    spec: ActionSpec | None = field(default=None, repr=False)  # the seed call of a named tool
    moves_money: bool = False  # it can charge, refund, pay out or transfer (the generated mark)


# ------------------------------------------------------------------------------------------
# Which calls and tools are offered: --read-only, --allow, --deny
# ------------------------------------------------------------------------------------------

Call = tuple[str, str]  # (action, entity)


@dataclass(frozen=True)
class _Rules:
    entities: frozenset[str] = frozenset()
    calls: frozenset[Call] = frozenset()
    tools: frozenset[str] = frozenset()

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


def _calls_named(item: str) -> list[Call]:
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
    (``stripe_call``, ``stripe_describe``, ``stripe_search_actions``)."""

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
# The tools
# ------------------------------------------------------------------------------------------


class StripeTools:
    """The tools of one server: built once, called from any thread.

    ``execute`` sends a prepared call as it is (``StripeConnection.send`` of the one long-lived
    connection: the limits are applied here, by tool name); ``secrets`` are scrubbed from every
    result and error. ``guardrails``: the accounts, the amount cap and the confirmation rule;
    ``audit``: where write attempts are recorded; ``guards`` run before the confirmation;
    ``can_send`` refuses what the connection cannot carry, in a dry run too."""

    def __init__(
        self,
        execute: Callable[[PreparedCall], Any],
        *,
        policy: AccessPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
        secrets: Sequence[str] = (),
        guards: Sequence[Guard] = (),
        can_send: Callable[[PreparedCall], None] | None = None,
        full_schemas: bool = False,
        guardrails: Guardrails | None = None,
        audit: AuditLog | None = None,
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
        self.guards: list[Guard] = list(guards)
        self.can_send = can_send
        self.guardrails = guardrails or Guardrails()
        self.audit = audit
        self.full_schemas = full_schemas  # each named tool's whole schema, as describe_action gives it
        self.tools: dict[str, ToolDefinition] = {}
        for spec in seed_calls():
            if self.policy.offers_named(spec):
                self.tools[tool_name(spec)] = self._named_tool(spec)
        self._named_calls = {(t.spec.action, t.spec.entity) for t in self.tools.values() if t.spec}
        self._permitted = self._permitted_calls()
        if self._offers(CALL_TOOL):
            self.tools[CALL_TOOL] = self._call_tool()
        if self._offers(DESCRIBE_TOOL):
            self.tools[DESCRIBE_TOOL] = self._describe_tool()
        if self._offers(SEARCH_TOOL):
            self.add(self._search_tool())

    def add(self, tool: ToolDefinition) -> None:
        """Offer one more tool (after the named ones and the general ones)."""
        if tool.name in self.tools:
            raise ValueError(f"a tool named {tool.name} is already offered")
        self.tools[tool.name] = tool

    # -- what is offered -------------------------------------------------------------------

    def _permitted_calls(self) -> dict[str, dict[str, Mapping[str, Any]]]:
        """entity -> action -> its index record, for every call the policy permits."""
        permitted: dict[str, dict[str, Mapping[str, Any]]] = {}
        for entity, info in resources.entities().items():
            for action, record in info["actions"].items():
                if self.policy.permits(action, entity, record["read_only"]):
                    permitted.setdefault(entity, {})[action] = record
        return permitted

    def _offers(self, tool: str) -> bool:
        policy = self.policy
        if tool in policy.deny.tools:
            return False
        if tool in (DESCRIBE_TOOL, SEARCH_TOOL):
            return tool in policy.allow.tools or CALL_TOOL in self.tools
        if not policy.allow or tool in policy.allow.tools:
            return bool(self._permitted)
        beyond_named = any((a, e) not in self._named_calls for e, actions in self._permitted.items() for a in actions)
        return bool(policy.allow.entities or policy.allow.calls) and beyond_named

    def _named_tool(self, spec: ActionSpec) -> ToolDefinition:
        name = tool_name(spec)
        schema = self._with_account(tool_input_schema(spec) if self.full_schemas else slim_input_schema(spec), spec)
        if spec.read_only:
            schema["properties"][FIELDS] = deepcopy(FIELDS_SCHEMA)
        return ToolDefinition(
            name=name,
            title=title_of(name),
            description=tool_description(spec, self.page_size) if self.full_schemas else slim_description(spec, self.page_size),
            input_schema=schema,
            read_only=spec.read_only,
            destructive=spec.destructive,
            idempotent=spec.idempotent,
            run=lambda arguments, context: self._named_call(spec, arguments, context),
            spec=spec,
            moves_money=spec.moves_money,
        )

    def _with_account(self, schema: dict[str, Any], spec: ActionSpec | None = None) -> dict[str, Any]:
        """``account`` offered where the server lets calls name one (and the action has no
        parameter of that name of its own, such as create account_link's)."""
        if self.guardrails.takes_account and (spec is None or ACCOUNT_PARAM not in spec.properties):
            schema["properties"][ACCOUNT_PARAM] = dict(ACCOUNT_SCHEMA)
        return schema

    def _call_tool(self) -> ToolDefinition:
        entities = sorted(self._permitted)
        reads_only = all(record["read_only"] for actions in self._permitted.values() for record in actions.values())
        entity: dict[str, Any] = {"type": "string", "enum": entities}
        if not self.full_schemas and len(entities) > SLIM_ENTITY_ENUM:  # named, not listed: resolve_entity checks it
            del entity["enum"]
        entity["description"] = (
            f"Stripe's object, singular: one of {len(entities)} such as customer, invoice, "
            "invoice_item, refund, coupon, checkout_session (stripe_describe lists them)."
        )
        properties: dict[str, Any] = {
            "entity": entity,
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
            properties[DRY_RUN] = dict(DRY_RUN_SCHEMA)
        properties[FIELDS] = deepcopy(FIELDS_SCHEMA)
        moves_money = any(record.get("moves_money") for actions in self._permitted.values() for record in actions.values())
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
        if moves_money:
            description += " Some actions move money (stripe_describe and stripe_search_actions mark them)."
        return ToolDefinition(
            name=CALL_TOOL,
            title="Call a Stripe action",
            description=description,
            input_schema=self._with_account(
                {"type": "object", "properties": properties, "required": ["entity", "action"], "additionalProperties": False}
            ),
            read_only=reads_only,
            destructive=not reads_only,
            idempotent=reads_only,
            run=self._stripe_call,
            moves_money=moves_money,
        )

    def _search_tool(self) -> ToolDefinition:
        return ToolDefinition(
            name=SEARCH_TOOL,
            title="Find Stripe actions",
            description=(
                "Find the action for a request in plain words, such as 'refund a charge' or 'cancel a subscription': "
                f"the best matches (about {DEFAULT_RESULTS}), each with its entity and action for stripe_call, one line "
                "of what it does, and whether it reads, writes or moves money. Ranked from Stripe's own descriptions; "
                "no network. stripe_describe then gives an action's parameters."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to do, in a few plain words."},
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_RESULTS,
                        "description": f"How many results (default {DEFAULT_RESULTS}).",
                    },
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            read_only=True,
            destructive=False,
            idempotent=True,
            run=lambda arguments, context: self._search(arguments),
            open_world=False,
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

    def call(self, name: str, arguments: Mapping[str, Any] | None, *, ask: Ask = cannot_ask) -> Any:
        """Run a tool; returns Stripe's JSON (or a description, a dry run's request, search
        results, or a ``BinaryResult``).
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
        """The result as the JSON text a tool returns: secrets scrubbed, then cut to size (a
        binary answer: its summary; the server layer adds its bytes as a resource)."""
        if isinstance(result, BinaryResult):
            return to_json(scrub_document(result.summary(), self.secrets))
        return to_json(cut_to_size(scrub_document(result, self.secrets), self.max_result_chars))

    def _call(self, name: str, arguments: dict[str, Any], context: CallContext) -> Any:
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

    def _stripe_call(self, arguments: dict[str, Any], context: CallContext) -> Any:
        known = ("entity", "action", "params", DRY_RUN, FIELDS, ACCOUNT_PARAM)
        for key in arguments:
            if key not in known:
                raise ActionInputError(
                    f"Unknown argument '{key}' for {CALL_TOOL}: it takes entity, action, params, dry_run, fields and account; "
                    f'give the action\'s parameters inside params ({{"{key}": ...}}).',
                    param=key,
                    accepted=known,
                )
        params = arguments.get("params") or {}
        if isinstance(params, str):  # some clients send an object as JSON text
            with contextlib.suppress(ValueError):
                params = json.loads(params)
        if not isinstance(params, dict):
            raise ActionInputError("'params' must be an object of the action's parameters.", param="params")
        spec = find_action(arguments.get("action"), arguments.get("entity"))
        params = {**params, **{key: arguments[key] for key in (DRY_RUN, FIELDS) if key in arguments}}
        return self._run(spec, params, context, account=arguments.get(ACCOUNT_PARAM))

    def _named_call(self, spec: ActionSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        """A named tool: its arguments are the action's parameters, and ``account`` (unless the
        action has a parameter of that name)."""
        account = arguments.pop(ACCOUNT_PARAM, None) if ACCOUNT_PARAM not in spec.properties else None
        return self._run(spec, arguments, context, account=account)

    def _run(self, spec: ActionSpec, params: dict[str, Any], context: CallContext, *, account: Any = None) -> Any:
        attempt = Attempt(self.guardrails, context.tool, self.audit, ask=ask_person_through(context.ask), paths=False)
        if not self.policy.permits(spec.action, spec.entity, spec.read_only):
            refused = GuardrailRefusal(self.policy.refusal(spec.action, spec.entity, spec.read_only), param="action", reason="policy")
            attempt.refused(spec, refused, account=account if isinstance(account, str) else None)
            raise refused
        dry_run = False
        if DRY_RUN in params and (context.tool == CALL_TOOL or not spec.read_only):  # named reads take no dry_run
            dry_run = coerce(_BOOLEAN, params.pop(DRY_RUN), DRY_RUN)
        fields = None
        if FIELDS in params and (context.tool == CALL_TOOL or spec.read_only):  # named writes answer whole
            fields = parse_fields(params.pop(FIELDS))
        for ours, why in (
            ("all", (f"read {spec.entity} lists page by page with limit and starting_after ({NEXT_CURSOR} in each page)")),
            ("save_to", "the answer comes back in the result, as an embedded resource"),
        ):
            if ours in params:
                raise ActionInputError(f"'{ours}' is not offered here: {why}.", param=ours)
        if spec.paging and params.get("limit") is None:
            params["limit"] = self.page_size
        sent: dict[str, Any] = {}

        def before(prepared: PreparedCall) -> None:  # a dry run sends nothing, so it passes no guard
            sent.update(key=prepared.idempotency_key, ids=prepared.path_ids)
            for guard in self.guards:
                guard(prepared, context)

        try:
            result = attempt.run(spec, params, account=account, dry_run=dry_run, send=self._execute, before=before, can_send=self.can_send)
        except (ActionInputError, QuestionPending):
            raise
        except Exception as exc:  # noqa: BLE001 - every other failure becomes the tool's error result, as Stripe's would
            error = dict(error_to_dict(exc, mcp_words)["error"])
            if sent.get("key") and error["type"] == "api_connection_error":
                # No answer: the write may or may not have happened. The same key makes a retry safe.
                error["idempotency_key"] = sent["key"]
                error["message"] += " Retry with the same idempotency_key to avoid acting twice."
            raise ToolCallError({"error": error}) from None
        if dry_run:
            return result
        if isinstance(result, (bytes, bytearray)) and spec.answer:
            return self._binary(spec, bytes(result), sent.get("ids") or {})
        return shape(with_cursor(result), fields)

    @staticmethod
    def _binary(spec: ActionSpec, data: bytes, ids: Mapping[str, str]) -> BinaryResult:
        """A download as a resource: quote-qt_1.pdf at stripe://quotes/qt_1/pdf."""
        uri = "stripe://" + spec.path.lstrip("/").replace("v1/", "", 1).format(**ids)
        return BinaryResult(data, spec.answer or "application/octet-stream", default_name(spec.entity, ids, spec.answer or ""), uri)

    def _search(self, arguments: dict[str, Any]) -> Any:
        for key in arguments:
            if key not in ("query", "limit"):
                raise ActionInputError(
                    f"Unknown argument '{key}' for {SEARCH_TOOL}: it takes query and limit.", param=key, accepted=("query", "limit")
                )
        results = search_actions(arguments.get("query"), limit=arguments.get("limit", DEFAULT_RESULTS), permitted=self.policy.permits)
        return {
            "query": arguments["query"],
            "results": results,
            "note": f"Call one with {CALL_TOOL} (entity, action, params); {DESCRIBE_TOOL} with its entity and action lists its parameters.",
        }

    def _describe(self, arguments: dict[str, Any]) -> Any:
        for key in arguments:
            if key not in ("entity", "action"):
                raise ActionInputError(
                    f"Unknown argument '{key}' for {DESCRIBE_TOOL}: it takes entity and action.", param=key, accepted=("entity", "action")
                )
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
            raise ActionInputError(self.policy.refusal(spec.action, name, spec.read_only), param="action", accepted=tuple(permitted))
        described = describe_action(spec.action, name)
        described["input_schema"] = self._with_account(tool_input_schema(spec), spec)
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
    "AccessPolicy",
    "Answer",
    "BinaryResult",
    "CallContext",
    "Guard",
    "Question",
    "QuestionPending",
    "StripeTools",
    "ToolCallError",
    "ToolDefinition",
    "ask_person_through",
    "cannot_ask",
    "cut_to_size",
    "tool_name",
]
