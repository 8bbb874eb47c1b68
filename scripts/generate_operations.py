#!/usr/bin/env python3
"""Generate the actions' table of operations from Stripe's OpenAPI description.

Every operation of ``spec3.json`` (every method of every path) becomes one action on one
entity, written to ``source_stripe_proxy/data/generated/``:

* ``operations_index.json`` - every entity with its names (singular, plural) and, per action:
  method, path, flags and a one-line description. Enough to list and resolve calls.
* ``operations/<entity>.json`` - one file per entity: each action's parameters as a JSON
  Schema (path, query or form-body parameters), which parameter is the entity's id, and
  descriptions. A call loads only its entity's file.

Naming (docs/actions.md tells users the same):

* Entities are Stripe's object names with ``.`` as ``_``: ``customer``, ``checkout_session``,
  ``tax_rate``, ``billing_meter``; ``invoiceitem`` is spelled ``invoice_item`` and
  ``test_helpers.test_clock`` is ``test_clock`` (``OBJECT_ENTITY_NAMES``).
* Actions: ``list``/``create`` on a collection, ``get``/``update``/``delete`` on one object,
  ``search``; any other path segment is a named operation on the object it follows:
  ``POST /v1/invoices/{invoice}/finalize`` is ``finalize invoice``,
  ``GET /v1/invoices/upcoming/lines`` is ``upcoming_lines invoice``.
* A collection under an object is its own entity, named after its parent:
  ``/v1/customers/{customer}/tax_ids`` is ``customer_tax_id`` (``create``, ``list``, ``get``,
  ``delete``); when Stripe's object name already starts with the parent's, that name is kept
  (``customer_balance_transaction``, ``transfer_reversal``).
* Two collections of the same object (an older path kept by Stripe) are told apart by the
  path of the one whose path does not name the object: ``/v1/balance/history`` is
  ``balance_history``, ``/v1/linked_accounts`` is ``linked_account``.
* Test helpers (``/v1/test_helpers/...``) act on the object they name, with ``test_`` before
  the action: ``POST /v1/test_helpers/refunds/{refund}/expire`` is ``test_expire refund``.
  Test clocks live only there and are an ordinary entity (``test_clock``).
* A DELETE that Stripe describes as cancelling is ``cancel`` (``cancel subscription``).
* ``GET /v1/account`` (the caller's own account) is ``get account`` without an id.

Parameters keep Stripe's names, types, enums, ``required``, nested objects and arrays and
``anyOf`` (with ``""`` where Stripe accepts it to unset a field). Descriptions are cut to their
first sentence(s); ``title`` is dropped. Two facts the spec only states in prose are made
machine-readable: ``limit`` "can range between 1 and 100" becomes minimum/maximum, and
``currency`` ("Three-letter ISO currency code") gets ``"format": "currency"``. A list filter
typed as a bare string but named after an enum field of the listed object takes that enum
(the ``type`` of balance transactions).

Run from the repository root (standard library only; the output is deterministic):

    .venv/bin/python scripts/generate_operations.py [--spec PATH]

The default spec path is ``<repo>/../shared/stripe-openapi/spec3.json``.
"""

import argparse
import html
import importlib.util
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

API_VERSION = "2024-06-20"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "stripe-openapi" / "spec3.json"
GENERATED_DIR = REPO_ROOT / "source_stripe_proxy" / "data" / "generated"
INDEX_FILE = GENERATED_DIR / "operations_index.json"
SEARCH_FILE = GENERATED_DIR / "search_index.json"
SEARCH_WORDS_MODULE = REPO_ROOT / "source_stripe_proxy" / "actions" / "search_words.py"
ENTITY_DIR = GENERATED_DIR / "operations"

METHODS = ("get", "post", "delete")
FORM = "application/x-www-form-urlencoded"
TEST_HELPERS = "test_helpers"

# Object names that are not snake_case words, spelled as Stripe's docs name them.
OBJECT_ENTITY_NAMES = {
    "invoiceitem": "invoice_item",
    "test_helpers.test_clock": "test_clock",
}

