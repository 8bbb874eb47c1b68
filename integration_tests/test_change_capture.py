"""Change capture end to end against our Stripe emulator (real HTTP, the real console script):
create objects, sync, change and delete some (deleted objects keep their last version; removed
subscription items and a deleted invoice's lines too), sync again with the state, and check
that the second sync shows exactly those changes. Also: every stream's records match its schema, and
several Connect accounts in one connection."""

import time

import jsonschema
import requests

from integration_tests.harness import configured_catalog, run_connector, state_from
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.state import parse_state
from stripe_emulator import billing

# The streams this seed fills (the first 19 of the catalogue; test_all_streams.py reads all of them).
SEEDED = [
    "customers",
    "subscriptions",
    "products",
    "plans",
    "prices",
    "balance_transactions",
    "invoices",
    "invoice_items",
    "invoice_line_items",
    "subscription_items",
    "charges",
    "refunds",
    "payment_intents",
    "payouts",
    "coupons",
    "promotion_codes",
    "disputes",
    "credit_notes",
    "events",
]
EVENTED = ["customers", "subscriptions", "subscription_items", "products", "prices", "invoices", "invoice_line_items", "coupons", "charges"]


def incremental_catalog(streams):
    catalog = configured_catalog(streams, sync_mode="incremental")
    for entry in catalog["streams"]:
        entry["cursor_field"] = ["updated"]
    return catalog


def seed(emulator, at):
    """A little of everything, created `at` (before the first sync)."""
    emulator.set_time(at)
    store = emulator.store
    customers = [store.add("customers", {"email": f"c{i}@example.com"})["id"] for i in range(5)]
    product = store.add("products", {"name": "Gold"})["id"]
    lonely_product = store.add("products", {"name": "Never priced"})["id"]
    prices = [
        store.add("prices", {"product": product, "unit_amount": 500 + i, "currency": "usd", "recurring": {"interval": "month"}})["id"]
        for i in range(2)
    ]
    store.add("plans", {"product": product, "amount": 900, "currency": "usd", "interval": "year"})
    subs = [
        store.add("subscriptions", {"customer": customers[i], "items": [{"price": prices[0]}, {"price": prices[1]}]})["id"]
        for i in range(3)
    ]
    invoice = store.add("invoices", {"customer": customers[0], "lines": [{"amount": 100 + i} for i in range(13)]})["id"]
    draft = store.add("invoices", {"customer": customers[1], "lines": [{"amount": 900}, {"amount": 50}]})["id"]
    coupons = [store.add("coupons", {"name": f"Coupon {i}"})["id"] for i in range(2)]
    for resource in billing.RESOURCES:
        if resource not in ("invoices", "coupons"):
            store.add(resource, {})
    store.bulk_add("balance_transactions", 3)
    return {
        "customers": customers,
        "product": product,
        "lonely_product": lonely_product,
        "prices": prices,
        "subs": subs,
        "invoice": invoice,
        "draft": draft,
        "coupons": coupons,
    }


