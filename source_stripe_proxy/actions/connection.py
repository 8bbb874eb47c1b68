"""The Stripe connection's actions: create, update, get and list, as the seed document describes them.

Each call names an ``action``, an ``entity`` and parameters in the seed's own names, and gets
Stripe's JSON back unchanged. Every supported call is one row of ``ACTIONS`` below; one
dispatcher (``StripeConnection.prepare`` + ``execute``) validates, maps and sends them all
through the shared ``StripeClient``, so the three connection modes (api_key, paragon,
pinkconnect) behave the same.

    >>> conn = StripeConnection({"credentials": {"auth_type": "api_key", "api_key": "sk_test_..."}})
    >>> conn.run(action="create", entity="customer", email="customer@example.com", name="John Doe")
    {'id': 'cus_...', 'object': 'customer', ...}

Facts about what Stripe accepts (enums, which endpoint takes which field) come from
``generated/write_parameters.json`` and ``generated/list_parameters.json``, generated from
Stripe's OpenAPI description; unit tests check this table against them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from source_stripe_proxy.actions.env import config_from_env
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.core.stripe_facts import METADATA_KEY_MAX, METADATA_KEYS_MAX, METADATA_VALUE_MAX, MAX_PAGE_SIZE
from source_stripe_proxy.data import load_generated


# ------------------------------------------------------------------------------------------
# The action table: every supported call on one screen.
#   path:     "{x_id}" is filled from the parameter of that name (URL-quoted).
#   required / optional: the seed's parameter names.
#   rename:   seed name -> Stripe's form/query key; names not listed keep their name.
# Implicit extras: `idempotency_key` on create, `all` on list, `id` as an alias of the
# path's id parameter on get/update.
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    action: str
    entity: str  # singular; the plural ("customers") is accepted too
    method: str
    path: str
    required: Tuple[str, ...] = ()
    optional: Tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)

    @property
    def path_params(self) -> Tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def extras(self) -> Tuple[str, ...]:
        """Parameters every call of this action accepts besides the table's own."""
        if self.action == "create":
            return ("idempotency_key",)
        if self.action == "list":
            return ("all",)
        return ("id",) if self.path_params else ()

    @property
    def accepted(self) -> Tuple[str, ...]:
        return self.required + self.optional + self.extras

    def stripe_name(self, name: str) -> str:
        return self.rename.get(name, name)


_A = ActionSpec
_CUSTOMER = {"customer_id": "customer"}
_PRODUCT = {"product_id": "product"}
_PRICE = {**_PRODUCT, "amount": "unit_amount", "interval": "recurring[interval]"}  # no interval: one-time price

# fmt: off
ACTIONS: Tuple[ActionSpec, ...] = (
    # action   entity                 method  path                                  required                                          optional                                                                rename
    _A("create", "customer",            "POST", "/v1/customers",                      ("email", "name"),                                ("description", "metadata")),
    _A("update", "customer",            "POST", "/v1/customers/{customer_id}",        ("customer_id",),                                 ("name", "email", "description", "metadata")),
    _A("get",    "customer",            "GET",  "/v1/customers/{customer_id}",        ("customer_id",)),
    _A("list",   "customer",            "GET",  "/v1/customers",                      (),                                               ("limit", "starting_after", "email")),
    _A("create", "subscription",        "POST", "/v1/subscriptions",                  ("customer_id", "price_id"),                      ("trial_period_days", "metadata", "description", "currency"),          {**_CUSTOMER, "price_id": "items[0][price]"}),
    _A("get",    "subscription",        "GET",  "/v1/subscriptions/{subscription_id}", ("subscription_id",)),
    _A("list",   "subscription",        "GET",  "/v1/subscriptions",                  (),                                               ("customer_id", "status", "limit", "starting_after"),                  _CUSTOMER),
    _A("create", "product",             "POST", "/v1/products",                       ("name",),                                        ("description", "active", "metadata")),
    _A("update", "product",             "POST", "/v1/products/{product_id}",          ("product_id",),                                  ("name", "description", "active", "metadata")),
    _A("get",    "product",             "GET",  "/v1/products/{product_id}",          ("product_id",)),
    _A("list",   "product",             "GET",  "/v1/products",                       (),                                               ("active", "limit", "starting_after")),
    _A("create", "price",               "POST", "/v1/prices",                         ("product_id", "amount", "currency"),             ("interval", "nickname", "metadata"),                                  _PRICE),
    _A("get",    "price",               "GET",  "/v1/prices/{price_id}",              ("price_id",)),
    _A("list",   "price",               "GET",  "/v1/prices",                         (),                                               ("product_id", "active", "limit", "starting_after", "currency", "interval"), _PRICE),
    _A("create", "plan",                "POST", "/v1/plans",                          ("product_id", "amount", "currency", "interval"), ("nickname", "active", "metadata"),                                    _PRODUCT),
    _A("list",   "plan",                "GET",  "/v1/plans",                          (),                                               ("product_id", "active", "limit", "starting_after"),                   _PRODUCT),
    _A("list",   "balance_transaction", "GET",  "/v1/balance_transactions",           (),                                               ("type", "limit", "starting_after", "currency")),
)
# fmt: on

