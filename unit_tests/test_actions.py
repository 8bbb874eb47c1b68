"""The action table, validation and parameter mapping (no network), and StripeConnection over requests-mock."""

import re

import pytest

from source_stripe_proxy.data import load_generated

from source_stripe_proxy import StripeConnection as ExportedConnection
from source_stripe_proxy.actions.connection import (
    ACTIONS,
    BALANCE_TRANSACTION_TYPES,
    GENERAL_PARAMS,
    INTERVALS,
    SUBSCRIPTION_STATUSES,
    ActionInputError,
    StripeConnection,
    normalize_entity,
    prepare_call,
)
from source_stripe_proxy.core.errors import ConfigError, InvalidRequestError
from source_stripe_proxy.core.forms import encode_form

API_KEY = "sk_test_actionsSECRET77"
CONFIG = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": 0}
STRIPE = "https://api.stripe.com"

# The issue's table: (action, entity, required, optional).
ISSUE_TABLE = [
    ("create", "customer", {"email", "name"}, {"description", "metadata"}),
    ("update", "customer", {"customer_id"}, {"name", "email", "description", "metadata"}),
    ("get", "customer", {"customer_id"}, set()),
    ("list", "customer", set(), {"limit", "starting_after", "email"}),
    ("create", "subscription", {"customer_id", "price_id"}, {"trial_period_days", "metadata"}),
    ("get", "subscription", {"subscription_id"}, set()),
    ("list", "subscription", set(), {"customer_id", "status", "limit", "starting_after"}),
    ("create", "product", {"name"}, {"description", "active", "metadata"}),
    ("update", "product", {"product_id"}, {"name", "description", "active", "metadata"}),
    ("get", "product", {"product_id"}, set()),
    ("list", "product", set(), {"active", "limit", "starting_after"}),
    ("create", "price", {"product_id", "amount", "currency"}, {"interval", "nickname", "metadata"}),
    ("get", "price", {"price_id"}, set()),
    ("list", "price", set(), {"product_id", "active", "limit", "starting_after"}),
    ("create", "plan", {"product_id", "amount", "currency", "interval"}, {"nickname", "active", "metadata"}),
    ("list", "plan", set(), {"product_id", "active", "limit", "starting_after"}),
    ("list", "balance_transaction", set(), {"type", "limit", "starting_after"}),
]


WRITE = load_generated("write_parameters.json")
LIST = load_generated("list_parameters.json")


def stripe_params(spec):
    """What Stripe's OpenAPI (via our generated files) accepts at this spec's endpoint."""
    if spec.action == "list":
        return LIST[spec.path]["query"], []
    shape = re.sub(r"{\w+}", "{}", spec.path)
    for key, entry in WRITE.items():
        method, path = key.split(" ", 1)
        if method == spec.method and re.sub(r"{\w+}", "{}", path) == shape:
            return entry.get("body") or entry.get("query") or {}, entry.get("required") or []
    raise AssertionError(f"no generated parameters for {spec.method} {spec.path}")


def accepts(params, stripe_name):
    top, *rest = re.split(r"\[|\]\[|\]", stripe_name.rstrip("]"))
    if top not in params:
        return False
    sub = [part for part in rest if part and not part.isdigit()]
    return not sub or not params[top].get("subkeys") or sub[0] in params[top]["subkeys"]


# -- the table ------------------------------------------------------------------------------


def test_table_has_every_call_of_the_issue_with_its_parameters():
    specs = {(s.action, s.entity): s for s in ACTIONS}
    assert set(specs) == {(a, e) for a, e, _, _ in ISSUE_TABLE}
    for action, entity, required, optional in ISSUE_TABLE:
        spec = specs[(action, entity)]
        assert set(spec.required) == required, (action, entity)
        assert optional <= set(spec.optional), (action, entity)


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda s: f"{s.action}-{s.entity}")
def test_table_matches_stripes_openapi_parameters(spec):
    params, stripe_required = stripe_params(spec)
    body_names = [n for n in spec.required + spec.optional if n not in spec.path_params]
    for name in body_names:
        assert accepts(params, spec.stripe_name(name)), f"Stripe does not accept {spec.stripe_name(name)!r} at {spec.path}"
    mapped_required = {spec.stripe_name(n) for n in spec.required}
    assert set(stripe_required) <= mapped_required, f"{spec.path} requires {stripe_required}"
    # The seed's general parameters apply wherever Stripe accepts the field.
    for general in GENERAL_PARAMS:
        if accepts(params, spec.stripe_name(general)):
            assert general in spec.accepted, f"{general} missing from {spec.action} {spec.entity}"


