"""The table of actions against the generated data (data/generated/operations*), and the
seed's aliases against the table. No network, and never Stripe's spec itself."""

import json
import re
from importlib import resources as package_files

import pytest

from source_stripe_proxy.actions import describe_action, input_schema, list_actions
from source_stripe_proxy.actions.catalog import action_spec, compact, entity_names, find_action
from source_stripe_proxy.actions.params import schema_at
from source_stripe_proxy.actions.seed_aliases import SEED_CALLS, SEED_REQUIRED
from source_stripe_proxy.data import load_generated, resources

GENERATED = package_files.files("source_stripe_proxy.data").joinpath("generated")
ENTITY_FILES = {path.name[: -len(".json")]: json.loads(path.read_text()) for path in GENERATED.joinpath("operations").iterdir()}
ALL_ACTIONS = [(entity, action) for entity, info in resources.entities().items() for action in info["actions"]]


def test_counts_of_entities_and_actions():
    assert len(entity_names()) == 146
    assert len(ALL_ACTIONS) == 545  # Stripe's 546 operations; GET /v1/account is `get account` without an id
    assert sorted(ENTITY_FILES) == sorted(entity_names())
    assert sum(len(data["actions"]) for data in ENTITY_FILES.values()) == 545
    assert load_generated("operations_index.json")["api_version"] == "2024-06-20"


@pytest.mark.parametrize("entity, action", ALL_ACTIONS, ids=[f"{a}-{e}" for e, a in ALL_ACTIONS])
def test_every_action_equals_its_generated_data(entity, action):
    spec = action_spec(entity, action)
    data = ENTITY_FILES[entity]["actions"][action]
    listed = resources.entities()[entity]["actions"][action]
    assert spec.parameters == data["parameters"]
    assert (spec.method, spec.path, spec.id_param, list(spec.path_params)) == (
        data["method"],
        data["path"],
        data["id_param"],
        data["path_params"],
    )
    assert {k: listed[k] for k in ("method", "path", "description", "read_only", "destructive", "idempotent")} == {
        "method": spec.method,
        "path": spec.path,
        "description": spec.description,
        "read_only": spec.read_only,
        "destructive": spec.destructive,
        "idempotent": spec.idempotent,
    }
    # The schema is consistent with the path: every {param} is a required string property.
    assert re.findall(r"{(\w+)}", spec.path) == list(spec.path_params)
    for name in spec.path_params:
        assert spec.properties[name]["type"] == "string" and spec.properties[name]["x-in"] == "path"
        assert name in spec.parameters.get("required", ()) or (name == spec.id_param and spec.own_path)
    assert spec.id_param is None or spec.id_param in spec.path_params
    assert set(spec.parameters.get("required", ())) <= set(spec.properties)
    assert spec.read_only == (spec.method == "GET")
    assert spec.description and len(spec.description) <= 400


def test_entity_names_are_stripes_object_names_in_singular_and_plural():
    entities = resources.entities()
    for name in (
        "customer",
        "invoice_item",
        "checkout_session",
        "tax_rate",
        "billing_meter",
        "payment_intent",
        "balance_transaction",
        "subscription",
        "test_clock",
        "customer_tax_id",
        "invoice_line_item",
    ):
        assert name in entities, name
    assert entities["invoice_item"]["names"] == ["invoice_item", "invoice_items"]
    assert entities["tax_rate"]["names"] == ["tax_rate", "tax_rates"]
    owners = {}  # a spelling names one entity only (a name may be its own plural: tax_settings)
    for entity, info in entities.items():
        for name in info["names"]:
            assert owners.setdefault(compact(name), entity) == entity, name


@pytest.mark.parametrize(
    "action, entity, method, path",
    [
        ("create", "customer", "POST", "/v1/customers"),
        ("update", "customer", "POST", "/v1/customers/{customer}"),
        ("delete", "customer", "DELETE", "/v1/customers/{customer}"),
        ("search", "customer", "GET", "/v1/customers/search"),
        ("cancel", "subscription", "DELETE", "/v1/subscriptions/{subscription_exposed_id}"),
        ("finalize", "invoice", "POST", "/v1/invoices/{invoice}/finalize"),
        ("pay", "invoice", "POST", "/v1/invoices/{invoice}/pay"),
        ("void", "invoice", "POST", "/v1/invoices/{invoice}/void"),
        ("capture", "payment_intent", "POST", "/v1/payment_intents/{intent}/capture"),
        ("confirm", "payment_intent", "POST", "/v1/payment_intents/{intent}/confirm"),
        ("expire", "checkout_session", "POST", "/v1/checkout/sessions/{session}/expire"),
        ("create", "invoice_item", "POST", "/v1/invoiceitems"),
        ("create", "refund", "POST", "/v1/refunds"),
        ("create", "coupon", "POST", "/v1/coupons"),
        ("list", "customer_tax_id", "GET", "/v1/customers/{customer}/tax_ids"),
        ("list", "balance_history", "GET", "/v1/balance/history"),
        ("test_expire", "refund", "POST", "/v1/test_helpers/refunds/{refund}/expire"),
        ("advance", "test_clock", "POST", "/v1/test_helpers/test_clocks/{test_clock}/advance"),
        ("upcoming_lines", "invoice", "GET", "/v1/invoices/upcoming/lines"),
    ],
)
def test_operations_are_named_after_their_path(action, entity, method, path):
    spec = find_action(action, entity)
    assert (spec.method, spec.path) == (method, path)


