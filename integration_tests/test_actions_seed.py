"""Every example of the seed document, run through `stripe-connection` on loopback.

Upstreams: localstripe (the PyPI fake) and our StripeEmulator; each reached directly
(STRIPE_API_KEY), through the Paragon emulator and through the PinkConnect emulator.
Each example's response is compared with the seed's example response: the same `object`,
the same keys present (nested too).

What runs where:
  * localstripe: create/update/get/list customers, create/get/list products, list plans,
    list subscriptions (customer_id + status), list balance_transactions without `type`.
  * emulator only: create subscription (localstripe has no prices, so `items[0][price]`
    fails there), list balance_transactions with `type` (localstripe refuses the filter),
    and every price call (localstripe answers 404 on /v1/prices).
"""

import json
import subprocess

import pytest

from integration_tests.harness import API_KEY, CONSOLE_SCRIPT, MODES, SECRETS, cli, ok, subprocess_env
from integration_tests.seed_examples import SEED_EXAMPLES, assert_same_shape, with_ids
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.settings import ConnectionSettings


@pytest.fixture(params=["localstripe", "emulator"])
def upstream(request):
    return request.getfixturevalue(f"{request.param}_upstream")


def run_example(env, name, ids):
    block, expected = SEED_EXAMPLES[name]
    data = ok(env, block=with_ids(block, ids))
    assert_same_shape(expected, data, name)
    return data


@pytest.mark.parametrize("mode", MODES)
def test_every_seed_example(upstream, mode):
    env = upstream.env(mode)
    ids = {}

    # Customers
    customer = run_example(env, "create customer", ids)
    assert (customer["email"], customer["name"], customer["description"]) == (
        "customer@example.com",
        "John Doe",
        "New customer for subscription service",
    )
    ids["cus_1234567890"] = customer["id"]
    updated = run_example(env, "update customer", ids)
    assert (updated["id"], updated["name"], updated["description"]) == (customer["id"], "Jane Doe", "Updated customer information")
    fetched = run_example(env, "get customer", ids)
    assert (fetched["name"], fetched["email"]) == ("Jane Doe", "customer@example.com")
    customers = run_example(env, "list customers", ids)
    assert 1 <= len(customers["data"]) <= 10 and "has_more" in customers

    # Products
    product = run_example(env, "create product", ids)
    assert (product["name"], product["active"]) == ("Premium Plan", True)
    ids["prod_1234567890"] = product["id"]
    assert run_example(env, "get product", ids)["id"] == product["id"]
    products = run_example(env, "list products", ids)
    assert all(p["active"] is True for p in products["data"]) and len(products["data"]) <= 10

    # Plans (create plan is a complement; the seed lists them)
    plan = ok(env, "create", "plan", f"product_id={product['id']}", "amount=1000", "currency=USD", "interval=month")
    assert (plan["object"], plan["amount"], plan["currency"], plan["interval"]) == ("plan", 1000, "usd", "month")
    plans = run_example(env, "list plans", ids)
    assert plan["id"] in [p["id"] for p in plans["data"]]
    assert all(p["product"] == product["id"] and p["active"] is True for p in plans["data"])

    # Subscriptions
    if upstream.name == "emulator":
        price = ok(env, "create", "price", f"product_id={product['id']}", "amount=1000", "currency=usd", "interval=month")
        ids["price_1234567890"] = price["id"]
        subscription = run_example(env, "create subscription", ids)
        assert subscription["customer"] == customer["id"]
        assert subscription["items"]["data"][0]["price"]["id"] == price["id"]
        assert subscription["status"] == "trialing"  # Stripe's status for a 14-day trial
        active = ok(env, "create", "subscription", f"customer_id={customer['id']}", f"price_id={price['id']}")
        assert active["status"] == "active"
    else:
        # localstripe bills at once and needs a payment method unless the plan is free; it only
        # takes `items[0][plan]`, so the subscription to list is seeded with the client directly.
        free = ok(env, "create", "plan", f"product_id={product['id']}", "amount=0", "currency=usd", "interval=month")
        settings = ConnectionSettings.from_config({"credentials": {"api_key": API_KEY}, "api_base": upstream.url})
        active = StripeClient(settings).post("/v1/subscriptions", {"customer": customer["id"], "items": [{"plan": free["id"]}]})
        assert active["status"] == "active"
    subscriptions = run_example(env, "list subscriptions", ids)
    assert active["id"] in [s["id"] for s in subscriptions["data"]]
    assert all(s["customer"] == customer["id"] and s["status"] == "active" for s in subscriptions["data"])

    # Balance transactions
    if upstream.name == "emulator":
        transactions = run_example(env, "list balance transactions", ids)
        assert [t["type"] for t in transactions["data"]] == ["payment"]
    else:  # localstripe refuses the `type` filter ("Unexpected type"), so list without it
        transactions = ok(env, "list", "balance_transactions", "limit=10")
        assert transactions["object"] == "list" and isinstance(transactions["data"], list)