# The path of the caller's own account: `get account` without an id.
OWN_OBJECT_PATHS = {"/v1/account": "/v1/accounts/{account}"}

# Named operations that end, remove or reverse something (MCP's destructiveHint; with DELETE).
# The spec does not say this; the verbs do.
DESTRUCTIVE_VERBS = {
    "archive",
    "cancel",
    "cancel_action",
    "close",
    "deactivate",
    "decline",
    "delete",
    "detach",
    "disconnect",
    "expire",
    "fail",
    "mark_uncollectible",
    "redact",
    "reject",
    "remove_lines",
    "return",
    "reverse",
    "unsubscribe",
    "void",
    "shipping_fail",
    "shipping_return",
}
# Named operations whose repetition with the same parameters changes nothing more: a state
# change to a fixed state (a second call is refused or answers the same object).
IDEMPOTENT_VERBS = {
    "activate",
    "approve",
    "archive",
    "cancel",
    "close",
    "deactivate",
    "decline",
    "detach",
    "disconnect",
    "expire",
    "finalize",
    "mark_uncollectible",
    "reactivate",
    "reject",
    "release",
    "subscribe",
    "unsubscribe",
    "validate",
    "void",
    "send",
    "resume",
    "shipping_deliver",
    "shipping_fail",
    "shipping_return",
    "shipping_ship",
}

ITEM = "{}"

# Money moves (the `moves_money` mark, MCP's --confirm money, the audit's amounts). From the
# spec: a POST that makes or acts on an object Stripe records on a balance (its schema has a
# `balance_transaction`: charges, refunds, payouts, transfers, top-ups, fee refunds, transfer
# reversals), except editing one (update) or stopping one (cancel) and test helpers. The spec
# cannot tell the rest; this reviewed list adds them, each with why.
MONEY_KEEPS_STILL = {"update", "cancel"}
MONEY_REVIEWED = {
    ("create", "payment_intent"): "charges the customer once confirmed (confirm=true confirms at once)",
    ("confirm", "payment_intent"): "charges or debits the payment method",
    ("capture", "payment_intent"): "captures funds the payment intent holds",
    ("increment_authorization", "payment_intent"): "raises the amount held on the customer's card",
    ("pay", "invoice"): "charges the customer the invoice's amount due",
    ("create", "credit_note"): "can refund the customer or credit their balance",
    ("create", "customer_balance_transaction"): "credits or debits the customer's balance",
    ("approve", "issuing_authorization"): "lets an Issuing card spend",
    ("create", "treasury_outbound_payment"): "sends money out of a financial account",
    ("create", "treasury_outbound_transfer"): "sends money out of a financial account",
    ("create", "treasury_inbound_transfer"): "pulls money into a financial account",
}
# A parameter is an amount (held against --max-amount) when its name is `amount`, or has
# `amount` as a word of it (unit_amount, amount_to_capture, application_fee_amount), and it is
# a whole number or a decimal string (unit_amount_decimal): the spec's own typing.
AMOUNT_NAME = re.compile(r"(?:^|_)amounts?(?:$|_)")

DESCRIPTION_MAX = 300
PARAMETER_DESCRIPTION_MAX = 200
NESTED_DESCRIPTION_MAX = 120


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def plain_text(text):
    """HTML and Markdown of the spec's descriptions -> one plain line."""
    text = re.sub(r"</?(?:p|br|li|ul|ol|div|h\d)\b[^>]*>", " ", text or "")  # block tags separate words
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [label](url) -> label
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentences(text, limit):
    """Whole sentences up to ``limit`` characters (at least the first, cut with an ellipsis)."""
    text = plain_text(text)
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", text)
    result = ""
    for sentence in sentences:
        candidate = f"{result} {sentence}".strip()
        if len(candidate) > limit:
            break
        result = candidate
    if not result:
        result = text[: limit - 1].rstrip() + "\u2026" if len(text) > limit else text
    return result


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


