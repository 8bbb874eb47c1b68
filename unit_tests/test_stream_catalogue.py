"""The generated stream catalogue (data/generated/streams.json) is complete and coherent.

Like test_schemas, these tests read only committed files (never Stripe's spec3.json): the
catalogue, the hand-written overrides it was built with, the other generated tables, and the
hand-written stream specs the connector reads today.
"""

import importlib.util
from pathlib import Path

import pytest
import yaml

from source_stripe_proxy.data import load_generated
from source_stripe_proxy.source.stream_specs import STREAM_SPECS

REPO = Path(__file__).resolve().parent.parent
OVERRIDES = yaml.safe_load((REPO / "scripts" / "stream_overrides.yaml").read_text(encoding="utf-8"))
CATALOGUE = load_generated("streams.json")
STREAMS = CATALOGUE["streams"]
EVENT_TYPES = set(load_generated("event_types.json"))
ENDPOINTS = set(load_generated("endpoints.json"))
LIST_PARAMETERS = load_generated("list_parameters.json")

# Airbyte source-stripe 5.14/5.15 (airbyte-integrations/connectors/source-stripe/manifest.yaml,
# its `streams:` list): 47 names. Every primary key is ["id"] except usage_records (none).
AIRBYTE_STREAMS = {
    "accounts",
    "application_fees",
    "application_fees_refunds",
    "authorizations",
    "balance_transactions",
    "bank_accounts",
    "cardholders",
    "cards",
    "charges",
    "checkout_sessions",
    "checkout_sessions_line_items",
    "coupons",
    "credit_notes",
    "customer_balance_transactions",
    "customers",
    "disputes",
    "early_fraud_warnings",
    "events",
    "external_account_bank_accounts",
    "external_account_cards",
    "file_links",
    "files",
    "invoice_items",
    "invoice_line_items",
    "invoices",
    "payment_intents",
    "payment_methods",
    "payout_balance_transactions",
    "payouts",
    "persons",
    "plans",
    "prices",
    "products",
    "promotion_codes",
    "refunds",
    "reviews",
    "setup_attempts",
    "setup_intents",
    "shipping_rates",
    "subscription_items",
    "subscription_schedule",
    "subscriptions",
    "top_ups",
    "transactions",
    "transfer_reversals",
    "transfers",
    "usage_records",
}
# What each Airbyte stream reads (path, and the parent for its children): the same meaning.
AIRBYTE_MEANING = {
    "subscription_schedule": ("/v1/subscription_schedules", None),
    "top_ups": ("/v1/topups", None),
    "transactions": ("/v1/issuing/transactions", None),
    "authorizations": ("/v1/issuing/authorizations", None),
    "cards": ("/v1/issuing/cards", None),
    "cardholders": ("/v1/issuing/cardholders", None),
    "early_fraud_warnings": ("/v1/radar/early_fraud_warnings", None),
    "checkout_sessions_line_items": ("/v1/checkout/sessions/{session}/line_items", "checkout_sessions"),
    "payout_balance_transactions": ("/v1/balance_transactions", "payouts"),
    "customer_balance_transactions": ("/v1/customers/{customer}/balance_transactions", "customers"),
    "external_account_cards": ("/v1/accounts/{account}/external_accounts", None),
    "external_account_bank_accounts": ("/v1/accounts/{account}/external_accounts", None),
    "application_fees_refunds": ("/v1/application_fees/{id}/refunds", "application_fees"),
    "bank_accounts": ("/v1/customers/{customer}/bank_accounts", "customers"),
    "usage_records": ("/v1/subscription_items/{subscription_item}/usage_record_summaries", "subscription_items"),
    "persons": ("/v1/accounts/{account}/persons", "accounts"),
    "payment_methods": ("/v1/customers/{customer}/payment_methods", "customers"),
    "invoice_line_items": ("/v1/invoices/{invoice}/lines", "invoices"),
    "subscription_items": ("/v1/subscription_items", "subscriptions"),
    "setup_attempts": ("/v1/setup_attempts", "setup_intents"),
    "transfer_reversals": ("/v1/transfers/{id}/reversals", "transfers"),
}


