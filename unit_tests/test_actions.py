"""Preparing calls (validation against the generated schemas, the seed's aliases, mapping to a
request; no network), and StripeConnection over requests-mock."""

import re
from pathlib import Path

import pytest

from source_stripe_proxy import StripeConnection as ExportedConnection
from source_stripe_proxy.actions import describe_action, error_to_dict, list_actions
from source_stripe_proxy.actions.catalog import resolve_entity, seed_calls
from source_stripe_proxy.actions.connection import ActionInputError, StripeConnection, prepare_call
from source_stripe_proxy.core.errors import ConfigError, InvalidRequestError, TransientError
from source_stripe_proxy.core.forms import encode_form

API_KEY = "sk_test_actionsSECRET77"
CONFIG = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": 0}
STRIPE = "https://api.stripe.com"


def refused(action, entity, **params):
    with pytest.raises(ActionInputError) as info:
        prepare_call(action, entity, params)
    return info.value


# -- the seed's examples, by the seed's names -----------------------------------------------


def test_create_customer_maps_to_form_body_with_generated_idempotency_key():
    call = prepare_call(
        "create", "customer", {"email": "customer@example.com", "name": "John Doe", "description": "New customer for subscription service"}
    )
    assert (call.method, call.path) == ("POST", "/v1/customers")
    assert call.body == {"email": "customer@example.com", "name": "John Doe", "description": "New customer for subscription service"}
    assert call.idempotency_key_generated and call.idempotency_key.startswith("stripe-connection-")
    assert prepare_call("create", "customer", {"email": "a@b.co", "name": "x"}).idempotency_key != call.idempotency_key


def test_given_idempotency_key_is_used_verbatim():
    call = prepare_call("create", "customers", {"email": "a@b.co", "name": "A", "idempotency_key": "retry-42"})
    assert call.idempotency_key == "retry-42" and not call.idempotency_key_generated
    assert "idempotency_key" not in call.body


def test_update_and_get_customer_put_the_id_in_the_path():
    update = prepare_call(
        "update", "customer", {"customer_id": "cus_1234567890", "name": "Jane Doe", "description": "Updated customer information"}
    )
    assert (update.method, update.path) == ("POST", "/v1/customers/cus_1234567890")
    assert update.body == {"name": "Jane Doe", "description": "Updated customer information"}
    assert update.idempotency_key is None  # an update may be repeated; the client still sends its own key
    get = prepare_call("get", "customer", {"customer_id": "cus_1234567890"})
    assert (get.method, get.path, get.query, get.body) == ("GET", "/v1/customers/cus_1234567890", None, None)


def test_list_customers_limit_is_an_integer_query_parameter():
    call = prepare_call("list", "customers", {"limit": "10"})
    assert (call.method, call.path, call.query) == ("GET", "/v1/customers", {"limit": 10})


def test_create_subscription_maps_customer_and_price_item():
    call = prepare_call(
        "create", "subscription", {"customer_id": "cus_1234567890", "price_id": "price_1234567890", "trial_period_days": "14"}
    )
    assert call.body == {"customer": "cus_1234567890", "items": [{"price": "price_1234567890"}], "trial_period_days": 14}
    assert encode_form(call.body) == [("customer", "cus_1234567890"), ("items[0][price]", "price_1234567890"), ("trial_period_days", "14")]


def test_list_subscriptions_filters_by_customer_and_status():
    call = prepare_call("list", "subscriptions", {"customer_id": "cus_1234567890", "status": "active"})
    assert call.query == {"customer": "cus_1234567890", "status": "active"}


def test_create_product_sends_booleans_as_true_false():
    call = prepare_call("create", "product", {"name": "Premium Plan", "description": "Access to all premium features", "active": "true"})
    assert call.body == {"name": "Premium Plan", "description": "Access to all premium features", "active": True}
    assert ("active", "true") in encode_form(call.body)


def test_get_and_list_products():
    assert prepare_call("get", "product", {"product_id": "prod_1234567890"}).path == "/v1/products/prod_1234567890"
    call = prepare_call("list", "products", {"active": "true", "limit": "10"})
    assert encode_form(call.query) == [("active", "true"), ("limit", "10")]