def singular(word):
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")) and word != "people":
        return word[:-1]
    return word


def plural(name):
    if name.endswith("s"):
        return name
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("x", "ch", "sh")):
        return name + "es"
    return name + "s"


def entity_of_object(obj):
    return OBJECT_ENTITY_NAMES.get(obj, obj.replace(".", "_"))


def compact(name):
    """The key under which a user's spelling is matched: case, '_', '.', '-' and spaces ignored."""
    return re.sub(r"[\s_.\-]", "", name.lower())


# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------


def segments(path):
    return path[len("/v1/") :].split("/") if path != "/v1" else []


def shape_of(path):
    """'/v1/customers/{customer}/tax_ids' -> ('customers', '{}', 'tax_ids')."""
    return tuple(ITEM if part.startswith("{") else part for part in segments(path))


def is_item(shape):
    return bool(shape) and shape[-1] == ITEM


class Operation:
    def __init__(self, path, method, spec_op, components):
        self.path = path
        self.method = method.upper()
        self.spec_op = spec_op
        self.helper = False  # a test helper acting on an object of a real collection
        self.shape = shape_of(path)
        self.stripped_shape = self.shape[1:] if self.shape[:1] == (TEST_HELPERS,) else self.shape
        self.kind, self.object = response_object(spec_op, components)

    @property
    def key(self):
        return f"{self.method} {self.path}"


def response_object(spec_op, components):
    """('list' | 'search' | 'object' | 'none', object name or None) of the 200 answer."""
    content = spec_op["responses"].get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return "none", None
    return _object_kind(schema, components)


def _object_kind(schema, components):
    if "$ref" in schema:
        component = components[schema["$ref"].rsplit("/", 1)[1]]
        enum = component.get("properties", {}).get("object", {}).get("enum") or []
        return "object", enum[0] if len(enum) == 1 else None
    if "anyOf" in schema:
        names = {_object_kind(branch, components)[1] for branch in schema["anyOf"]}
        return "object", names.pop() if len(names) == 1 else None
    properties = schema.get("properties", {})
    enum = properties.get("object", {}).get("enum") or []
    if enum and enum[0] in ("list", "search_result"):
        item = _object_kind(properties["data"]["items"], components)[1]
        return ("list" if enum[0] == "list" else "search"), item
    return "object", None


def last_part(obj):
    return obj.rsplit(".", 1)[-1] if obj else None


def names_the_object(segment, obj):
    """Does a path segment name the object its operations return (tax_ids -> tax_id)?"""
    if not obj:
        return False
    last = last_part(obj)
    words = {segment, singular(segment)}
    return last in words or any(last.endswith("_" + word) for word in words)


# ---------------------------------------------------------------------------
# Classification: which path shapes are resources (collections and singletons)
# ---------------------------------------------------------------------------