# --- coverage ---------------------------------------------------------------------------


def test_every_list_endpoint_is_a_stream_or_left_out_with_a_reason():
    covered = {stream["path"] for stream in STREAMS.values()}
    left_out = {entry["path"]: entry for entry in CATALOGUE["left_out"]}
    assert not covered & set(left_out)
    # Stripe's 2024-06-20 spec has 118 list endpoints (89 top-level, 29 nested).
    assert len(covered) + len(left_out) == 118
    assert covered | set(left_out) <= ENDPOINTS
    for entry in left_out.values():
        assert entry["kind"] in ("preview", "duplicate", "unreachable")
        assert entry.get("reason") or entry.get("of"), entry
        if entry["kind"] == "duplicate":
            assert entry["of"] in covered, entry  # what it duplicates is read


def test_the_previews_and_duplicates_named_in_the_issue_are_left_out():
    left_out = {entry["path"] for entry in CATALOGUE["left_out"]}
    assert {
        "/v1/invoices/upcoming/lines",
        "/v1/credit_notes/preview/lines",
        "/v1/balance/history",
        "/v1/linked_accounts",
        "/v1/linked_accounts/{account}/owners",
        "/v1/accounts/{account}/people",
    } <= left_out


def test_every_stream_path_has_its_list_parameters():
    for stream in STREAMS.values():
        parameters = LIST_PARAMETERS[stream["path"]]["query"]
        assert set(stream["query_params"]) == set(parameters), stream["name"]
        assert stream["filters_created"] == ("created" in parameters)


# --- Airbyte's names ----------------------------------------------------------------


def test_all_airbyte_streams_are_there_with_their_primary_key():
    assert len(AIRBYTE_STREAMS) == 47
    assert set(OVERRIDES["airbyte_streams"]) == AIRBYTE_STREAMS
    assert {name for name, stream in STREAMS.items() if stream["airbyte"]} == AIRBYTE_STREAMS
    for name in AIRBYTE_STREAMS:
        stream = STREAMS[name]
        expected = [] if name == "usage_records" else ["id"]
        assert stream["airbyte_primary_key"] == expected, name
        assert stream["primary_key"] == ["id"], name


@pytest.mark.parametrize("name", sorted(AIRBYTE_MEANING))
def test_airbyte_names_keep_their_meaning(name):
    path, parent = AIRBYTE_MEANING[name]
    stream = STREAMS[name]
    assert stream["path"] == path
    assert (stream["parent"] or {}).get("stream") == parent


def test_external_accounts_are_split_by_object_and_read_for_the_account_read():
    for name, kind in (("external_account_cards", "card"), ("external_account_bank_accounts", "bank_account")):
        stream = STREAMS[name]
        assert stream["params"] == {"object": kind}
        assert stream["objects"] == [kind]
        assert stream["account_path_param"] == "account"
        assert stream["events"]["types"] == [
            "account.external_account.created",
            "account.external_account.deleted",
            "account.external_account.updated",
        ]


def test_path_names_for_the_rest():
    for name, path in [
        ("treasury_transactions", "/v1/treasury/transactions"),
        ("tax_rates", "/v1/tax_rates"),
        ("billing_meters", "/v1/billing/meters"),
        ("customer_tax_ids", "/v1/customers/{customer}/tax_ids"),
        ("quotes", "/v1/quotes"),
        ("payment_links", "/v1/payment_links"),
        ("test_clocks", "/v1/test_helpers/test_clocks"),
    ]:
        assert STREAMS[name]["path"] == path


# --- the overrides name only what exists ------------------------------------------------


