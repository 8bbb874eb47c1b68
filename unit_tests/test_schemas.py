"""Checks on the committed, generated stream schemas and parameter tables.

These files come from scripts/generate_schemas.py. The tests deliberately use
only the committed outputs (never Stripe's spec3.json), so they also guard
against hand edits that break the schemas.
"""

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "source_stripe_proxy"
SCHEMAS_DIR = PACKAGE_DIR / "data" / "schemas"
GENERATED_DIR = PACKAGE_DIR / "data" / "generated"

CATALOGUE = json.loads((GENERATED_DIR / "streams.json").read_text(encoding="utf-8"))["streams"]
EXAMPLES = json.loads((GENERATED_DIR / "stream_examples.json").read_text(encoding="utf-8"))
EXPECTED_STREAMS = set(CATALOGUE)
# Objects without a creation time (line items, capabilities, ...); invoice items call it `date`.
STREAMS_WITHOUT_CREATED = {name for name, stream in CATALOGUE.items() if stream["created_field"] != "created"}

SCHEMA_FILES = sorted(SCHEMAS_DIR.glob("*.json"))


def load_schema(stream):
    return json.loads((SCHEMAS_DIR / f"{stream}.json").read_text(encoding="utf-8"))


def types_of(property_schema):
    declared = property_schema.get("type", [])
    return declared if isinstance(declared, list) else [declared]


# --- (a) structure of every generated schema -------------------------------


def test_every_stream_has_a_schema():
    assert {path.stem for path in SCHEMA_FILES} == EXPECTED_STREAMS
    assert len(EXPECTED_STREAMS) > 100  # every list endpoint of the API, not a hand-picked few


def test_streams_without_created_are_the_expected_kinds():
    assert CATALOGUE["invoice_items"]["created_field"] == "date"
    assert {"invoice_line_items", "checkout_sessions_line_items", "account_capabilities"} <= STREAMS_WITHOUT_CREATED
    assert "customers" not in STREAMS_WITHOUT_CREATED


@pytest.mark.parametrize("schema_path", SCHEMA_FILES, ids=lambda path: path.stem)
def test_schema_is_valid_draft7_object_schema(schema_path):
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert schema["required"] == ["id"]
    assert schema["title"] == schema_path.stem

    properties = schema["properties"]
    assert types_of(properties["id"]) == ["string"]
    assert "object" in properties
    if schema_path.stem in STREAMS_WITHOUT_CREATED:
        assert "created" not in properties or schema_path.stem == "customer_sources"  # sources have it, cards not
    else:
        assert "created" in properties
        assert "integer" in types_of(properties["created"])
        assert "string" not in types_of(properties["created"])


@pytest.mark.parametrize("schema_path", SCHEMA_FILES, ids=lambda path: path.stem)
def test_no_nested_required_lists(schema_path):
    # localstripe and older API versions send partial nested objects.
    text = schema_path.read_text(encoding="utf-8")
    assert text.count('"required"') == 1


# --- (b) realistic records validate, wrong types are rejected --------------

# The localstripe-style customer the connector must accept (absent fields are fine).
CUSTOMER = {
    "id": "cus_ZrWhPIhNCGZRMq",
    "object": "customer",
    "account_balance": 0,  # pre-2024 field: must pass via additionalProperties
    "address": None,
    "created": 1795577499,
    "currency": "eur",
    "default_source": None,
    "delinquent": False,
    "description": None,
    "discount": None,
    "email": "a@b.com",
    "invoice_settings": {"default_payment_method": None},
    "livemode": False,
    "metadata": {"k": "v"},
    "name": "X",
    "phone": None,
    "preferred_locales": None,
    "shipping": None,
    "sources": {
        "data": [],
        "has_more": False,
        "object": "list",
        "total_count": 0,
        "url": "/v1/customers/x/sources",
    },
    "subscriptions": {
        "data": [],
        "has_more": False,
        "object": "list",
        "total_count": 0,
        "url": "/v1/customers/x/subscriptions",
    },
    "tax_ids": {
        "data": [],
        "has_more": False,
        "object": "list",
        "total_count": 0,
        "url": "/v1/customers/x/tax_ids",
    },
}

PRODUCT = {
    "id": "prod_NWjs8kKbJWmuuc",
    "object": "product",
    "active": True,
    "created": 1678833149,
    "default_price": "price_1MoBy5LkdIwHu7ixZhnattbh",
    "description": None,
    "images": [],
    "livemode": False,
    "marketing_features": [],
    "metadata": {},
    "name": "Gold Plan",
    "package_dimensions": None,
    "shippable": None,
    "statement_descriptor": None,
    "tax_code": None,
    "unit_label": None,
    "updated": 1678833149,
    "url": None,
}