class Catalog:
    def __init__(self, spec):
        self.components = spec["components"]["schemas"]
        self.operations = [
            Operation(path, method, item[method], self.components)
            for path, item in sorted(spec["paths"].items())
            for method in METHODS
            if method in item
        ]
        real_shapes = {op.shape for op in self.operations if op.shape[:1] != (TEST_HELPERS,)}
        # Test helpers act on an object of a real collection; test clocks exist only there.
        for op in self.operations:
            if op.shape[:1] == (TEST_HELPERS,) and any(shape[:1] == op.stripped_shape[:1] for shape in real_shapes):
                op.helper = True
        self.by_shape = defaultdict(list)
        for op in self.operations:
            self.by_shape[self.shape(op)].append(op)
        self.resources = self._find_resources()
        self.entities = self._name_entities()

    def shape(self, op):
        return op.stripped_shape if op.helper else op.shape

    def ops_at(self, shape, method=None):
        return [op for op in self.by_shape.get(shape, ()) if method is None or op.method == method]

    def _find_resources(self):
        shapes = set(self.by_shape)
        resources = {shape[:-1] for shape in shapes if is_item(shape)}
        for shape in sorted(shapes, key=lambda s: (len(s), s)):
            if is_item(shape) or shape in resources:
                continue
            parent, segment = shape[:-1], shape[-1]
            if segment == "search":
                continue
            if not is_item(parent) and parent not in resources:
                # Under a namespace (/v1, /v1/billing): a resource; under a named operation
                # (/v1/invoices/upcoming/lines) or a path with no operations: not one.
                if ITEM not in parent and not self.by_shape.get(parent):
                    resources.add(shape)
                continue
            lists = [op for op in self.ops_at(shape, "GET") if op.kind == "list"]
            parent_object = self.object_of(parent)
            if any(is_item(parent) or op.object != parent_object for op in lists) or any(
                names_the_object(segment, op.object) for op in self.by_shape[shape]
            ):
                resources.add(shape)
        return resources

    def object_of(self, shape):
        """The object a resource (or one of its items) is made of: the most common answer."""
        collection = shape[:-1] if is_item(shape) else shape
        ops = self.ops_at(collection) + self.ops_at((*collection, ITEM))
        names = Counter(op.object for op in ops if op.object and op.kind in ("list", "object"))
        if not names:
            return None
        return min(names.items(), key=lambda kv: (-kv[1], kv[0]))[0]

    def _name_entities(self):
        ordered = sorted(self.resources, key=lambda s: (len(s), s))
        top_level = {s: self._object_name(s) or path_name(s) for s in ordered if not is_item(s[:-1])}
        # Two top-level collections of one object: the one whose path names it keeps the name.
        claims = defaultdict(list)
        for shape, name in top_level.items():
            claims[name].append(shape)
        entities = dict(top_level)
        for name, shapes in claims.items():
            if len(shapes) > 1:
                keeper = [s for s in shapes if path_name(s) == name] or sorted(shapes, key=lambda s: -len(self.ops_at(s)))
                for shape in shapes:
                    if shape != keeper[0]:
                        entities[shape] = path_name(shape)
        for shape in ordered:  # nested collections, parents first
            if is_item(shape[:-1]):
                owner = entities[shape[:-2]]
                name, obj = self._object_name(shape), self.object_of(shape)
                if not (name and name.startswith(owner + "_")):
                    last, word = last_part(obj), singular(shape[-1])
                    name = f"{owner}_{last}" if last and last.startswith(word) else f"{owner}_{word}"
                entities[shape] = name
        return entities

    def _object_name(self, shape):
        obj = self.object_of(shape)
        return entity_of_object(obj) if obj else None

    # -- one operation -------------------------------------------------------------------

    def classify(self, op):
        """-> (entity, action, id parameter or None)."""
        shape = self.shape(op)
        path_params = re.findall(r"{(\w+)}", op.path)
        base = next(
            (
                shape[:n]
                for n in range(len(shape), 0, -1)
                if shape[:n] in self.resources or (is_item(shape[:n]) and shape[: n - 1] in self.resources)
            ),
            None,
        )
        if base is None:
            raise SystemExit(f"no resource for {op.key}")
        rest = shape[len(base) :]
        if is_item(base):
            entity, id_param = self.entities[base[:-1]], path_params[base.count(ITEM) - 1]
        else:
            entity, id_param = self.entities[base], None
        if rest:
            action = "_".join(rest)
        elif is_item(base):
            action = {"GET": "get", "POST": "update", "DELETE": "delete"}[op.method]
            if op.method == "DELETE" and plain_text(op.spec_op.get("description")).startswith("Cancels "):
                action = "cancel"  # DELETE /v1/subscriptions/{id}: "Cancels a customer's subscription"
        elif op.method == "GET":
            action = "list" if op.kind == "list" else "get"
        elif op.method == "POST":
            singleton = any(o.kind == "object" for o in self.ops_at(base, "GET"))
            action = "update" if singleton else "create"
        else:
            action = "delete"
        if op.helper:
            action = f"test_{action}"
        return entity, action, id_param