def test_every_override_points_at_something_the_catalogue_has():
    by_path = {}
    for stream in STREAMS.values():
        by_path.setdefault(stream["path"], set()).add(stream["name"])
    left_out = {entry["path"] for entry in CATALOGUE["left_out"]}
    assert set(OVERRIDES["left_out"]) == left_out
    for path, name in OVERRIDES["names"].items():
        assert name in by_path.get(path, ()), (path, name)
    for path, split in OVERRIDES["split"].items():
        assert set(split) == by_path[path]
    for name, extra in OVERRIDES["extra_streams"].items():
        assert STREAMS[name]["path"] == extra["path"]
        assert STREAMS[name]["parent"]["stream"] == extra["parent"]["stream"]
    for name, facts in OVERRIDES["streams"].items():
        stream = STREAMS[name]
        for key, value in facts.get("params", {}).items():
            assert stream["params"][key] == value
        if "primary_key" in facts:
            assert stream["primary_key"] == facts["primary_key"]
        if "parent" in facts:
            assert stream["parent"]["stream"] == facts["parent"]["stream"]
        for event_type in facts.get("refresh_events", {}):
            assert event_type in EVENT_TYPES
            assert stream["events"]["refresh"][event_type] == facts["refresh_events"][event_type]
    components = {c for stream in STREAMS.values() for c in stream["components"]}
    for component, prefixes in OVERRIDES["event_prefixes"].items():
        assert component in components
        assert any(t.startswith(prefix + ".") for prefix in prefixes for t in EVENT_TYPES), component
    for name, prefixes in OVERRIDES["stream_event_prefixes"].items():
        assert STREAMS[name]["events"]["prefixes"] == prefixes
    assert set(OVERRIDES["not_changes"]) <= EVENT_TYPES
    for prefix, product in OVERRIDES["products"].items():
        assert any(stream["path"].startswith(prefix) and stream["product"] == product for stream in STREAMS.values()), prefix
    for name in OVERRIDES["airbyte_primary_keys"]:
        assert STREAMS[name]["airbyte"]


# --- coherence ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_is_coherent(name):
    stream = STREAMS[name]
    parent = stream["parent"]
    supplied = set(stream["params"]) | {key.split("[")[0] for key in stream["params"]}
    if parent:
        assert parent["stream"] in STREAMS and parent["stream"] != name
        assert set(parent["path_params"]) <= set(stream["path"].replace("}", "{").split("{"))
        supplied |= set(parent["query_params"])
        if stream["product"] is None:
            assert STREAMS[parent["stream"]]["product"] is None  # children inherit the parent's product
        if not parent["ref"]["added"]:
            assert parent["ref"]["field"] in load_schema_properties(name)
    if stream.get("window"):
        supplied |= {stream["window"]["start_param"], stream["window"]["end_param"]}
    if stream.get("also_per"):
        supplied |= set(stream["also_per"]["query_params"])
    assert set(stream["required_params"]) <= supplied, "every required parameter has a source"
    events = stream["events"]
    assert set(events["types"]) <= EVENT_TYPES
    assert events["deleted"] in events["types"] + [None]
    assert events["cancelled"] in events["types"] + [None]
    assert not (events["deleted"] and events["cancelled"])
    if events["deleted"]:
        assert stream["deletable"] and stream["deletes"] == "events"
    assert ("incremental" in stream["sync_modes"]) == (stream["cursor"] is not None)
    if stream["changes"] == "created":
        assert stream["cursor"] == stream["created_field"] and stream["filters_created"]
    elif stream["changes"] in ("events", "parent_events"):
        assert stream["cursor"] == "updated"
    else:
        assert stream["sync_modes"] == ["full_refresh"]
    if stream["detail"]:
        assert stream["detail"]["path"] in ENDPOINTS


def load_schema_properties(name):
    from source_stripe_proxy.data import load_schema

    return load_schema(name)["properties"]