ACTION_NAMES: Tuple[str, ...] = ("create", "update", "get", "list")
ENTITY_NAMES: Tuple[str, ...] = tuple(dict.fromkeys(spec.entity for spec in ACTIONS))
_SPECS: Dict[Tuple[str, str], ActionSpec] = {(spec.action, spec.entity): spec for spec in ACTIONS}
# The seed's general parameters; they apply wherever Stripe accepts the field (checked by unit tests).
GENERAL_PARAMS: Tuple[str, ...] = ("email", "name", "description", "amount", "currency", "interval")


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


class ActionInputError(ConfigError):
    """A call refused before any request: names the parameter and lists what is accepted."""

    def __init__(self, message: str, *, param: Optional[str] = None, accepted: Sequence[str] = ()):
        self.param = param
        self.accepted = tuple(accepted)
        super().__init__(message)

    def to_dict(self) -> Mapping[str, Any]:
        error: Dict[str, Any] = {"type": "invalid_request_error", "param": self.param, "message": self.message}
        if self.accepted:
            error["accepted"] = list(self.accepted)
        return {"error": error}


def _refuse(param: Optional[str], message: str, accepted: Sequence[str] = ()) -> ActionInputError:
    return ActionInputError(message, param=param, accepted=accepted)


# ------------------------------------------------------------------------------------------
# Parameter types: each converter takes the raw value (a string from the CLI, or a Python
# value) and returns what goes into the form, or raises ActionInputError.
# ------------------------------------------------------------------------------------------


WRITE_PARAMETERS = load_generated("write_parameters.json")
LIST_PARAMETERS = load_generated("list_parameters.json")