PLAN = {
    "id": "price_1MoBy5LkdIwHu7ixZhnattbh",
    "object": "plan",
    "active": True,
    "aggregate_usage": None,
    "amount": 1200,
    "amount_decimal": "1200",
    "billing_scheme": "per_unit",
    "created": 1679431181,
    "currency": "usd",
    "interval": "month",
    "interval_count": 1,
    "livemode": False,
    "metadata": {},
    "meter": None,
    "nickname": None,
    "product": "prod_NZKdYqrwEYx6iK",
    "tiers_mode": None,
    "transform_usage": None,
    "trial_period_days": None,
    "usage_type": "licensed",
}

PRICE = {
    "id": "price_1MoBy5LkdIwHu7ixZhnattbh",
    "object": "price",
    "active": True,
    "billing_scheme": "per_unit",
    "created": 1679431181,
    "currency": "usd",
    "custom_unit_amount": None,
    "livemode": False,
    "lookup_key": None,
    "metadata": {},
    "nickname": None,
    "product": {"id": "prod_NZKdYqrwEYx6iK", "object": "product"},  # expanded
    "recurring": {
        "aggregate_usage": None,
        "interval": "month",
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    },
    "tax_behavior": "unspecified",
    "tiers_mode": None,
    "transform_quantity": None,
    "type": "recurring",
    "unit_amount": 1000,
    "unit_amount_decimal": "1000",
}

SUBSCRIPTION = {
    "id": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
    "object": "subscription",
    "application": None,
    "automatic_tax": {"enabled": False, "liability": None},
    "billing_cycle_anchor": 1679609767,
    "cancel_at": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "collection_method": "charge_automatically",
    "created": 1679609767,
    "currency": "usd",
    "current_period_end": 1682288167,
    "current_period_start": 1679609767,
    "customer": "cus_Na6dX7aXxi11N4",
    "days_until_due": None,
    "default_payment_method": None,
    "discount": None,
    "discounts": [],
    "ended_at": None,
    "items": {
        "object": "list",
        "data": [
            {
                "id": "si_Na6dzxczY5fwHx",
                "object": "subscription_item",
                "created": 1679609768,
                "metadata": {},
                "price": PRICE,
                "quantity": 1,
                "subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
                "tax_rates": [],
            }
        ],
        "has_more": False,
        "total_count": 1,
        "url": "/v1/subscription_items?subscription=sub_1MowQVLkdIwHu7ixeRlqHVzs",
    },
    "latest_invoice": "in_1MowQWLkdIwHu7ixuzkSPfKd",
    "livemode": False,
    "metadata": {},
    "pause_collection": None,
    "start_date": 1679609767,
    "status": "active",
    "trial_end": None,
    "trial_start": None,
}

BALANCE_TRANSACTION = {
    "id": "txn_1MiN3gLkdIwHu7ixxapQrznl",
    "object": "balance_transaction",
    "amount": -400,
    "available_on": 1678043844,
    "created": 1678043844,
    "currency": "usd",
    "description": None,
    "exchange_rate": None,
    "fee": 0,
    "fee_details": [],
    "net": -400,
    "reporting_category": "transfer",
    "source": "tr_1MiN3gLkdIwHu7ixNiUa2ZoK",
    "status": "available",
    "type": "transfer",
}

RECORDS = {
    "customers": CUSTOMER,
    "products": PRODUCT,
    "plans": PLAN,
    "prices": PRICE,
    "subscriptions": SUBSCRIPTION,
    "balance_transactions": BALANCE_TRANSACTION,
}


@pytest.mark.parametrize("stream", sorted(RECORDS))
def test_realistic_record_is_accepted(stream):
    Draft7Validator(load_schema(stream)).validate(RECORDS[stream])


@pytest.mark.parametrize("stream", sorted(RECORDS))
def test_only_id_is_required(stream):
    validator = Draft7Validator(load_schema(stream))
    assert validator.is_valid({"id": "x_1"})
    assert not validator.is_valid({"object": RECORDS[stream]["object"]})


WRONG_TOP_LEVEL_VALUES = [
    (stream, field, wrong_value)
    for stream in sorted(RECORDS)
    for field, wrong_value in [("created", "yesterday"), ("livemode", "no"), ("id", 123)]
    # Stripe's balance_transaction has no livemode field.
    if field in RECORDS[stream]
] + [("balance_transactions", "amount", "4.00"), ("plans", "amount", 12.5)]