def test_enums_come_from_the_generated_openapi_files():
    assert SUBSCRIPTION_STATUSES == tuple(LIST["/v1/subscriptions"]["query"]["status"]["enum"])
    assert set(INTERVALS) == {"day", "week", "month", "year"}
    assert {"payment", "charge", "refund", "payout"} <= set(BALANCE_TRANSACTION_TYPES)


@pytest.mark.parametrize(
    "given, expected",
    [("customer", "customer"), ("customers", "customer"), ("Customers", "customer"),
     ("balance_transactions", "balance_transaction"), ("balance-transactions", "balance_transaction"),
     ("prices", "price"), ("plan", "plan")],
)
def test_entities_in_singular_and_plural(given, expected):
    assert normalize_entity(given) == expected


def test_package_exports_stripe_connection():
    assert ExportedConnection is StripeConnection


# -- mapping: every seed example ------------------------------------------------------------


def test_create_customer_maps_to_form_body_with_generated_idempotency_key():
    call = prepare_call("create", "customer", {
        "email": "customer@example.com", "name": "John Doe", "description": "New customer for subscription service"})
    assert (call.method, call.path) == ("POST", "/v1/customers")
    assert call.body == {"email": "customer@example.com", "name": "John Doe",
                         "description": "New customer for subscription service"}
    assert call.idempotency_key_generated and call.idempotency_key.startswith("stripe-connection-")
    assert prepare_call("create", "customer", {"email": "a@b.co", "name": "x"}).idempotency_key != call.idempotency_key


def test_given_idempotency_key_is_used_verbatim():
    call = prepare_call("create", "customers", {"email": "a@b.co", "name": "A", "idempotency_key": "retry-42"})
    assert call.idempotency_key == "retry-42" and not call.idempotency_key_generated
    assert "idempotency_key" not in call.body


def test_update_and_get_customer_put_the_id_in_the_path():
    update = prepare_call("update", "customer", {"customer_id": "cus_1234567890", "name": "Jane Doe",
                                                 "description": "Updated customer information"})
    assert (update.method, update.path) == ("POST", "/v1/customers/cus_1234567890")
    assert update.body == {"name": "Jane Doe", "description": "Updated customer information"}
    assert update.idempotency_key is None
    get = prepare_call("get", "customer", {"customer_id": "cus_1234567890"})
    assert (get.method, get.path, get.query, get.body) == ("GET", "/v1/customers/cus_1234567890", None, None)


def test_list_customers_limit_is_an_integer_query_parameter():
    call = prepare_call("list", "customers", {"limit": "10"})
    assert (call.method, call.path, call.query) == ("GET", "/v1/customers", {"limit": 10})


def test_create_subscription_maps_customer_and_price_item():
    call = prepare_call("create", "subscription", {"customer_id": "cus_1234567890", "price_id": "price_1234567890",
                                                   "trial_period_days": "14"})
    assert call.body == {"customer": "cus_1234567890", "items[0][price]": "price_1234567890", "trial_period_days": 14}
    assert encode_form(call.body) == [("customer", "cus_1234567890"), ("items[0][price]", "price_1234567890"),
                                      ("trial_period_days", "14")]


def test_list_subscriptions_filters_by_customer_and_status():
    call = prepare_call("list", "subscriptions", {"customer_id": "cus_1234567890", "status": "active"})
    assert call.query == {"customer": "cus_1234567890", "status": "active"}


def test_create_product_sends_booleans_as_true_false():
    call = prepare_call("create", "product", {"name": "Premium Plan", "description": "Access to all premium features",
                                              "active": "true"})
    assert call.body == {"name": "Premium Plan", "description": "Access to all premium features", "active": True}
    assert ("active", "true") in encode_form(call.body)