def path_name(shape):
    words = [part for part in shape if part != ITEM]
    return "_".join([*words[:-1], singular(words[-1])])


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------

KEEP_KEYWORDS = ("type", "enum", "format", "maxLength", "x-stripeBypassValidation")
LIMIT_RANGE = re.compile(r"range between (\d+) and (\d+)")


def clean_schema(schema, depth=0, name=None, description=None):
    """Stripe's parameter schema, keeping what validation and a model need."""
    result = {key: schema[key] for key in KEEP_KEYWORDS if key in schema}
    text = description if description is not None else schema.get("description")
    if text:
        limit = PARAMETER_DESCRIPTION_MAX if depth == 0 else NESTED_DESCRIPTION_MAX
        result["description"] = first_sentences(text, limit)
    if "properties" in schema:
        result["properties"] = {key: clean_schema(value, depth + 1, name=key) for key, value in sorted(schema["properties"].items())}
    if schema.get("required"):
        result["required"] = sorted(schema["required"])
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        result["additionalProperties"] = extra if isinstance(extra, bool) else clean_schema(extra, depth + 1)
    if "items" in schema:
        result["items"] = clean_schema(schema["items"], depth + 1)
    if "anyOf" in schema:
        result["anyOf"] = [clean_schema(branch, depth + 1, name=name, description="") for branch in schema["anyOf"]]
    if name == "limit" and result.get("type") == "integer":
        match = LIMIT_RANGE.search(text or "")
        if match:
            result["minimum"], result["maximum"] = int(match.group(1)), int(match.group(2))
    if name == "currency" and result.get("type") == "string":
        result["format"] = "currency"  # "Three-letter ISO currency code, in lowercase"
    return result


def object_enums(components):
    """Object name -> {field: enum} of its string fields with an enum."""
    enums = {}
    for name, component in sorted(components.items()):
        object_enum = component.get("properties", {}).get("object", {}).get("enum") or []
        if len(object_enum) != 1 or name.startswith("deleted_") or object_enum[0] in enums:
            continue
        fields = {}
        for field, schema in component.get("properties", {}).items():
            enum = schema.get("enum") or next((b["enum"] for b in schema.get("anyOf", []) if b.get("enum")), None)
            if enum and schema.get("type", "string") == "string":
                fields[field] = [value for value in enum if value != ""]
        enums[object_enum[0]] = fields
    return enums


def add_filter_enums(parameters, listed_object, enums):
    """A list filter the spec types as a bare string, named after an enum field of the listed
    object, takes that enum (balance transactions' ``type``)."""
    for name, schema in parameters["properties"].items():
        field_enum = enums.get(listed_object, {}).get(name)
        if field_enum and schema.get("type") == "string" and "enum" not in schema and schema.get("x-in") != "path":
            schema["enum"] = field_enum


def operation_parameters(op, entity, id_param):
    """-> (JSON Schema of every parameter, names of the path parameters, where the rest goes)."""
    properties, required, path_params = {}, [], []
    for parameter in op.spec_op.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            path_params.append(name)
            text = parameter.get("description") or (
                f"The id of the {entity.replace('_', ' ')}." if name == id_param else f"The id of the parent ({name})."
            )
            properties[name] = clean_schema(parameter.get("schema", {"type": "string"}), name=name, description=text)
            properties[name]["x-in"] = "path"
            required.append(name)
        elif parameter["in"] == "query":
            properties[name] = clean_schema(parameter.get("schema", {}), name=name, description=parameter.get("description"))
            if parameter.get("required"):
                required.append(name)
    body = op.spec_op.get("requestBody", {}).get("content", {})
    form = body.get(FORM) or body.get("multipart/form-data") or {}
    schema = form.get("schema", {})
    for name, prop in sorted(schema.get("properties", {}).items()):
        properties[name] = clean_schema(prop, name=name)
    required += schema.get("required", [])
    path_params = re.findall(r"{(\w+)}", op.path)  # in the path's order, not the spec's
    ordered = {name: properties[name] for name in path_params}
    ordered.update((name, properties[name]) for name in sorted(properties) if name not in ordered)
    parameters = {"type": "object", "properties": ordered, "additionalProperties": False}
    if required:
        parameters["required"] = sorted(set(required), key=lambda n: (n not in path_params, n))
    return parameters, path_params