@pytest.mark.parametrize(
    "action, entity, read_only, destructive, idempotent",
    [
        ("get", "customer", True, False, True),
        ("list", "invoice", True, False, True),
        ("search", "charge", True, False, True),
        ("create", "customer", False, False, False),
        ("update", "customer", False, False, True),
        ("delete", "customer", False, True, True),
        ("cancel", "subscription", False, True, True),
        ("void", "invoice", False, True, True),
        ("finalize", "invoice", False, False, True),
        ("pay", "invoice", False, False, False),
        ("capture", "payment_intent", False, False, False),
        ("expire", "checkout_session", False, True, True),
    ],
)
def test_flags(action, entity, read_only, destructive, idempotent):
    spec = find_action(action, entity)
    assert (spec.read_only, spec.destructive, spec.idempotent) == (read_only, destructive, idempotent)
    assert spec.generates_idempotency_key == (spec.method == "POST" and not idempotent)


# -- the seed's aliases ----------------------------------------------------------------------


@pytest.mark.parametrize("call", list(SEED_CALLS), ids=lambda c: f"{c[0]}-{c[1]}")
def test_every_seed_alias_maps_to_a_real_parameter_of_the_generated_action(call):
    action, entity = call
    spec = find_action(action, entity)
    for alias, target in SEED_CALLS[call].items():
        top = re.split(r"[\[.]", target, maxsplit=1)[0]
        assert top in spec.properties, f"{alias} -> {target}: {action} {entity} has no parameter {top}"
        assert schema_at(spec.properties, target), f"{alias} -> {target} names nothing inside {top}"
        assert alias not in spec.properties, f"{alias} would hide Stripe's own parameter"
    for name in SEED_REQUIRED.get(call, ()):
        assert name in spec.properties and name in spec.required


def test_the_seed_aliases_have_the_seeds_types():
    assert schema_at(find_action("create", "price").properties, "unit_amount")["type"] == "integer"
    assert set(schema_at(find_action("create", "price").properties, "recurring[interval]")["enum"]) == {"day", "week", "month", "year"}
    assert schema_at(find_action("create", "subscription").properties, "items[0][price]")["type"] == "string"
    assert find_action("list", "balance_transaction").properties["type"]["enum"][:3] == ["adjustment", "advance", "advance_funding"]


def test_the_seed_calls_are_the_seventeen_of_the_seed_document_and_its_entities():
    assert len(SEED_CALLS) == 17
    assert {entity for _, entity in SEED_CALLS} == {"customer", "subscription", "product", "price", "plan", "balance_transaction"}


# -- what the MCP server reads ---------------------------------------------------------------


def test_list_actions_gives_flags_and_descriptions():
    listing = list_actions("invoices")
    assert list(listing) == ["invoice"]
    finalize = listing["invoice"]["actions"]["finalize"]
    assert finalize["method"] == "POST" and finalize["idempotent"] and not finalize["read_only"]
    assert finalize["description"].startswith("Stripe automatically finalizes drafts")


def test_describe_action_gives_a_json_schema_with_aliases_and_our_extras():
    described = describe_action("create", "subscription")
    schema = described["input_schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert {"customer", "items", "customer_id", "price_id", "idempotency_key"} <= set(schema["properties"])
    assert {"anyOf": [{"required": ["items"]}, {"required": ["price_id"]}]} in schema["allOf"]
    assert "customer" not in schema.get("required", [])  # customer or customer_id
    assert {"customer_id": "customer", "price_id": "items[0][price]", "coupon_id": "coupon"}.items() <= described["aliases"].items()
    plain = input_schema(find_action("create", "subscription"), aliases=False)
    assert "price_id" not in plain["properties"] and "customer" in plain["required"]
    listing = describe_action("list", "customers")["input_schema"]
    assert listing["properties"]["all"]["type"] == "boolean" and "idempotency_key" not in listing["properties"]


def test_what_callers_get_is_theirs_to_change():
    schema = describe_action("create", "customer")["input_schema"]
    schema["properties"]["email"]["maxLength"] = 1
    schema["properties"].clear()
    list_actions("customer")["customer"]["actions"].clear()
    assert find_action("create", "customer").properties["email"]["maxLength"] == 512
    assert "create" in list_actions("customer")["customer"]["actions"]