def test_recurring_price_maps_amount_and_interval():
    call = prepare_call(
        "create", "price", {"product_id": "prod_1", "amount": "1000", "currency": "USD", "interval": "Month", "nickname": "Monthly"}
    )
    assert call.body == {
        "product": "prod_1",
        "unit_amount": 1000,
        "currency": "usd",
        "recurring": {"interval": "month"},
        "nickname": "Monthly",
    }
    assert ("recurring[interval]", "month") in encode_form(call.body)


def test_price_without_interval_is_one_time():
    call = prepare_call("create", "price", {"product_id": "prod_1", "amount": 500, "currency": "eur"})
    assert call.body == {"product": "prod_1", "unit_amount": 500, "currency": "eur"}


def test_plan_keeps_amount_and_interval_names():
    call = prepare_call(
        "create", "plan", {"product_id": "prod_1", "amount": "1000", "currency": "usd", "interval": "month", "active": "false"}
    )
    assert call.body == {"product": "prod_1", "amount": 1000, "currency": "usd", "interval": "month", "active": False}


def test_list_plans_prices_and_balance_transactions():
    assert prepare_call("list", "plans", {"product_id": "prod_1", "active": "true"}).query == {"product": "prod_1", "active": True}
    assert prepare_call("list", "prices", {"product_id": "prod_1", "interval": "year"}).query == {
        "product": "prod_1",
        "recurring": {"interval": "year"},
    }
    assert prepare_call("list", "balance_transactions", {"type": "payment", "limit": "10"}).query == {"type": "payment", "limit": 10}
    assert prepare_call("get", "price", {"price_id": "price_1"}).path == "/v1/prices/price_1"
    assert prepare_call("get", "subscription", {"subscription_id": "sub_1"}).path == "/v1/subscriptions/sub_1"


def test_metadata_in_every_form_becomes_bracketed_form_keys():
    base = {"email": "a@b.co", "name": "A"}
    for params in (
        {"metadata.plan": "gold", "metadata[tier]": "1"},
        {"metadata": '{"plan": "gold", "tier": 1}'},
        {"metadata": {"plan": "gold", "tier": "1"}},
        {"metadata": {"plan": "gold"}, "metadata.tier": "1"},
        {"metadata.tier": "1", "metadata": '{"plan": "gold"}'},
    ):
        call = prepare_call("create", "customer", {**base, **params})
        assert call.body["metadata"] == {"plan": "gold", "tier": "1"}, params
        assert ("metadata[plan]", "gold") in encode_form(call.body)


def test_a_metadata_key_keeps_its_dots():
    call = prepare_call("update", "customer", {"customer": "cus_1", "metadata.release.v2": "yes"})
    assert call.body == {"metadata": {"release.v2": "yes"}}


def test_id_is_an_alias_of_the_path_parameter():
    assert prepare_call("get", "customer", {"id": "cus_9"}).path == "/v1/customers/cus_9"
    assert prepare_call("update", "product", {"id": "prod_9", "name": "N"}).path == "/v1/products/prod_9"
    assert prepare_call("finalize", "invoice", {"id": "in_9"}).path == "/v1/invoices/in_9/finalize"
    assert refused("get", "customer", id="cus_9", customer_id="cus_8").param == "id"


def test_ids_answer_to_their_name_with_id_as_the_seed_names_them():
    assert prepare_call("finalize", "invoice", {"invoice_id": "in_1"}).path == "/v1/invoices/in_1/finalize"
    assert prepare_call("cancel", "subscription", {"subscription_id": "sub_1"}).path == "/v1/subscriptions/sub_1"
    assert prepare_call("get", "invoice_item", {"invoice_item_id": "ii_1"}).path == "/v1/invoiceitems/ii_1"
    assert prepare_call("list", "customer_tax_ids", {"customer_id": "cus_1"}).path == "/v1/customers/cus_1/tax_ids"
    item = prepare_call("create", "invoice_item", {"customer_id": "cus_1", "price_id": "price_1"})
    assert item.body == {"customer": "cus_1", "price": "price_1"}
    refund = prepare_call("create", "refund", {"charge_id": "ch_1", "payment_intent_id": None})
    assert refund.body == {"charge": "ch_1"}
    assert refused("create", "refund", charge_id="ch_1", charge="ch_2").param == "charge_id"


def test_stripes_own_names_work_beside_the_seeds():
    assert prepare_call("get", "customer", {"customer": "cus_1"}).path == "/v1/customers/cus_1"
    call = prepare_call("create", "subscription", {"customer": "cus_1", "items": [{"price": "price_1", "quantity": 2}]})
    assert call.body == {"customer": "cus_1", "items": [{"price": "price_1", "quantity": 2}]}
    error = refused("create", "subscription", customer="cus_1", customer_id="cus_1", price_id="price_1")
    assert error.param == "customer_id" and "same parameter" in error.message