def flags(op, action):
    verb = action.removeprefix("test_")
    read_only = op.method == "GET"
    destructive = op.method == "DELETE" or verb in DESTRUCTIVE_VERBS
    idempotent = read_only or op.method == "DELETE" or verb in ("update", "delete") or verb in IDEMPOTENT_VERBS
    return {"read_only": read_only, "destructive": destructive, "idempotent": idempotent}


def money_objects(components):
    """Stripe's objects recorded on a balance: their schema has a balance_transaction."""
    found = set()
    for component in components.values():
        properties = component.get("properties", {})
        if "balance_transaction" in properties:
            found.update(properties.get("object", {}).get("enum") or ())
    return found


def moves_money(op, entity, action, money):
    """-> why this action moves money, or None."""
    if (action, entity) in MONEY_REVIEWED:
        return MONEY_REVIEWED[(action, entity)]
    if op.method != "POST" or op.helper or op.shape[:1] == (TEST_HELPERS,) or action in MONEY_KEEPS_STILL:
        return None
    if op.object in money:
        return f"it makes or acts on a {op.object.replace('_', ' ')}, which moves money on a Stripe balance"
    return None


def amount_fields(schema, path=()):
    """Paths of the amount parameters at any depth ('*' for an array's items), in order."""
    found = []
    for name, prop in schema.get("properties", {}).items():
        branches = [prop, *prop.get("anyOf", ())]
        kinds = {(b.get("type"), b.get("format")) for b in branches}
        if AMOUNT_NAME.search(name) and any(t == "integer" or f == "decimal" for t, f in kinds):
            found.append([*path, name])
        for branch in branches:
            if branch.get("type") == "array" and isinstance(branch.get("items"), dict):
                item = branch["items"]
                if AMOUNT_NAME.search(name) and item.get("type") == "integer":
                    found.append([*path, name, "*"])
                found += amount_fields(item, (*path, name, "*"))
            elif "properties" in branch:
                found += amount_fields(branch, (*path, name))
    unique = []
    for field in found:
        if field not in unique:
            unique.append(field)
    return unique


MULTIPART = "multipart/form-data"
API_HOST = "https://api.stripe.com"