INTERVALS: Tuple[str, ...] = tuple(WRITE_PARAMETERS["POST /v1/plans"]["body"]["interval"]["enum"])
SUBSCRIPTION_STATUSES: Tuple[str, ...] = tuple(LIST_PARAMETERS["/v1/subscriptions"]["query"]["status"]["enum"])
# The filter's values are `balance_transaction.type`'s (the generator fills the enum from it).
BALANCE_TRANSACTION_TYPES: Tuple[str, ...] = tuple(LIST_PARAMETERS["/v1/balance_transactions"]["query"]["type"]["enum"])

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL_RE = re.compile(r"^[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_METADATA_KEY_RE = re.compile(r"^[^\[\]]{1,%d}$" % METADATA_KEY_MAX)  # brackets would break Stripe's form encoding


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(name, f"'{name}' must be text, got {_show(value)}.")
    return value


def _id(name: str, value: Any) -> str:
    value = _text(name, value)
    if not _ID_RE.match(value):
        raise _refuse(
            name,
            f"'{name}' must be a Stripe id such as cus_1234567890 (letters, digits, '_', '-', '.'), got {_show(value)}.",
        )
    return value


def _email(name: str, value: Any) -> str:
    value = _text(name, value).strip()
    if not _EMAIL_RE.match(value):
        raise _refuse(name, f"'{name}' must be an email address such as customer@example.com, got {_show(value)}.")
    return value


def _integer(minimum: int, maximum: Optional[int], hint: str) -> Callable[[str, Any], int]:
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"

    def convert(name: str, value: Any) -> int:
        number: Optional[int] = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            number = int(value.strip())
        elif isinstance(value, float) or (isinstance(value, str) and _DECIMAL_RE.match(value.strip())):
            raise _refuse(
                name, f"'{name}' must be a whole number {bounds} ({hint}); decimals such as {_show(value)} are refused."
            )
        if number is None or number < minimum or (maximum is not None and number > maximum):
            raise _refuse(name, f"'{name}' must be a whole number {bounds} ({hint}), got {_show(value)}.")
        return number

    return convert


_amount = _integer(0, None, "in the smallest currency unit, e.g. cents for USD: 1000 for 10.00 USD")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _refuse(name, f"'{name}' must be true or false, got {_show(value)}.", ("true", "false"))


def _currency(name: str, value: Any) -> str:
    code = _text(name, value).strip().lower()
    if not _CURRENCY_RE.match(code):
        raise _refuse(name, f"'{name}' must be a three-letter ISO currency code such as usd, got {_show(value)}.")
    return code


def _one_of(choices: Sequence[str]) -> Callable[[str, Any], str]:
    def convert(name: str, value: Any) -> str:
        choice = _text(name, value).strip().lower()
        if choice not in choices:
            raise _refuse(name, f"'{name}' must be one of {', '.join(choices)}; got {_show(value)}.", choices)
        return choice

    return convert


def _metadata(name: str, value: Any) -> Dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise _refuse(
                name,
                "'metadata' must be a JSON object such as {\"plan\": \"gold\"}, or given key by key as "
                "metadata.plan: gold (block) / metadata.plan=gold (arguments).",
            )
    if not isinstance(value, Mapping):
        raise _refuse(name, "'metadata' must be an object of keys to text values.")
    if len(value) > METADATA_KEYS_MAX:
        raise _refuse(name, f"'metadata' takes at most {METADATA_KEYS_MAX} keys.")
    result: Dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _METADATA_KEY_RE.match(key):
            raise _refuse(
                f"metadata[{key}]", f"metadata keys must be 1 to {METADATA_KEY_MAX} characters without '[' or ']', got {_show(key)}."
            )
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif item is None:
            item = ""  # Stripe unsets a key sent empty
        elif isinstance(item, (int, float)) and not (isinstance(item, float) and not math.isfinite(item)):
            item = str(item)
        if not isinstance(item, str):
            raise _refuse(f"metadata[{key}]", f"metadata values must be text, not {type(item).__name__}.")
        if len(item) > METADATA_VALUE_MAX:
            raise _refuse(f"metadata[{key}]", f"metadata values are at most {METADATA_VALUE_MAX} characters.")
        result[key] = item
    return result


def _idempotency_key(name: str, value: Any) -> str:
    value = _text(name, value)
    if not _IDEMPOTENCY_KEY_RE.match(value):
        raise _refuse(name, f"'{name}' must be 1 to 255 printable characters without spaces.")
    return value


@dataclass(frozen=True)
class ParamType:
    convert: Callable[[str, Any], Any]
    describe: str  # for help texts and the README


PARAM_TYPES: Mapping[str, ParamType] = {
    "customer_id": ParamType(_id, "customer id (cus_...)"),
    "subscription_id": ParamType(_id, "subscription id (sub_...)"),
    "product_id": ParamType(_id, "product id (prod_...)"),
    "price_id": ParamType(_id, "price id (price_...)"),
    "id": ParamType(_id, "the entity's id; same as <entity>_id"),
    "starting_after": ParamType(_id, "id of the last object of the previous page"),
    "email": ParamType(_email, "email address"),
    "name": ParamType(_text, "text"),
    "description": ParamType(_text, "text"),
    "nickname": ParamType(_text, "text"),
    "amount": ParamType(_amount, "whole number in the smallest currency unit (1000 = 10.00 USD)"),
    "currency": ParamType(_currency, "three-letter ISO code, e.g. usd"),
    "interval": ParamType(_one_of(INTERVALS), " | ".join(INTERVALS)),
    "trial_period_days": ParamType(_integer(0, None, "days"), "whole number of days"),
    "limit": ParamType(_integer(1, MAX_PAGE_SIZE, "objects per page"), f"1..{MAX_PAGE_SIZE}"),
    "active": ParamType(_boolean, "true | false"),
    "all": ParamType(_boolean, "true | false: follow every page and return one list"),
    "status": ParamType(_one_of(SUBSCRIPTION_STATUSES), " | ".join(SUBSCRIPTION_STATUSES)),
    "type": ParamType(_one_of(BALANCE_TRANSACTION_TYPES), "balance transaction type, e.g. payment, charge, refund, payout"),
    "metadata": ParamType(_metadata, "object of text values"),
    "idempotency_key": ParamType(_idempotency_key, "reuse the key of a create to retry it safely"),
}
_CLEARABLE = {"name", "email", "description", "nickname"}  # "" clears these on update


# ------------------------------------------------------------------------------------------
# Lookup and validation
# ------------------------------------------------------------------------------------------


def normalize_entity(entity: str) -> str:
    """'Customers', 'balance-transactions' -> 'customer', 'balance_transaction'."""
    name = re.sub(r"[\s\-]+", "_", entity.strip().lower())
    if name in ENTITY_NAMES:
        return name
    if name.endswith("s") and name[:-1] in ENTITY_NAMES:
        return name[:-1]
    return name


def find_spec(action: Any, entity: Any) -> ActionSpec:
    if not isinstance(action, str) or not action.strip():
        raise _refuse("action", f"Missing 'action': use one of {', '.join(ACTION_NAMES)}.", ACTION_NAMES)
    action_name = action.strip().lower()
    if action_name not in ACTION_NAMES:
        raise _refuse("action", f"Unknown action {_show(action)}: use one of {', '.join(ACTION_NAMES)}.", ACTION_NAMES)
    entities = tuple(spec.entity for spec in ACTIONS if spec.action == action_name)
    if not isinstance(entity, str) or not entity.strip():
        raise _refuse("entity", f"Missing 'entity': '{action_name}' works on {', '.join(entities)}.", entities)
    entity_name = normalize_entity(entity)
    if entity_name not in ENTITY_NAMES:
        raise _refuse(
            "entity",
            f"Unknown entity {_show(entity)}: use one of {', '.join(ENTITY_NAMES)} (singular or plural).",
            ENTITY_NAMES,
        )
    spec = _SPECS.get((action_name, entity_name))
    if spec is None:
        actions = tuple(s.action for s in ACTIONS if s.entity == entity_name)
        raise _refuse(
            "action",
            f"'{action_name}' is not supported for {entity_name}: use {', '.join(actions)}; "
            f"'{action_name}' works on {', '.join(entities)}.",
            actions,
        )
    return spec


def fold_metadata(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Gather ``metadata.key`` / ``metadata[key]`` parameters into one ``metadata`` object."""
    folded: Dict[str, Any] = {}
    keyed: Dict[str, Any] = {}
    for name, value in params.items():
        match = re.match(r"^metadata(?:\.(.+)|\[([^\[\]]+)\])$", name)
        if match:
            keyed[match.group(1) or match.group(2)] = value
        else:
            folded[name] = value
    if keyed:
        base = folded.get("metadata")
        merged = dict(_metadata("metadata", base)) if base not in (None, "") else {}
        merged.update(keyed)
        folded["metadata"] = merged
    return folded


@dataclass(frozen=True)
class PreparedCall:
    """A validated call, ready to send: what ``execute`` will request."""

    spec: ActionSpec
    method: str
    path: str
    query: Optional[Dict[str, Any]] = None
    body: Optional[Dict[str, Any]] = None
    idempotency_key: Optional[str] = None
    idempotency_key_generated: bool = False
    fetch_all: bool = False
    page_size: Optional[int] = None


def prepare_call(action: Any, entity: Any, params: Mapping[str, Any]) -> PreparedCall:
    """Validate a call and map the seed's names to Stripe's; never sends anything."""
    spec = find_spec(action, entity)
    values = fold_metadata(params)
    # `id` is an alias of the path's id parameter (the seed's general "id" parameter).
    if "id" in values and spec.path_params:
        target = spec.path_params[0]
        if target in values and values[target] != values["id"]:
            raise _refuse("id", f"Give either 'id' or '{target}', not two different ids.", (target,))
        values[target] = values.pop("id")
    for name in values:
        if name not in spec.accepted:
            hint = " Credentials go in --config or environment variables." if "key" in name or "token" in name else ""
            raise _refuse(
                name,
                f"Unknown parameter {_show(name)} for {spec.action} {spec.entity}: accepted are "
                f"{', '.join(spec.accepted)}.{hint}",
                spec.accepted,
            )
    missing = [name for name in spec.required if values.get(name) is None or _blank(values[name])]
    if missing:
        raise _refuse(
            missing[0],
            f"Missing required parameter{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"for {spec.action} {spec.entity}: required are {', '.join(spec.required)}; "
            f"optional are {', '.join(spec.optional + spec.extras) or 'none'}.",
            spec.required,
        )

    converted: Dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, str) and value == "" and name not in spec.required:
            if spec.action == "update" and name in _CLEARABLE:
                converted[name] = ""  # Stripe clears the field
                continue
            raise _refuse(name, f"'{name}' is empty: give a value ({PARAM_TYPES[name].describe}) or leave it out.")
        converted[name] = PARAM_TYPES[name].convert(name, value)

    path = spec.path
    for name in spec.path_params:
        path = path.replace("{" + name + "}", quote(converted.pop(name), safe=""))
    fetch_all = bool(converted.pop("all", False))
    idempotency_key = converted.pop("idempotency_key", None)
    generated = False
    if spec.action == "create" and idempotency_key is None:
        idempotency_key, generated = f"stripe-connection-{uuid.uuid4()}", True
    mapped = {spec.stripe_name(name): value for name, value in converted.items()}
    if spec.method == "GET":
        page_size = mapped.get("limit") if fetch_all else None
        if fetch_all:
            mapped.pop("limit", None)
        return PreparedCall(spec, "GET", path, query=mapped or None, fetch_all=fetch_all, page_size=page_size)
    return PreparedCall(
        spec, spec.method, path, body=mapped, idempotency_key=idempotency_key, idempotency_key_generated=generated
    )


# ------------------------------------------------------------------------------------------
# The connection
# ------------------------------------------------------------------------------------------

# Retries and warnings of the actions. Not under the connectors' "airbyte" logger: once the CDK
# is loaded, that one prints Airbyte messages on stdout. The CLI sends these lines to stderr.
log = logging.getLogger("source_stripe_proxy.actions")

# A person or an agent waits for the answer: give up well before the connectors' minutes of retries.
DEFAULT_TIMEOUT_SECONDS = 15.0
MAX_TIMEOUT_SECONDS = 600.0
TIMEOUT_CONFIG_KEY = "action_timeout_seconds"


def check_timeout(value: Any, name: str) -> float:
    """A total call deadline in seconds: a number above 0 and at most ``MAX_TIMEOUT_SECONDS``."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ConfigError(f"'{name}' must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}.")
    return float(value)


def action_timeout(config: Mapping[str, Any]) -> float:
    value = config.get(TIMEOUT_CONFIG_KEY) if isinstance(config, Mapping) else None
    return DEFAULT_TIMEOUT_SECONDS if value is None else check_timeout(value, TIMEOUT_CONFIG_KEY)


class StripeConnection:
    """Run the seed's calls: ``StripeConnection(config).run(action=..., entity=..., **params)``.

    ``config`` is the source's config (a ``credentials`` block plus optional ``api_base``,
    ``stripe_version``, ``account_id``...). ``run`` returns Stripe's JSON unchanged, or raises
    ``ActionInputError`` (refused before any request), ``StripeAPIError`` subclasses (Stripe's
    error fields: ``error_type``, ``code``, ``param``, ``stripe_message``, ``http_status``,
    ``to_dict()``), ``ConfigError`` or ``TransientError``.

    After a create, ``last_idempotency_key`` holds the key sent (generated when none was given):
    pass it back as ``idempotency_key`` to retry after a timeout without creating twice.
    """

    def __init__(
        self, config: Mapping[str, Any], *, client: Optional[StripeClient] = None, timeout_seconds: Optional[float] = None
    ):
        """``timeout_seconds``: the total time one call may take, retries included; default the
        config's ``action_timeout_seconds``, else ``DEFAULT_TIMEOUT_SECONDS``."""
        if client is None:
            deadline = action_timeout(config) if timeout_seconds is None else check_timeout(timeout_seconds, "timeout_seconds")
            client = StripeClient(ConnectionSettings.from_config(config), call_deadline_seconds=deadline, log=log)
        self.client = client
        self.last_idempotency_key: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "StripeConnection":
        return cls(config_from_env(os.environ if environ is None else environ))

    def prepare(self, action: Any = None, entity: Any = None, **params: Any) -> PreparedCall:
        return prepare_call(action, entity, params)

    def run(self, action: Any = None, entity: Any = None, **params: Any) -> Any:
        return self.execute(self.prepare(action, entity, **params))

    def execute(self, call: PreparedCall) -> Any:
        if call.idempotency_key:
            self.last_idempotency_key = call.idempotency_key
        if call.fetch_all:
            return self._fetch_all(call)
        return self.client.send(
            call.method, call.path, params=call.query, data=call.body, idempotency_key=call.idempotency_key
        ).data

    def _fetch_all(self, call: PreparedCall) -> Dict[str, Any]:
        first: Optional[Mapping[str, Any]] = None
        objects: List[Any] = []
        for page in self.client.list_pages(call.path, call.query, page_size=call.page_size or MAX_PAGE_SIZE):
            first = first or page
            objects.extend(page["data"])
        result: Dict[str, Any] = dict(first or {"object": "list", "url": call.path})
        result["data"] = objects
        result["has_more"] = False
        return result


def describe_actions() -> str:
    """One line per supported call, for --help and the README."""
    lines = []
    for spec in ACTIONS:
        entity = spec.entity + "s" if spec.action == "list" else spec.entity
        required = " ".join(f"{name}=..." for name in spec.required)
        optional = " ".join(f"[{name}=...]" for name in spec.optional + spec.extras if name != "id")
        lines.append(f"  {spec.action:<7}{entity:<21}{' '.join(p for p in (required, optional) if p)}")
    return "\n".join(lines)


__all__ = [
    "ACTIONS",
    "ActionInputError",
    "ActionSpec",
    "PreparedCall",
    "StripeConnection",
    "find_spec",
    "prepare_call",
]