def test_empty_text_is_sent_to_unset_a_field():
    assert prepare_call("update", "customer", {"customer_id": "cus_1", "description": ""}).body == {"description": ""}
    assert prepare_call("update", "customer", {"customer_id": "cus_1", "address": ""}).body == {"address": ""}


def test_list_all_pages_uses_limit_as_page_size():
    call = prepare_call("list", "customers", {"all": "true", "limit": "50", "email": "a@b.co"})
    assert call.fetch_all and call.page_size == 50
    assert call.query == {"email": "a@b.co"}


# -- actions beyond the seed -----------------------------------------------------------------


def test_delete_cancel_and_named_operations():
    delete = prepare_call("delete", "customer", {"customer": "cus_1"})
    assert (delete.method, delete.path, delete.query) == ("DELETE", "/v1/customers/cus_1", None)
    cancel = prepare_call("cancel", "subscription", {"subscription_id": "sub_1", "invoice_now": "true"})
    assert (cancel.method, cancel.path, cancel.query) == ("DELETE", "/v1/subscriptions/sub_1", {"invoice_now": True})
    finalize = prepare_call("finalize", "invoices", {"invoice": "in_1", "auto_advance": "false"})
    assert (finalize.method, finalize.path, finalize.body) == ("POST", "/v1/invoices/in_1/finalize", {"auto_advance": False})
    assert finalize.idempotency_key is None  # finalizing twice changes nothing: no key to report
    pay = prepare_call("pay", "invoice", {"invoice": "in_1"})
    assert pay.idempotency_key_generated  # paying twice would charge twice
    expire = prepare_call("expire", "checkout_sessions", {"session": "cs_1"})
    assert expire.path == "/v1/checkout/sessions/cs_1/expire"


def test_creates_outside_the_seed():
    item = prepare_call("create", "invoice_item", {"customer": "cus_1", "amount": "500", "currency": "usd"})
    assert (item.path, item.body) == ("/v1/invoiceitems", {"customer": "cus_1", "amount": 500, "currency": "usd"})
    refund = prepare_call("create", "refund", {"charge": "ch_1", "amount": 100, "reason": "requested_by_customer"})
    assert refund.body == {"charge": "ch_1", "amount": 100, "reason": "requested_by_customer"}
    coupon = prepare_call("create", "coupon", {"percent_off": "25.5", "duration": "repeating", "duration_in_months": "3"})
    assert coupon.body == {"percent_off": 25.5, "duration": "repeating", "duration_in_months": 3}
    phone = prepare_call("create", "customer", {"email": "a@b.co", "name": "A", "phone": "+15555550100"})
    assert phone.body["phone"] == "+15555550100"


def test_nested_collections_and_test_helpers():
    tax_id = prepare_call("create", "customer_tax_id", {"customer": "cus_1", "type": "eu_vat", "value": "DE123456789"})
    assert (tax_id.path, tax_id.body) == ("/v1/customers/cus_1/tax_ids", {"type": "eu_vat", "value": "DE123456789"})
    lines = prepare_call("list", "invoice_line_items", {"invoice": "in_1", "limit": 5})
    assert (lines.path, lines.query) == ("/v1/invoices/in_1/lines", {"limit": 5})
    helper = prepare_call("test_expire", "refund", {"refund": "re_1"})
    assert helper.path == "/v1/test_helpers/refunds/re_1/expire"


def test_get_account_without_an_id_reads_the_keys_own_account():
    assert prepare_call("get", "account", {}).path == "/v1/account"
    assert prepare_call("get", "account", {"account": "acct_1"}).path == "/v1/accounts/acct_1"


def test_nested_objects_arrays_and_expand():
    call = prepare_call(
        "create",
        "customer",
        {
            "email": "a@b.co",
            "name": "A",
            "address.city": "Paris",
            "address[country]": "FR",
            "preferred_locales": "fr,en",
            "expand": "tax",
            "invoice_settings": '{"footer": "Merci"}',
        },
    )
    assert call.body["address"] == {"city": "Paris", "country": "FR"}
    assert call.body["preferred_locales"] == ["fr", "en"]
    assert call.body["expand"] == ["tax"] and call.body["invoice_settings"] == {"footer": "Merci"}
    pairs = encode_form(call.body)
    assert ("address[city]", "Paris") in pairs and ("expand[]", "tax") in pairs
    items = prepare_call(
        "create", "subscription", {"customer": "cus_1", "items.0.price": "p1", "items[1][price]": "p2", "items[1][quantity]": "3"}
    )
    assert items.body["items"] == [{"price": "p1"}, {"price": "p2", "quantity": 3}]