@pytest.mark.parametrize("mode", MODES)
def test_complements_on_the_emulator(emulator_upstream, mode):
    """Calls beyond the seed's examples; prices only exist on the emulator."""
    env = emulator_upstream.env(mode)
    product = ok(env, "create", "products", "name=Basic Plan", "metadata.tier=basic", "active=false")
    assert product["metadata"] == {"tier": "basic"} and product["active"] is False
    updated = ok(env, "update", "product", f"id={product['id']}", "active=true", "description=Basic features")
    assert (updated["active"], updated["description"]) == (True, "Basic features")

    one_time = ok(env, "create", "price", f"product_id={product['id']}", "amount=500", "currency=eur", "nickname=Once")
    assert (one_time["type"], one_time["recurring"], one_time["unit_amount"]) == ("one_time", None, 500)
    yearly = ok(env, "create", "price", f"product_id={product['id']}", "amount=5000", "currency=usd", "interval=year")
    assert (yearly["type"], yearly["recurring"]["interval"]) == ("recurring", "year")
    assert ok(env, "get", "price", f"price_id={yearly['id']}")["id"] == yearly["id"]
    prices = ok(env, "list", "prices", f"product_id={product['id']}", "interval=year")
    assert [p["id"] for p in prices["data"]] == [yearly["id"]]

    customer = ok(env, "create", "customer", "email=complement@example.com", "name=Complement")
    sub = ok(env, "create", "subscription", f"customer_id={customer['id']}", f"price_id={yearly['id']}", 'metadata={"source": "actions"}')
    fetched = ok(env, "get", "subscription", f"subscription_id={sub['id']}")
    assert (fetched["id"], fetched["metadata"]) == (sub["id"], {"source": "actions"})
    plan = ok(
        env,
        "create",
        "plan",
        f"product_id={product['id']}",
        "amount=5000",
        "currency=usd",
        "interval=year",
        "nickname=Yearly",
        "active=true",
    )
    assert plan["nickname"] == "Yearly"


def test_list_all_follows_every_page(upstream):
    env = upstream.env("api_key")
    created = [ok(env, "create", "product", f"name=Paged {i}")["id"] for i in range(5)]
    everything = ok(env, "list", "products", "all=true", "limit=2")
    ids = [p["id"] for p in everything["data"]]
    assert set(created) <= set(ids) and len(ids) == len(set(ids))
    assert everything["has_more"] is False and everything["object"] == "list"
    first_page = ok(env, "list", "products", "limit=2")
    assert first_page["has_more"] is True and len(first_page["data"]) == 2


# -- idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_reusing_the_reported_idempotency_key_creates_nothing_new(emulator_upstream, seeded_emulator, mode):
    env = emulator_upstream.env(mode)
    email = f"idem-{mode}@example.com"
    code, first, stderr = cli(env, "create", "customer", f"email={email}", "name=Idem")
    assert code == 0
    [line] = [line for line in stderr.splitlines() if line.startswith("idempotency_key: ")]
    key = line.split()[1]
    # The caller timed out and retries with the reported key: Stripe replays the first answer.
    again = ok(env, "create", "customer", f"email={email}", "name=Idem", f"idempotency_key={key}")
    assert again["id"] == first["id"]
    assert [c["id"] for c in ok(env, "list", "customers", f"email={email}")["data"]] == [first["id"]]