def test_get_and_list_products():
    assert prepare_call("get", "product", {"product_id": "prod_1234567890"}).path == "/v1/products/prod_1234567890"
    call = prepare_call("list", "products", {"active": "true", "limit": "10"})
    assert encode_form(call.query) == [("active", "true"), ("limit", "10")]


def test_recurring_price_maps_amount_and_interval():
    call = prepare_call("create", "price", {"product_id": "prod_1", "amount": "1000", "currency": "USD",
                                            "interval": "Month", "nickname": "Monthly"})
    assert call.body == {"product": "prod_1", "unit_amount": 1000, "currency": "usd",
                         "recurring[interval]": "month", "nickname": "Monthly"}


def test_price_without_interval_is_one_time():
    call = prepare_call("create", "price", {"product_id": "prod_1", "amount": 500, "currency": "eur"})
    assert call.body == {"product": "prod_1", "unit_amount": 500, "currency": "eur"}
    assert not any(key.startswith("recurring") for key, _ in encode_form(call.body))


def test_plan_keeps_amount_and_interval_names():
    call = prepare_call("create", "plan", {"product_id": "prod_1", "amount": "1000", "currency": "usd",
                                           "interval": "month", "active": "false"})
    assert call.body == {"product": "prod_1", "amount": 1000, "currency": "usd", "interval": "month", "active": False}


def test_list_plans_prices_and_balance_transactions():
    assert prepare_call("list", "plans", {"product_id": "prod_1", "active": "true"}).query == {"product": "prod_1", "active": True}
    assert prepare_call("list", "prices", {"product_id": "prod_1", "interval": "year"}).query == {
        "product": "prod_1", "recurring[interval]": "year"}
    assert prepare_call("list", "balance_transactions", {"type": "payment", "limit": "10"}).query == {"type": "payment", "limit": 10}
    assert prepare_call("get", "price", {"price_id": "price_1"}).path == "/v1/prices/price_1"
    assert prepare_call("get", "subscription", {"subscription_id": "sub_1"}).path == "/v1/subscriptions/sub_1"


def test_metadata_in_every_form_becomes_bracketed_form_keys():
    base = {"email": "a@b.co", "name": "A"}
    for params in ({"metadata.plan": "gold", "metadata[tier]": "1"},
                   {"metadata": '{"plan": "gold", "tier": 1}'},
                   {"metadata": {"plan": "gold", "tier": "1"}},
                   {"metadata": {"plan": "gold"}, "metadata.tier": "1"}):
        call = prepare_call("create", "customer", {**base, **params})
        assert call.body["metadata"] == {"plan": "gold", "tier": "1"}, params
        assert ("metadata[plan]", "gold") in encode_form(call.body)


def test_id_is_an_alias_of_the_path_parameter():
    assert prepare_call("get", "customer", {"id": "cus_9"}).path == "/v1/customers/cus_9"
    assert prepare_call("update", "product", {"id": "prod_9", "name": "N"}).path == "/v1/products/prod_9"
    with pytest.raises(ActionInputError) as info:
        prepare_call("get", "customer", {"id": "cus_9", "customer_id": "cus_8"})
    assert info.value.param == "id"


def test_empty_text_clears_a_field_on_update_only():
    assert prepare_call("update", "customer", {"customer_id": "cus_1", "description": ""}).body == {"description": ""}
    with pytest.raises(ActionInputError) as info:
        prepare_call("create", "customer", {"email": "a@b.co", "name": "A", "description": ""})
    assert info.value.param == "description"


def test_list_all_pages_uses_limit_as_page_size():
    call = prepare_call("list", "customers", {"all": "true", "limit": "50", "email": "a@b.co"})
    assert call.fetch_all and call.page_size == 50
    assert call.query == {"email": "a@b.co"}


# -- validation: refused before any request, naming the parameter ---------------------------


def refused(action, entity, **params):
    with pytest.raises(ActionInputError) as info:
        prepare_call(action, entity, params)
    return info.value