def test_unix_times_accept_iso_dates():
    call = prepare_call("create", "subscription", {"customer": "cus_1", "price_id": "p", "trial_end": "2030-01-01T00:00:00Z"})
    assert call.body["trial_end"] == 1893456000
    assert prepare_call("create", "subscription", {"customer": "cus_1", "price_id": "p", "trial_end": "now"}).body["trial_end"] == "now"


def test_dry_run_request_lists_every_value_of_a_repeated_form_key():
    call = prepare_call("list", "customers", {"expand": ["data.default_source", "data.tax"], "limit": 3})
    assert call.request() == {
        "method": "GET",
        "path": "/v1/customers",
        "query": {"expand[]": ["data.default_source", "data.tax"], "limit": "3"},
    }


def sample(schema):
    """A value the schema accepts, nested required fields filled in."""
    branch = next((b for b in schema.get("anyOf", [schema]) if b.get("enum") != [""]), schema)
    if "enum" in branch:
        return branch["enum"][0]
    if branch.get("format") == "currency":
        return "usd"
    kind = branch.get("type") or ("object" if "properties" in branch else "string")
    if kind == "object":
        return {name: sample(branch["properties"][name]) for name in branch.get("required", ())}
    return {"string": "x_1", "integer": 1, "number": 1, "boolean": True, "array": []}[kind]


def test_every_action_of_the_table_prepares_with_its_required_parameters():
    """Each of the 545 actions can be prepared from its own schema: path ids and required fields."""
    count = 0
    for entity, info in list_actions().items():
        for action in info["actions"]:
            described = describe_action(action, entity)
            if described.get("unsupported"):
                continue
            props = described["input_schema"]["properties"]
            params = {name: sample(props[name]) for name in described["required"]}
            if described.get("body") == "multipart":  # an upload: the file as content, not a path
                params["file"] = {"name": "evidence.txt", "content_base64": "ZXZpZGVuY2U="}
            call = prepare_call(action, entity, params)
            assert "{" not in call.path, (action, entity, call.path)
            assert (call.body if call.method == "POST" else call.query or {}).keys() <= props.keys()
            count += 1
    assert count == 545  # every action, the upload (create file) and the PDF (pdf quote) included


# -- refused before any request, naming the parameter ---------------------------------------


def test_missing_required_parameter_is_named_with_the_required_list():
    error = refused("create", "customer", email="customer@example.com")
    assert error.param == "name"
    assert "name" in error.message and set(error.accepted) == {"email", "name"}
    assert error.to_dict()["error"]["type"] == "invalid_request_error"
    assert refused("create", "customer", email="a@b.co", name="   ").param == "name"
    error = refused("create", "subscription", customer_id="cus_1")
    assert error.param == "price_id" and "'items' (or price_id)" in error.message
    assert refused("create", "plan", product_id="prod_1", amount=1, currency="usd").param == "interval"  # Stripe's own


def test_unknown_parameter_lists_what_is_accepted_and_suggests():
    error = refused("get", "customer", customer_id="cus_1", expnd="x")
    assert error.param == "expnd" and "Did you mean expand?" in error.message
    assert set(error.accepted) == {"customer", "expand", "id", "customer_id"}
    assert refused("update", "customer", customer_id="cus_1", emial="a@b.co").param == "emial"
    error = refused("create", "customer", email="a@b.co", name="A", **{"address.citty": "Paris"})
    assert error.param == "address[citty]" and "city" in error.accepted


def test_unknown_action_and_entity():
    error = refused("frobnicate", "customer")
    assert error.param == "action" and {"create", "delete", "search"} <= set(error.accepted)
    error = refused("create", "custmer")
    assert error.param == "entity" and "did you mean customer?" in error.message and "invoice" in error.accepted
    error = refused("update", "balance_transaction", id="txn_1")
    assert error.param == "action" and set(error.accepted) == {"get", "list"}
    assert refused(None, None).param == "action"
    assert refused("get", None).param == "entity"