def api(emulator, method, path, **data):
    response = requests.request(
        method, f"{emulator.url}{path}", data=data, headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_second_sync_shows_exactly_the_changes_made_since_the_first(stripe_emulator, connection_configs):
    seeded_at = int(time.time()) - 7200
    ids = seed(stripe_emulator, seeded_at)
    config = connection_configs("api_key", stripe_emulator, page_size=5)
    first = run_connector("source", "read", config, incremental_catalog(EVENTED))
    assert first.returncode == 0, first.stdout[-3000:]
    assert len(first.records_of("invoice_line_items")) == 15  # 13 lines paged past the embedded 10, and 2
    assert len(first.records_of("subscription_items")) == 6
    state = state_from(first)
    assert all("events_since" in s["stream"]["stream_state"] for s in state)

    # changes, made after the first sync began (the emulator's clock is Stripe's)
    stripe_emulator.set_time(int(time.time()) + 5)
    changed_customer = ids["customers"][1]
    api(stripe_emulator, "POST", f"/v1/customers/{changed_customer}", email="changed@example.com")
    api(stripe_emulator, "POST", f"/v1/customers/{changed_customer}", name="Changed twice")
    new_customer = api(stripe_emulator, "POST", "/v1/customers", email="new@example.com")["id"]
    canceled = api(stripe_emulator, "DELETE", f"/v1/subscriptions/{ids['subs'][2]}")
    api(stripe_emulator, "DELETE", f"/v1/products/{ids['lonely_product']}")
    api(stripe_emulator, "POST", f"/v1/prices/{ids['prices'][1]}", **{"metadata[tier]": "gold"})
    billing.update(stripe_emulator.store, "invoices", ids["invoice"], status="paid", paid=True)
    billing.delete(stripe_emulator.store, "coupons", ids["coupons"][0])
    # an item removed from a subscription (then another change, so the removal is not its newest event)
    upgraded = stripe_emulator.store.get("subscriptions", ids["subs"][0])
    removed_item, kept_item = upgraded["items"]["data"]
    api(stripe_emulator, "POST", f"/v1/subscriptions/{upgraded['id']}", **{"items[0][id]": removed_item["id"], "items[0][deleted]": "true"})
    api(stripe_emulator, "POST", f"/v1/subscriptions/{upgraded['id']}", **{"metadata[seats]": "3"})
    draft_lines = billing.delete(stripe_emulator.store, "invoices", ids["draft"])["lines"]["data"]
    requests_before = len(stripe_emulator.requests.snapshot())

    second = run_connector("source", "read", config, incremental_catalog(EVENTED), state=state)
    assert second.returncode == 0, second.stdout[-3000:]
    got = {stream: {r["id"]: r for r in second.records_of(stream)} for stream in EVENTED}
    for stream in EVENTED:
        assert len(second.records_of(stream)) == len(got[stream]), f"{stream}: an object emitted twice"

    assert set(got["customers"]) == {changed_customer, new_customer}
    assert got["customers"][changed_customer]["email"] == "changed@example.com"
    assert got["customers"][changed_customer]["name"] == "Changed twice"  # the latest version
    assert set(got["subscriptions"]) == {canceled["id"], upgraded["id"]} and got["subscriptions"][canceled["id"]]["status"] == "canceled"
    assert got["subscriptions"][canceled["id"]]["is_deleted"] is False  # a cancel is an update
    live_items = {item["id"] for item in canceled["items"]["data"]} | {kept_item["id"]}
    assert {i for i, r in got["subscription_items"].items() if not r["is_deleted"]} == live_items
    assert {i for i, r in got["subscription_items"].items() if r["is_deleted"]} == {removed_item["id"]}
    assert got["subscription_items"][removed_item["id"]]["price"]["id"] == removed_item["price"]["id"]  # as it was
    # a deleted object is its last version, marked deleted
    lonely = got["products"][ids["lonely_product"]]
    assert set(got["products"]) == {ids["lonely_product"]} and lonely["is_deleted"] is True
    assert lonely["name"] == "Never priced" and lonely["created"] == seeded_at
    assert set(got["prices"]) == {ids["prices"][1]} and got["prices"][ids["prices"][1]]["metadata"] == {"tier": "gold"}
    assert set(got["invoices"]) == {ids["invoice"], ids["draft"]} and got["invoices"][ids["invoice"]]["status"] == "paid"
    assert got["invoices"][ids["draft"]]["is_deleted"] is True and got["invoices"][ids["draft"]]["total"] == 950
    lines = got["invoice_line_items"]
    assert {i for i, r in lines.items() if not r["is_deleted"]} == {i for i, r in lines.items() if r["invoice"] == ids["invoice"]}
    assert len(lines) == 15 and {i for i, r in lines.items() if r["is_deleted"]} == {line["id"] for line in draft_lines}
    assert {r["amount"] for r in lines.values() if r["is_deleted"]} == {900, 50}
    coupon = got["coupons"][ids["coupons"][0]]
    assert set(got["coupons"]) == {ids["coupons"][0]} and coupon["is_deleted"] is True and coupon["name"] == "Coupon 0"
    assert all(r["is_deleted"] is False for r in got["customers"].values())
    assert got["charges"] == {}
    change_time = stripe_emulator.clock.now()
    for stream in EVENTED:
        validator = jsonschema.Draft7Validator(load_schema(stream))
        for record in got[stream].values():
            validator.validate(record)
            assert abs(record["updated"] - change_time) <= 5  # the event's time, not `created`

    # only events (and the lines of the changed invoice past its embedded page) were read
    paths = {r["path"] for r in stripe_emulator.requests.snapshot()[requests_before:]}
    assert paths == {"/v1/events", f"/v1/invoices/{ids['invoice']}/lines"}


def test_every_stream_reads_and_its_records_match_the_generated_schema(stripe_emulator, connection_configs):
    seed(stripe_emulator, int(time.time()) - 3600)
    stripe_emulator.store.add("customers", {"email": "evented@example.com"}, emit_event=True)
    result = run_connector("source", "read", connection_configs("api_key", stripe_emulator), configured_catalog(SEEDED))
    assert result.returncode == 0, result.stdout[-3000:]
    for stream in SEEDED:
        records = result.records_of(stream)
        assert records, f"{stream}: no records"
        validator = jsonschema.Draft7Validator(load_schema(stream))
        for record in records:
            validator.validate(record)
            assert isinstance(record["updated"], int)
        assert result.statuses(stream)[-1] == "COMPLETE"


def test_several_connect_accounts_in_one_connection(stripe_emulator, connection_configs):
    stripe_emulator.set_time(int(time.time()) - 3600)
    for n, account in enumerate(["acct_1First", "acct_2Second"]):
        stripe_emulator.add_connected_account(account)
        store = stripe_emulator.store_for(account)
        for i in range(3 + n):
            store.add("customers", {"email": f"{account}-{i}@example.com"})
    stripe_emulator.store.add("customers", {"email": "platform@example.com"})  # not a connected account
    config = connection_configs("api_key", stripe_emulator, account_ids=["all"])
    first = run_connector("source", "read", config, incremental_catalog(["customers"]))
    assert first.returncode == 0, first.stdout[-3000:]
    by_account = {}
    for record in first.records_of("customers"):
        by_account.setdefault(record["account_id"], set()).add(record["email"])
    assert {a: len(e) for a, e in by_account.items()} == {"acct_1First": 3, "acct_2Second": 4}
    assert all(email.startswith(account) for account, emails in by_account.items() for email in emails)
    state = state_from(first)
    assert set(parse_state("customers", state[0]["stream"]["stream_state"], per_account=True)[0]) == {"acct_1First", "acct_2Second"}

    stripe_emulator.set_time(int(time.time()) + 5)
    changed = stripe_emulator.store_for("acct_2Second").all("customers")[0]["id"]
    response = requests.post(
        f"{stripe_emulator.url}/v1/customers/{changed}",
        data={"email": "moved@example.com"},
        headers={"Authorization": f"Bearer {stripe_emulator.api_key}", "Stripe-Account": "acct_2Second"},
        timeout=30,
    )
    assert response.status_code == 200
    second = run_connector("source", "read", config, incremental_catalog(["customers"]), state=state)
    assert second.returncode == 0, second.stdout[-3000:]
    assert [(r["account_id"], r["id"], r["email"]) for r in second.records_of("customers")] == [
        ("acct_2Second", changed, "moved@example.com")
    ]


def test_stale_state_falls_back_to_a_full_reread_through_the_real_entrypoint(stripe_emulator, connection_configs):
    streams = ["customers"]
    seed(stripe_emulator, int(time.time()) - 3600)
    config = connection_configs("api_key", stripe_emulator)
    old = int(time.time()) - 40 * 86_400
    state = [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"created": old, "events_since": old}}}
    ]
    result = run_connector("source", "read", config, incremental_catalog(streams), state=state)
    assert result.returncode == 0
    assert len(result.records_of("customers")) == 5
    warnings = [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any("40 days" in w and "Re-reading" in w for w in warnings)
    failed = run_connector("source", "read", {**config, "on_stale_state": "fail"}, incremental_catalog(streams), state=state)
    assert failed.returncode != 0 and failed.errors()[0]["failure_type"] == "config_error"