def test_event_routes_list_each_stream_of_each_type():
    routes = CATALOGUE["event_routes"]
    for name, stream in STREAMS.items():
        for event_type in stream["events"]["types"]:
            assert name in routes[event_type]
    assert routes["customer.created"] == ["customers"]
    assert routes["customer.source.created"] == ["bank_accounts", "customer_cards", "customer_sources"]
    assert "invoice.upcoming" not in routes  # a preview with no id


def test_subscriptions_read_every_status_and_a_cancellation_is_an_update():
    subscriptions = STREAMS["subscriptions"]
    assert subscriptions["params"] == {"status": "all"}
    assert subscriptions["events"]["cancelled"] == "customer.subscription.deleted"
    assert subscriptions["events"]["deleted"] is None
    assert STREAMS["customers"]["events"]["deleted"] == "customer.deleted"


def test_children_name_how_the_parent_id_is_passed():
    assert STREAMS["payout_balance_transactions"]["parent"]["query_params"] == {"payout": "id"}
    assert STREAMS["payout_balance_transactions"]["parent"]["filter"] == {"automatic": True}
    assert STREAMS["treasury_transactions"]["parent"]["query_params"] == {"financial_account": "id"}
    assert STREAMS["usage_records"]["parent"]["path_params"] == {"subscription_item": "id"}
    assert STREAMS["financial_connections_account_owners"]["parent"]["query_params"] == {"ownership": "ownership"}
    assert STREAMS["checkout_sessions_line_items"]["parent"]["embedded"] == {"field": "line_items", "always": False, "expand": "line_items"}
    assert STREAMS["invoice_line_items"]["parent"]["embedded"]["always"] is True


def test_products_come_from_the_path_and_children_inherit_them():
    assert STREAMS["cards"]["product"] == "Issuing"
    assert STREAMS["issuing_tokens"]["product"] == "Issuing"
    assert STREAMS["treasury_received_credits"]["product"] == "Treasury"
    assert STREAMS["terminal_readers"]["product"] == "Terminal"
    assert STREAMS["customers"]["product"] is None


# --- the connector's specs are the catalogue, and the first 19 streams keep their meaning ---------