def test_an_upload_and_a_pdf_are_marked_for_the_files_host():
    upload = prepare_call(
        "create", "file", {"purpose": "dispute_evidence", "file": {"name": "receipt.pdf", "content_base64": "JVBERi0xLjQ="}}
    )
    assert (upload.spec.body, upload.spec.host) == ("multipart", "https://files.stripe.com")
    assert upload.uploads["file"].content == b"%PDF-1.4" and upload.uploads["file"].content_type == "application/pdf"
    assert upload.body == {"purpose": "dispute_evidence"}  # the file is a part of its own, not a form field
    assert upload.request()["files"] == {"file": {"name": "receipt.pdf", "bytes": 8, "type": "application/pdf"}}
    pdf = prepare_call("pdf", "quote", {"quote": "qt_1", "save_to": "q.pdf"})
    assert (pdf.path, pdf.save_to, pdf.spec.answer) == ("/v1/quotes/qt_1/pdf", "q.pdf", "application/pdf")
    assert refused("create", "file", purpose="dispute_evidence").param == "file"  # required


def test_credentials_passed_as_parameters_are_refused_without_echoing_them():
    error = refused("get", "customer", customer_id="cus_1", api_key="sk_test_leak")
    assert error.param == "api_key" and "sk_test_leak" not in error.message
    assert "--config" in error.message


@pytest.mark.parametrize("value", ["0", "101", "ten", "1.5", True, -3])
def test_limit_outside_1_to_100_is_refused(value):
    error = refused("list", "customers", limit=value)
    assert error.param == "limit" and "1 to 100" in error.message


@pytest.mark.parametrize("value", ["1", "100", 1, 100])
def test_limit_inside_range_is_accepted(value):
    assert prepare_call("list", "customers", {"limit": value}).query == {"limit": int(value)}


@pytest.mark.parametrize("value", ["10.00", "9.5", 10.0, ".5"])
def test_decimal_amount_is_refused_with_a_message_saying_so(value):
    error = refused("create", "price", product_id="prod_1", amount=value, currency="usd")
    assert error.param == "amount"  # the name the caller used, not unit_amount
    assert "whole number" in error.message and "smallest currency unit" in error.message
    assert "decimal" in error.message and "'amount'" in error.message


@pytest.mark.parametrize("value", ["1e3", "1,000", "", True])
def test_other_bad_amounts_are_refused(value):
    assert refused("create", "plan", product_id="prod_1", amount=value, currency="usd", interval="month").param == "amount"


@pytest.mark.parametrize(
    "params, param",
    [
        ({"currency": "usdollar"}, "currency"),
        ({"currency": "u1d"}, "currency"),
        ({"interval": "monthly"}, "interval"),
        ({"nickname": 5}, "nickname"),
        ({"metadata": "not json"}, "metadata"),
        ({"metadata": '{"a": {"b": 1}}'}, "metadata[a]"),
        ({"metadata": {"a[b]": "x"}}, "metadata[a[b]]"),
        ({"metadata": {"k" * 41: "x"}}, f"metadata[{'k' * 41}]"),
        ({"metadata": {"a": "x" * 501}}, "metadata[a]"),
        ({"nickname": "n" * 5001}, "nickname"),
    ],
)
def test_bad_values_are_refused(params, param):
    base = {"product_id": "prod_1", "amount": "100", "currency": "usd", "interval": "month"}
    error = refused("create", "plan", **{**base, **params})
    assert error.param == param


def test_path_ids_are_checked_before_they_go_into_the_url():
    for bad in ("prod_1/../customers", "prod 1", "", "?x=1"):
        assert refused("get", "product", product_id=bad).param == "product_id"


def test_interval_refusal_lists_the_accepted_values():
    error = refused("create", "price", product_id="prod_1", amount=1, currency="usd", interval="fortnight")
    assert error.param == "interval" and set(error.accepted) == {"day", "week", "month", "year"}