@pytest.mark.parametrize("stream, field, wrong_value", WRONG_TOP_LEVEL_VALUES)
def test_wrong_top_level_type_is_rejected(stream, field, wrong_value):
    record = copy.deepcopy(RECORDS[stream])
    record[field] = wrong_value
    assert not Draft7Validator(load_schema(stream)).is_valid(record)


@pytest.mark.parametrize(
    "stream, path, wrong_value",
    [
        ("customers", ("metadata", "k"), 5),  # metadata values are strings
        ("customers", ("invoice_settings", "footer"), 12),
        ("customers", ("sources", "has_more"), "maybe"),
        ("prices", ("recurring", "interval_count"), "one"),
        ("subscriptions", ("items", "data", 0, "quantity"), "1"),
        ("subscriptions", ("items", "data", 0, "price", "unit_amount"), "10.00"),
    ],
)
def test_wrong_nested_type_is_rejected(stream, path, wrong_value):
    record = copy.deepcopy(RECORDS[stream])
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = wrong_value
    assert not Draft7Validator(load_schema(stream)).is_valid(record)


def test_expandable_field_accepts_id_or_object():
    validator = Draft7Validator(load_schema("subscriptions"))
    for customer in ("cus_1", {"id": "cus_1", "object": "customer"}):
        assert validator.is_valid({**SUBSCRIPTION, "customer": customer})
    assert not validator.is_valid({**SUBSCRIPTION, "customer": 42})


def test_new_enum_values_are_accepted():
    # Enums are dropped on purpose: Stripe adds values over time.
    validator = Draft7Validator(load_schema("subscriptions"))
    assert validator.is_valid({**SUBSCRIPTION, "status": "some_future_status"})


# --- (c) parameter tables ---------------------------------------------------


def load_generated(name):
    return json.loads((GENERATED_DIR / name).read_text(encoding="utf-8"))


def test_list_parameters_have_created_and_status_filters():
    list_parameters = load_generated("list_parameters.json")

    created = list_parameters["/v1/customers"]["query"]["created"]
    assert created["subkeys"] == ["gt", "gte", "lt", "lte"]
    assert created["style"] == "deepObject"
    assert list_parameters["/v1/customers"]["object"] == "customer"

    status = list_parameters["/v1/subscriptions"]["query"]["status"]
    assert status["type"] == "string"
    assert {"active", "canceled", "all"} <= set(status["enum"])


def test_write_parameters_cover_create_update_and_retrieve():
    write_parameters = load_generated("write_parameters.json")
    assert write_parameters["POST /v1/prices"]["required"] == ["currency"]
    assert "email" in write_parameters["POST /v1/customers"]["body"]
    assert "items" in write_parameters["POST /v1/subscriptions/{subscription_exposed_id}"]["body"]
    assert "expand" in write_parameters["GET /v1/products/{id}"]["query"]


# --- (d) every stream's generated example object ------------------------------
# stream_examples.json holds one object per stream (per type for lists of several types), every
# field filled from Stripe's component by scripts/generate_streams.py.

EXAMPLE_CASES = [(stream, i) for stream in sorted(EXAMPLES) for i in range(len(EXAMPLES[stream]))]


def test_every_stream_has_examples():
    assert set(EXAMPLES) == EXPECTED_STREAMS
    assert len(EXAMPLES["customer_sources"]) == 3  # bank account, card, source


@pytest.mark.parametrize("stream, index", EXAMPLE_CASES, ids=str)
def test_generated_example_is_accepted(stream, index):
    example = EXAMPLES[stream][index]
    assert example["object"] in CATALOGUE[stream]["objects"]
    Draft7Validator(load_schema(stream)).validate(example)


@pytest.mark.parametrize("stream", sorted(EXAMPLES))
def test_generated_example_with_a_wrong_id_is_rejected(stream):
    example = copy.deepcopy(EXAMPLES[stream][0])
    example["id"] = 123
    assert not Draft7Validator(load_schema(stream)).is_valid(example)


def test_added_parent_field_is_in_the_schema():
    # Checkout line items do not name their session: the connector adds checkout_session_id.
    parent = CATALOGUE["checkout_sessions_line_items"]["parent"]
    assert parent["ref"] == {"field": "checkout_session_id", "added": True}
    assert load_schema("checkout_sessions_line_items")["properties"]["checkout_session_id"] == {"type": "string"}