def transport(op, default_host):
    """How the request differs from a form POST answered with JSON: the host (Stripe's files
    host for uploads and PDFs, from the operation's ``servers``), a multipart body, a binary
    answer. Or why the actions cannot send it."""
    found = {}
    servers = op.spec_op.get("servers") or ()
    host = servers[0]["url"].rstrip("/") if servers else default_host
    if host != default_host:
        found["host"] = host
    body = op.spec_op.get("requestBody", {}).get("content", {})
    if body and FORM not in body:
        if MULTIPART not in body:
            return {"unsupported": f"it uploads {', '.join(sorted(body))}; the actions send forms and files only"}
        found["body"] = "multipart"
    answer = op.spec_op["responses"].get("200", {}).get("content", {})
    if "application/json" not in answer:
        binary = [kind for kind, content in answer.items() if content.get("schema", {}).get("format") == "binary"]
        if not binary:
            return {"unsupported": f"it answers {', '.join(sorted(answer)) or 'nothing'}, not JSON"}
        found["answer"] = binary[0]
    return found


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def build(spec):
    catalog = Catalog(spec)
    enums = object_enums(catalog.components)
    money = money_objects(catalog.components)
    default_host = (spec.get("servers") or [{"url": API_HOST}])[0]["url"].rstrip("/")
    actions = {}
    for op in catalog.operations:
        entity, action, id_param = catalog.classify(op)
        if op.path in OWN_OBJECT_PATHS:
            continue  # folded into its item path's action below
        key = (entity, action)
        if key in actions:
            raise SystemExit(f"two operations map to '{action} {entity}': {actions[key]['method']} {actions[key]['path']} and {op.key}")
        parameters, path_params = operation_parameters(op, entity, id_param)
        record = {
            "method": op.method,
            "path": op.path,
            "operation_id": op.spec_op.get("operationId"),
            "description": first_sentences(op.spec_op.get("description"), DESCRIPTION_MAX)
            or f"{action.replace('_', ' ').capitalize()} a {entity.replace('_', ' ')}: {op.method} {op.path}.",
            "id_param": id_param,
            "path_params": path_params,
            "parameters": parameters,
            "returns": op.object,
            **flags(op, action),
        }
        why_money = moves_money(op, entity, action, money)
        record["moves_money"] = why_money is not None
        if why_money:
            record["moves_money_because"] = why_money
        if op.method != "GET":
            amounts = amount_fields(parameters)
            if amounts:
                record["amount_fields"] = amounts
        if op.kind in ("list", "search"):
            record["paging"] = op.kind
            if op.kind == "list":
                add_filter_enums(parameters, op.object, enums)
        record.update(transport(op, default_host))
        if op.helper:
            record["test_helper"] = True
        actions[key] = record
    for own_path, item_path in OWN_OBJECT_PATHS.items():
        own = next(op for op in catalog.operations if op.path == own_path and op.method == "GET")
        entity, action, _ = catalog.classify(next(op for op in catalog.operations if op.path == item_path and op.method == "GET"))
        record = actions[(entity, action)]
        record["own_path"] = own_path  # used when the id is left out
        record["parameters"]["required"] = [n for n in record["parameters"].get("required", []) if n != record["id_param"]]
        if not record["parameters"]["required"]:
            del record["parameters"]["required"]
        record["description"] += f" Without {record['id_param']}: the account of the key in use ({own.method} {own_path})."
    return catalog, actions


def write_outputs(catalog, actions, spec_version):
    by_entity = defaultdict(dict)
    for (entity, action), record in actions.items():
        by_entity[entity][action] = record
    index = {"api_version": spec_version, "entities": {}}
    seen = {}
    for entity in sorted(by_entity):
        names = sorted({entity, plural(entity)})
        for name in names:
            key = compact(name)
            if seen.setdefault(key, entity) != entity:
                raise SystemExit(f"'{name}' would name both {seen[key]} and {entity}")
        index["entities"][entity] = {
            "names": names,
            "actions": {
                action: {
                    "method": record["method"],
                    "path": record["path"],
                    "description": record["description"],
                    **{flag: record[flag] for flag in ("read_only", "destructive", "idempotent", "moves_money")},
                }
                for action, record in sorted(by_entity[entity].items())
            },
        }
    ENTITY_DIR.mkdir(parents=True, exist_ok=True)
    for stale in ENTITY_DIR.glob("*.json"):
        if stale.stem not in by_entity:
            stale.unlink()
    for entity, entity_actions in by_entity.items():
        write_json(ENTITY_DIR / f"{entity}.json", {"entity": entity, "actions": dict(sorted(entity_actions.items()))})
    write_json(INDEX_FILE, index)
    write_json(SEARCH_FILE, {"api_version": spec_version, **search_index(catalog, actions)}, compact=True)
    return index


# ---------------------------------------------------------------------------
# The search index: BM25 over the spec's own words, computed here, summed at run time
# ---------------------------------------------------------------------------

# How much each kind of words counts: an action is named by its entity and verb; its
# description and its object's say what it does; its parameters hint at it.
SEARCH_FIELD_WEIGHTS = {"entity": 3.0, "verb": 3.0, "verb_words": 1.5, "description": 1.0, "object": 0.5, "parameters": 0.4}
BM25_K1, BM25_B = 1.2, 0.5
TEST_HELPER_FACTOR = 0.5  # asked for rarely; "test" in a query still finds them