@pytest.mark.parametrize(
    "action, entity, params, param",
    [
        ("list", "subscriptions", {"status": "bogus"}, "status"),
        ("list", "balance_transactions", {"type": "bogus"}, "type"),
        ("list", "products", {"active": "yes"}, "active"),
        ("list", "customers", {"all": "1"}, "all"),
        ("create", "customer", {"email": "a@b.co", "name": "A", "idempotency_key": "has space"}, "idempotency_key"),
        ("create", "customer", {"email": "a@b.co", "name": "A", "balance": "lots"}, "balance"),
        ("create", "customer", {"email": "a@b.co", "name": "A", "tax_exempt": "maybe"}, "tax_exempt"),
        ("create", "subscription", {"customer": "c", "items": [{"quantity": "two"}]}, "items[0][quantity]"),
        ("create", "coupon", {"duration": "once", "percent_off": "half"}, "percent_off"),
    ],
)
def test_enum_boolean_and_format_errors(action, entity, params, param):
    error = refused(action, entity, **params)
    assert error.param == param
    assert error.to_dict()["error"]["param"] == param


def test_accepted_values_normalise_case():
    assert prepare_call("list", "subscriptions", {"status": "ACTIVE"}).query == {"status": "active"}
    assert prepare_call("list", "products", {"active": "TRUE"}).query == {"active": True}


@pytest.mark.parametrize(
    "given, expected",
    [
        ("customer", "customer"),
        ("customers", "customer"),
        ("Customers", "customer"),
        ("balance_transactions", "balance_transaction"),
        ("balance-transactions", "balance_transaction"),
        ("invoiceitems", "invoice_item"),
        ("invoice_items", "invoice_item"),
        ("checkout.session", "checkout_session"),
        ("tax rates", "tax_rate"),
        ("billing_meters", "billing_meter"),
        ("prices", "price"),
        ("plan", "plan"),
    ],
)
def test_entities_in_singular_and_plural(given, expected):
    assert resolve_entity(given) == expected


def test_action_input_error_is_a_config_error():
    assert issubclass(ActionInputError, ConfigError)


def test_package_exports_stripe_connection():
    assert ExportedConnection is StripeConnection


# -- errors as Stripe's error object ---------------------------------------------------------


def test_error_to_dict_keeps_the_type_of_each_failure():
    assert error_to_dict(refused("get", "customer"))["error"]["type"] == "invalid_request_error"
    assert error_to_dict(TransientError("gave up"))["error"] == {"type": "api_connection_error", "message": "gave up"}
    assert error_to_dict(ConfigError("no key"))["error"]["type"] == "connection_config_error"
    assert error_to_dict(RuntimeError("boom"))["error"] == {"type": "api_error", "message": "Unexpected RuntimeError: boom"}


# -- StripeConnection over requests-mock ----------------------------------------------------

CUSTOMER = {
    "id": "cus_1234567890",
    "object": "customer",
    "email": "customer@example.com",
    "name": "John Doe",
    "description": None,
    "metadata": {},
    "extra_field_we_do_not_know": [1, 2],
}


def test_run_returns_stripes_json_unchanged_and_sends_a_form_body(requests_mock):
    requests_mock.post(f"{STRIPE}/v1/customers", json=CUSTOMER)
    connection = StripeConnection(CONFIG)
    result = connection.run(
        action="create", entity="customer", email="customer@example.com", name="John Doe", params={"metadata.plan": "gold"}
    )
    assert result == CUSTOMER
    sent = requests_mock.last_request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.text == "email=customer%40example.com&name=John+Doe&metadata%5Bplan%5D=gold"
    assert sent.headers["Idempotency-Key"] == connection.last_idempotency_key
    assert connection.last_idempotency_key.startswith("stripe-connection-")


def test_delete_sends_its_parameters_in_the_query(requests_mock):
    requests_mock.delete(f"{STRIPE}/v1/subscriptions/sub_1", json={"id": "sub_1", "status": "canceled"})
    StripeConnection(CONFIG).run(action="cancel", entity="subscription", id="sub_1", invoice_now=True, prorate="false")
    sent = requests_mock.last_request
    assert sent.qs == {"invoice_now": ["true"], "prorate": ["false"]} and not sent.body


def test_validation_errors_send_nothing(requests_mock):
    connection = StripeConnection(CONFIG)
    with pytest.raises(ActionInputError):
        connection.run(action="list", entity="customers", limit=500)
    assert requests_mock.call_count == 0


def test_stripe_errors_raise_a_typed_error_with_stripes_fields(requests_mock):
    requests_mock.get(
        f"{STRIPE}/v1/customers/cus_missing",
        status_code=404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "id",
                "message": "No such customer: 'cus_missing'",
            }
        },
    )
    with pytest.raises(InvalidRequestError) as info:
        StripeConnection(CONFIG).run(action="get", entity="customer", customer_id="cus_missing")
    error = info.value
    assert (error.http_status, error.error_type, error.code, error.param) == (404, "invalid_request_error", "resource_missing", "id")
    assert error_to_dict(error)["error"]["message"] == "No such customer: 'cus_missing'"