# The hand-written table the connector read before the catalogue (list path, fixed params, event
# type prefixes, deleted event, retrieve endpoint, creation field, parent and embedded field).
FIRST_SPECS = {
    "customers": ("/v1/customers", {}, ("customer",), "customer.deleted", "/v1/customers/{id}", "created", None),
    "subscriptions": ("/v1/subscriptions", {"status": "all"}, ("customer.subscription",), None, "/v1/subscriptions/{id}", "created", None),
    "products": ("/v1/products", {}, ("product",), "product.deleted", "/v1/products/{id}", "created", None),
    "plans": ("/v1/plans", {}, ("plan",), "plan.deleted", "/v1/plans/{id}", "created", None),
    "prices": ("/v1/prices", {}, ("price",), "price.deleted", "/v1/prices/{id}", "created", None),
    "balance_transactions": ("/v1/balance_transactions", {}, (), None, None, "created", None),
    "invoices": ("/v1/invoices", {}, ("invoice",), "invoice.deleted", "/v1/invoices/{id}", "created", None),
    "invoice_items": ("/v1/invoiceitems", {}, ("invoiceitem",), "invoiceitem.deleted", "/v1/invoiceitems/{id}", "date", None),
    "invoice_line_items": ("/v1/invoices", {}, ("invoice",), None, None, None, ("invoices", "lines")),
    "subscription_items": (
        "/v1/subscriptions",
        {"status": "all"},
        ("customer.subscription",),
        None,
        None,
        None,
        ("subscriptions", "items"),
    ),
    "charges": ("/v1/charges", {}, ("charge",), None, "/v1/charges/{id}", "created", None),
    "refunds": ("/v1/refunds", {}, ("refund", "charge.refund"), None, "/v1/refunds/{id}", "created", None),
    "payment_intents": ("/v1/payment_intents", {}, ("payment_intent",), None, "/v1/payment_intents/{id}", "created", None),
    "payouts": ("/v1/payouts", {}, ("payout",), None, "/v1/payouts/{id}", "created", None),
    "coupons": ("/v1/coupons", {}, ("coupon",), "coupon.deleted", "/v1/coupons/{id}", "created", None),
    "promotion_codes": ("/v1/promotion_codes", {}, ("promotion_code",), None, "/v1/promotion_codes/{id}", "created", None),
    "disputes": ("/v1/disputes", {}, ("charge.dispute",), None, "/v1/disputes/{id}", "created", None),
    "credit_notes": ("/v1/credit_notes", {}, ("credit_note",), None, "/v1/credit_notes/{id}", "created", None),
    "events": ("/v1/events", {}, (), None, None, "created", None),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_spec_is_its_catalogue_entry(name):
    spec, entry = STREAM_SPECS[name], STREAMS[name]
    assert (spec.path, dict(spec.params), spec.created_field, spec.filters_created) == (
        entry["path"],
        entry["params"],
        entry["created_field"],
        entry["filters_created"],
    )
    assert spec.event_types == tuple(entry["events"]["types"]) and spec.deleted_event == entry["events"]["deleted"]
    assert (spec.changes, list(spec.primary_key), spec.cursor, spec.product) == (
        entry["changes"],
        entry["primary_key"],
        entry["cursor"],
        entry["product"],
    )
    assert (spec.parent.stream if spec.parent else None) == (entry["parent"] or {}).get("stream")
    assert spec.can_be_deleted == ("is_deleted" in load_schema_properties(name))


@pytest.mark.parametrize("name", sorted(FIRST_SPECS))
def test_the_first_streams_keep_their_meaning(name):
    from source_stripe_proxy.source.stream_specs import types_for_prefixes

    list_path, params, prefixes, deleted, detail, created_field, parent = FIRST_SPECS[name]
    spec = STREAM_SPECS[name]
    assert spec.list_path == list_path and dict(spec.source.params) == params
    assert set(spec.change_event_types) == set(types_for_prefixes(prefixes))
    assert len(spec.change_event_types) <= 20  # fits one `types[]` filter alone
    if parent:
        assert (spec.parent.stream, spec.parent.embedded_field, spec.parent.embedded) == (*parent, True)
        assert spec.follows_parent_events
    else:
        assert spec.parent is None and spec.deleted_event == deleted and spec.created_field == created_field
        if detail:  # the old table named a retrieve endpoint only where it re-fetched
            assert spec.detail == detail


# --- docs/streams.md is the catalogue -----------------------------------------------------------


def test_streams_doc_is_current():
    loader = importlib.util.spec_from_file_location("generate_streams", REPO / "scripts" / "generate_streams.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    expected = module.render_docs(CATALOGUE)
    actual = (REPO / "docs" / "streams.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/streams.md is stale: run scripts/generate_schemas.py"
    for name in STREAMS:
        assert f"| {name} |" in actual or f"| **{name}** |" in actual


def test_every_stream_reads_an_action_of_the_registry_of_resources():
    """The catalogue and the actions come from the same spec: each stream's list path is an
    entity's `list` action, and the path it fetches one object by is that entity's `get`."""
    from source_stripe_proxy.data import resources

    by_call = {}
    for entity, info in resources.entities().items():
        for action, operation in info["actions"].items():
            by_call.setdefault((operation["method"], operation["path"]), []).append((entity, action))
    for name, stream in STREAMS.items():
        listed = by_call.get(("GET", stream["path"]), [])
        assert [action for _, action in listed] == ["list"], (name, stream["path"], listed)
        if stream.get("detail"):
            fetched = by_call.get(("GET", stream["detail"]["path"]), [])
            assert [action for _, action in fetched] == ["get"], (name, stream["detail"]["path"], fetched)
            assert fetched[0][0] == listed[0][0], (name, fetched, listed)