def test_missing_required_parameter_is_named_with_the_required_list():
    error = refused("create", "customer", email="customer@example.com")
    assert error.param == "name"
    assert "name" in error.message and set(error.accepted) == {"email", "name"}
    assert error.to_dict()["error"]["type"] == "invalid_request_error"
    assert refused("create", "customer", email="a@b.co", name="   ").param == "name"


def test_unknown_parameter_lists_what_is_accepted():
    error = refused("get", "customer", customer_id="cus_1", expand="x")
    assert error.param == "expand"
    assert error.accepted == ("customer_id", "id")
    assert "customer_id" in error.message
    assert refused("update", "customer", customer_id="cus_1", idempotency_key="k").param == "idempotency_key"


def test_unknown_action_entity_and_unsupported_combination():
    error = refused("delete", "customer")
    assert error.param == "action" and "create" in error.accepted
    error = refused("create", "invoice")
    assert error.param == "entity" and "customer" in error.accepted and "invoice" not in error.accepted
    error = refused("update", "subscription", subscription_id="sub_1")
    assert error.param == "action" and set(error.accepted) == {"create", "get", "list"}
    assert refused(None, None).param == "action"
    assert refused("get", None).param == "entity"


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
    assert error.param == "amount"
    assert "whole number" in error.message and "smallest currency unit" in error.message
    assert "decimal" in error.message


@pytest.mark.parametrize("value", ["-1", "1e3", "1,000", "", True])
def test_other_bad_amounts_are_refused(value):
    assert refused("create", "plan", product_id="prod_1", amount=value, currency="usd", interval="month").param == "amount"


@pytest.mark.parametrize(
    "params, param",
    [({"currency": "usdollar"}, "currency"), ({"currency": "u1d"}, "currency"),
     ({"interval": "monthly"}, "interval"), ({"nickname": 5}, "nickname"),
     ({"metadata": "not json"}, "metadata"), ({"metadata": '{"a": {"b": 1}}'}, "metadata[a]"),
     ({"metadata": {"a[b]": "x"}}, "metadata[a[b]]"), ({"product_id": "prod_1/../customers"}, "product_id"),
     ({"product_id": "prod 1"}, "product_id")],
)
def test_bad_values_are_refused(params, param):
    base = {"product_id": "prod_1", "amount": "100", "currency": "usd", "interval": "month"}
    error = refused("create", "plan", **{**base, **params})
    assert error.param == param


def test_interval_refusal_lists_the_accepted_values():
    error = refused("create", "price", product_id="prod_1", amount=1, currency="usd", interval="fortnight")
    assert set(error.accepted) == {"day", "week", "month", "year"}


@pytest.mark.parametrize(
    "action, entity, params, param",
    [("list", "subscriptions", {"status": "bogus"}, "status"),
     ("list", "balance_transactions", {"type": "bogus"}, "type"),
     ("list", "products", {"active": "yes"}, "active"),
     ("list", "customers", {"all": "1"}, "all"),
     ("create", "customer", {"email": "not-an-email", "name": "A"}, "email"),
     ("create", "subscription", {"customer_id": "cus_1", "price_id": "price_1", "trial_period_days": "-1"}, "trial_period_days"),
     ("create", "customer", {"email": "a@b.co", "name": "A", "idempotency_key": "has space"}, "idempotency_key"),
     ("list", "customers", {"starting_after": "cus_1?x=1"}, "starting_after")],
)
def test_enum_boolean_and_format_errors(action, entity, params, param):
    error = refused(action, entity, **params)
    assert error.param == param
    assert error.to_dict()["error"]["param"] == param


def test_accepted_values_normalise_case():
    assert prepare_call("list", "subscriptions", {"status": "ACTIVE"}).query == {"status": "active"}
    assert prepare_call("list", "products", {"active": "TRUE"}).query == {"active": True}


def test_action_input_error_is_a_config_error():
    assert issubclass(ActionInputError, ConfigError)


# -- StripeConnection over requests-mock ----------------------------------------------------

CUSTOMER = {"id": "cus_1234567890", "object": "customer", "email": "customer@example.com", "name": "John Doe",
            "description": None, "metadata": {}, "extra_field_we_do_not_know": [1, 2]}