def test_list_returns_has_more_unchanged(requests_mock):
    page = {"object": "list", "url": "/v1/customers", "has_more": True, "data": [CUSTOMER]}
    requests_mock.get(f"{STRIPE}/v1/customers", json=page)
    assert StripeConnection(CONFIG).run(action="list", entity="customers", limit=1) == page
    assert requests_mock.last_request.qs == {"limit": ["1"]}


def test_list_all_follows_starting_after_through_every_page(requests_mock):
    pages = {
        None: {"object": "list", "url": "/v1/products", "has_more": True, "data": [{"id": "prod_1"}, {"id": "prod_2"}]},
        "prod_2": {"object": "list", "url": "/v1/products", "has_more": True, "data": [{"id": "prod_3"}]},
        "prod_3": {"object": "list", "url": "/v1/products", "has_more": False, "data": []},
    }

    def answer(request, context):
        assert request.qs["active"] == ["true"] and request.qs["limit"] == ["2"]
        return pages[request.qs.get("starting_after", [None])[0]]

    requests_mock.get(f"{STRIPE}/v1/products", json=answer)
    result = StripeConnection(CONFIG).run(action="list", entity="products", active=True, limit=2, all=True)
    assert [p["id"] for p in result["data"]] == ["prod_1", "prod_2", "prod_3"]
    assert result["has_more"] is False and result["object"] == "list" and result["url"] == "/v1/products"
    assert requests_mock.call_count == 3


@pytest.mark.parametrize(
    "credentials, base",
    [
        (
            {"auth_type": "paragon", "project_id": "proj_1", "user_token": "tok-secret"},
            "https://proxy.useparagon.com/projects/proj_1/sdk/proxy/stripe",
        ),
        ({"auth_type": "pinkconnect", "proxy_url": "https://pink.example", "token": "pink-secret"}, "https://pink.example"),
    ],
)
def test_proxy_modes_send_the_same_call_to_the_proxy(requests_mock, credentials, base):
    requests_mock.post(f"{base}/v1/products/prod_1", json={"id": "prod_1", "object": "product", "name": "New"})
    result = StripeConnection({"credentials": credentials}).run(action="update", entity="product", product_id="prod_1", name="New")
    assert result["name"] == "New"
    assert requests_mock.last_request.text == "name=New"


def test_from_env_builds_the_connection_of_the_one_configured_mode():
    connection = StripeConnection.from_env({"PINKCONNECT_PROXY_URL": "https://pink.example", "PINKCONNECT_TOKEN": "t"})
    assert (connection.client.settings.mode, connection.client.settings.base_url) == ("pinkconnect", "https://pink.example")
    with pytest.raises(ConfigError):
        StripeConnection.from_env({})


# -- the docs --------------------------------------------------------------------------------

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "actions.md").read_text()


@pytest.mark.parametrize("spec", seed_calls(), ids=lambda s: f"{s.action}-{s.entity}")
def test_docs_show_every_seed_call_in_both_forms(spec):
    entity = spec.entity + "s" if spec.action == "list" else spec.entity
    assert f"\naction: {spec.action}\nentity: {entity}\n" in DOCS
    argument_form = re.search(rf"`stripe-connection {spec.action} {entity}( [^`]*)?`", DOCS)
    assert argument_form, f"no argument-form example for {spec.action} {entity}"
    given = set(re.findall(r" ([\w.\[\]]+)=", argument_form.group(0)))
    assert {n.split(".")[0].split("[")[0] for n in given} <= set(spec.accepted)
    assert re.search(rf"^\| {spec.action} \| {entity} \|", DOCS, re.MULTILINE)


def test_docs_list_the_env_variables_and_the_seed_aliases():
    for variable in (
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "PARAGON_PROJECT_ID",
        "PARAGON_USER_TOKEN",
        "PARAGON_PROXY_HOST",
        "PINKCONNECT_PROXY_URL",
        "PINKCONNECT_TOKEN",
        "PINKCONNECT_EXTRA_HEADERS",
        "STRIPE_CONNECTION_TIMEOUT",
    ):
        assert variable in DOCS
    for spec in seed_calls():
        for alias, target in spec.aliases.items():
            assert f"`{alias}`" in DOCS and target in DOCS