def search_words_module():
    """``actions/search_words.py`` by path: the same word rule as the run-time search."""
    loaded = importlib.util.spec_from_file_location("search_words", SEARCH_WORDS_MODULE)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def search_fields(catalog, op, entity, action, record, rules):
    """The words of one action, by kind."""
    verb = action.removeprefix("test_")
    obj = catalog.components.get(op.object or "", {}) if op.object else {}
    component = next(
        (c for c in catalog.components.values() if (c.get("properties", {}).get("object", {}).get("enum") or [None])[0] == op.object), obj
    )
    parameters = " ".join(record["parameters"].get("properties", {}))
    entity_words = rules.words(" ".join((entity, plural(entity), *rules.ENTITY_WORDS.get(entity, ()))))
    verb_words = rules.words(" ".join(rules.VERB_WORDS.get(verb, ())))
    if verb == "create":  # a noun used as a verb asks for one: "refund a charge", "transfer money"
        verb_words += rules.words(entity)
    return {
        "entity": entity_words,
        "verb": rules.words(verb) + (rules.words("test") if action.startswith("test_") else []),
        "verb_words": verb_words,
        "description": rules.words(first_sentences(op.spec_op.get("description"), 600)),
        "object": rules.words(first_sentences(component.get("description"), 200)),
        "parameters": rules.words(parameters),
    }


def search_index(catalog, actions):
    """Per action, each word's BM25 weight: a query's score is the sum over its words."""
    rules = search_words_module()
    ops = {op.key: op for op in catalog.operations}
    docs, weighted = [], []
    for (entity, action), record in sorted(actions.items()):
        op = ops[f"{record['method']} {record['path']}"]
        fields = search_fields(catalog, op, entity, action, record, rules)
        counts = Counter()
        for kind, stems in fields.items():
            for word in stems:
                counts[word] += SEARCH_FIELD_WEIGHTS[kind]
        docs.append(
            {
                "entity": entity,
                "action": action,
                "entity_words": sorted(set(rules.words(entity))),
                "verb_words": sorted(set(fields["verb"] + fields["verb_words"])),
            }
        )
        weighted.append((counts, record.get("test_helper", False)))
    lengths = [sum(counts.values()) for counts, _ in weighted]
    average = sum(lengths) / len(lengths)
    frequency = Counter(word for counts, _ in weighted for word in counts)
    postings = defaultdict(list)
    for number, ((counts, helper), length) in enumerate(zip(weighted, lengths, strict=True)):
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
        for word, tf in counts.items():
            idf = math.log(1 + (len(docs) - frequency[word] + 0.5) / (frequency[word] + 0.5))
            weight = idf * tf * (BM25_K1 + 1) / (tf + norm) * (TEST_HELPER_FACTOR if helper else 1.0)
            postings[word].append([number, round(weight, 3)])
    return {"docs": docs, "postings": dict(sorted(postings.items()))}


def write_json(path, data, compact=False):
    indent, separators = (None, (",", ":")) if compact else (1, None)
    text = json.dumps(data, indent=indent, separators=separators, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC_PATH, help="path to spec3.json")
    parser.add_argument("--list", action="store_true", help="print every action as METHOD PATH -> action entity")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    version = spec.get("info", {}).get("version")
    if version != API_VERSION:
        sys.exit(f"spec is API version {version!r}, expected {API_VERSION!r}; update API_VERSION")
    catalog, actions = build(spec)
    if args.list:
        for (entity, action), record in sorted(actions.items(), key=lambda kv: kv[1]["path"]):
            print(f"{record['method']:<6} {record['path']:<75} {action} {entity}")
        return
    index = write_outputs(catalog, actions, version)
    from provenance import record_outputs  # beside this script; imported here so tests can load this file by path

    record_outputs("scripts/generate_operations.py", args.spec, [INDEX_FILE, SEARCH_FILE, *sorted(ENTITY_DIR.glob("*.json"))])
    print(f"wrote {len(actions)} actions on {len(index['entities'])} entities ({len(catalog.operations)} operations) to {GENERATED_DIR}")


if __name__ == "__main__":
    main()