def test_run_returns_stripes_json_unchanged_and_sends_a_form_body(requests_mock):
    requests_mock.post(f"{STRIPE}/v1/customers", json=CUSTOMER)
    connection = StripeConnection(CONFIG)
    result = connection.run(action="create", entity="customer", email="customer@example.com", name="John Doe",
                            **{"metadata.plan": "gold"})
    assert result == CUSTOMER
    sent = requests_mock.last_request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.text == "email=customer%40example.com&name=John+Doe&metadata%5Bplan%5D=gold"
    assert sent.headers["Idempotency-Key"] == connection.last_idempotency_key
    assert connection.last_idempotency_key.startswith("stripe-connection-")


def test_validation_errors_send_nothing(requests_mock):
    connection = StripeConnection(CONFIG)
    with pytest.raises(ActionInputError):
        connection.run(action="list", entity="customers", limit=500)
    assert requests_mock.call_count == 0


def test_stripe_errors_raise_a_typed_error_with_stripes_fields(requests_mock):
    requests_mock.get(f"{STRIPE}/v1/customers/cus_missing", status_code=404, json={"error": {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such customer: 'cus_missing'"}})
    with pytest.raises(InvalidRequestError) as info:
        StripeConnection(CONFIG).run(action="get", entity="customer", customer_id="cus_missing")
    error = info.value
    assert (error.http_status, error.error_type, error.code, error.param) == (404, "invalid_request_error", "resource_missing", "id")
    assert error.to_dict()["error"]["message"] == "No such customer: 'cus_missing'"


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
    [({"auth_type": "paragon", "project_id": "proj_1", "user_token": "tok-secret"},
      "https://proxy.useparagon.com/projects/proj_1/sdk/proxy/stripe"),
     ({"auth_type": "pinkconnect", "proxy_url": "https://pink.example", "token": "pink-secret"}, "https://pink.example")],
)
def test_proxy_modes_send_the_same_call_to_the_proxy(requests_mock, credentials, base):
    requests_mock.post(f"{base}/v1/products/prod_1", json={"id": "prod_1", "object": "product", "name": "New"})
    result = StripeConnection({"credentials": credentials}).run(action="update", entity="product", product_id="prod_1", name="New")
    assert result["name"] == "New"
    assert requests_mock.last_request.text == "name=New"


# -- the README section ---------------------------------------------------------------------

DOCS = (__import__("pathlib").Path(__file__).resolve().parent.parent / "docs" / "actions.md").read_text()


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda s: f"{s.action}-{s.entity}")
def test_docs_show_every_call_in_both_forms(spec):
    entity = spec.entity + "s" if spec.action == "list" else spec.entity
    assert f"\naction: {spec.action}\nentity: {entity}\n" in DOCS
    argument_form = re.search(rf"`stripe-connection {spec.action} {entity}( [^`]*)?`", DOCS)
    assert argument_form, f"no argument-form example for {spec.action} {entity}"
    given = set(re.findall(r" (\w+)=", argument_form.group(0)))
    assert set(spec.required) <= given and given <= set(spec.accepted)
    assert re.search(rf"^\| {spec.action} \| {entity} \|", DOCS, re.M)


def test_docs_list_the_accepted_enum_values_and_env_variables():
    for status in SUBSCRIPTION_STATUSES:
        assert status in DOCS
    for variable in ("STRIPE_API_KEY", "STRIPE_API_BASE", "PARAGON_PROJECT_ID", "PARAGON_USER_TOKEN", "PARAGON_PROXY_HOST",
                     "PINKCONNECT_PROXY_URL", "PINKCONNECT_TOKEN", "PINKCONNECT_EXTRA_HEADERS"):
        assert variable in DOCS


def test_from_env_builds_the_connection_of_the_one_configured_mode():
    connection = StripeConnection.from_env({"PINKCONNECT_PROXY_URL": "https://pink.example", "PINKCONNECT_TOKEN": "t"})
    assert (connection.client.settings.mode, connection.client.settings.base_url) == ("pinkconnect", "https://pink.example")
    with pytest.raises(ConfigError):
        StripeConnection.from_env({})