@pytest.mark.parametrize("mode", ["api_key", "pinkconnect"])
def test_lost_response_is_retried_with_the_same_key(emulator_upstream, seeded_emulator, mode):
    env = emulator_upstream.env(mode)
    email = f"lost-{mode}@example.com"
    replays = seeded_emulator.idempotent_replays
    seeded_emulator.faults.only_paths("/v1/customers").script(["commit_then_reset"])
    try:
        customer = ok(env, "create", "customer", f"email={email}", "name=Lost")
    finally:
        seeded_emulator.faults.clear()
    assert seeded_emulator.idempotent_replays == replays + 1
    assert [c["id"] for c in ok(env, "list", "customers", f"email={email}")["data"]] == [customer["id"]]


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stripe_errors_come_back_as_stripes_error_object(upstream, mode):
    code, data, _ = cli(upstream.env(mode), block="action: get\nentity: customer\ncustomer_id: cus_doesnotexist\n")
    assert code == 1
    assert data["error"]["type"] == "invalid_request_error" and data["error"]["http_status"] == 404
    assert set(data) == {"error"}


def test_emulator_error_fields_pass_through_unchanged(emulator_upstream):
    code, data, _ = cli(emulator_upstream.env("paragon"), "create", "price", "product_id=prod_nope", "amount=100", "currency=usd")
    assert code == 1
    assert (data["error"]["code"], data["error"]["param"]) == ("resource_missing", "product")
    assert "prod_nope" in data["error"]["message"]


@pytest.mark.parametrize("mode", ["paragon", "pinkconnect"])
def test_a_rejected_proxy_token_exits_1_without_echoing_it(emulator_upstream, mode):
    env = emulator_upstream.env(mode)
    token_var = "PARAGON_USER_TOKEN" if mode == "paragon" else "PINKCONNECT_TOKEN"
    env[token_var] = "wrong-token-value"
    code, data, stderr = cli(env, "list", "customers")
    assert code == 1 and data["error"]["http_status"] == 401
    assert "wrong-token-value" not in json.dumps(data) + stderr


def test_validation_errors_send_no_request(emulator_upstream, seeded_emulator):
    before = len(seeded_emulator.requests)
    env = emulator_upstream.env("api_key")
    for args in (
        ["list", "customers", "limit=500"],
        ["create", "price", "product_id=prod_1", "amount=10.00", "currency=usd"],
        ["frobnicate", "customer", "customer_id=cus_1"],
        ["create", "customer", "email=a@b.co"],
        ["get", "customer", "customer_id=cus_1", "expnd=x"],
        ["create", "customer", "email=a@b.co", "name=A", "address.citty=Paris"],
    ):
        code, data, _ = cli(env, *args)
        assert code == 1 and data["error"]["type"] == "invalid_request_error" and data["error"]["param"], args
    assert len(seeded_emulator.requests) == before


# -- the real console script ------------------------------------------------------------------


def test_piping_the_seed_create_customer_example_into_the_console_script(localstripe_upstream):
    block, expected = SEED_EXAMPLES["create customer"]
    done = subprocess.run(
        [CONSOLE_SCRIPT], input=block, capture_output=True, text=True, timeout=60, env=subprocess_env(localstripe_upstream.env("api_key"))
    )
    assert done.returncode == 0, done.stdout + done.stderr
    customer = json.loads(done.stdout)
    assert_same_shape(expected, customer)
    assert customer["name"] == "John Doe" and customer["id"].startswith("cus_")
    assert [line for line in done.stderr.splitlines() if line.startswith("idempotency_key: ")]
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS)


def test_console_script_argument_form_error_exit_status(emulator_upstream):
    done = subprocess.run(
        [CONSOLE_SCRIPT, "get", "customer", "customer_id=cus_missing"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(emulator_upstream.env("pinkconnect")),
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["code"] == "resource_missing"
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS)
