"""Integration tests of the loopback Stripe emulator and proxy emulators (real HTTP via requests)."""

import os
import sys

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from integration_tests.harness import SteppedClock
from stripe_emulator import FaultInjector, ParagonEmulator, PinkConnectEmulator, StripeEmulator
from stripe_emulator.forms import parse

KEY = "sk_test_emulatorKEY1234"
T0 = 1_700_000_000


class Client:
    """A tiny Stripe client: form-encoded bodies, bearer auth, optional extra headers."""

    def __init__(self, base, key=KEY, **headers):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers)
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path, params=None, **kw):
        return self.session.get(self.base + path, params=params, timeout=10, **kw)

    def post(self, path, data=None, **kw):
        return self.session.post(self.base + path, data=data, timeout=10, **kw)

    def delete(self, path, **kw):
        return self.session.delete(self.base + path, timeout=10, **kw)


@pytest.fixture
def emu():
    with StripeEmulator(api_key=KEY, seed=7) as server:
        server.faults.retry_after = 0
        yield server


@pytest.fixture
def api(emu):
    return Client(emu.url)


def error_of(resp):
    return resp.json()["error"]


def list_all(api, path, **params):
    """Walk a list with starting_after like Stripe's auto-pagination."""
    out, params = [], dict(params, limit=100)
    while True:
        page = api.get(path, params).json()
        out.extend(page["data"])
        if not page["has_more"]:
            return out
        params["starting_after"] = page["data"][-1]["id"]


# ---------------------------------------------------------------- forms


def test_form_decoding():
    assert parse("metadata[k]=v") == {"metadata": {"k": "v"}}
    assert parse("items[0][price]=p&items[1][price]=q") == {"items": [{"price": "p"}, {"price": "q"}]}
    assert parse("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}
    assert parse("created[gte]=5&email=") == {"created": {"gte": "5"}, "email": ""}


# ---------------------------------------------------------------- customers


def test_customer_crud(emu, api):
    resp = api.post(
        "/v1/customers", {"email": "ann@example.com", "name": "Ann", "metadata[tier]": "gold", "metadata[src]": "test", "balance": "250"}
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Request-Id"].startswith("req_")
    cus = resp.json()
    assert cus["id"].startswith("cus_") and cus["object"] == "customer"
    assert cus["balance"] == 250 and cus["metadata"] == {"tier": "gold", "src": "test"}
    for field in (
        "address",
        "currency",
        "default_source",
        "delinquent",
        "description",
        "discount",
        "invoice_prefix",
        "livemode",
        "next_invoice_sequence",
        "phone",
        "preferred_locales",
        "shipping",
        "tax_exempt",
        "test_clock",
    ):
        assert field in cus
    assert cus["invoice_settings"] == {"custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None}

    assert api.get(f"/v1/customers/{cus['id']}").json() == cus

    updated = api.post(
        f"/v1/customers/{cus['id']}", {"metadata[tier]": "", "metadata[new]": "1", "invoice_settings[footer]": "thanks"}
    ).json()
    assert updated["metadata"] == {"src": "test", "new": "1"}  # "" deletes a key, others merge
    assert updated["invoice_settings"]["footer"] == "thanks"
    assert updated["name"] == "Ann"

    assert [c["id"] for c in api.get("/v1/customers").json()["data"]] == [cus["id"]]
    assert api.get("/v1/customers", {"email": "nobody@example.com"}).json()["data"] == []

    gone = api.delete(f"/v1/customers/{cus['id']}").json()
    assert gone == {"id": cus["id"], "object": "customer", "deleted": True}
    assert api.get(f"/v1/customers/{cus['id']}").json()["deleted"] is True
    assert api.get("/v1/customers").json()["data"] == []


def test_missing_object_and_unknown_url(api):
    resp = api.get("/v1/customers/cus_nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": "No such customer: 'cus_nope'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }
    resp = api.get("/v1/widgets")
    assert resp.status_code == 404
    assert error_of(resp)["message"].startswith("Unrecognized request URL (GET: /v1/widgets)")
    assert api.delete("/v1/prices/price_x").status_code == 404  # prices cannot be deleted


def test_validation_errors(api):
    resp = api.post("/v1/customers", {"email": "not-an-email"})
    assert resp.status_code == 400
    assert error_of(resp) == {
        "code": "email_invalid",
        "doc_url": "https://stripe.com/docs/error-codes/email-invalid",
        "message": "Invalid email address: not-an-email",
        "param": "email",
        "type": "invalid_request_error",
    }
    resp = api.post("/v1/customers", {"balance": "lots"})
    assert (resp.status_code, error_of(resp)["param"]) == (400, "balance")
    resp = api.post("/v1/customers", {"tax_exempt": "maybe"})
    assert error_of(resp)["param"] == "tax_exempt"
    resp = api.post("/v1/customers", {"favourite_colour": "blue"})
    assert error_of(resp) == {
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "message": "Received unknown parameter: favourite_colour",
        "param": "favourite_colour",
        "type": "invalid_request_error",
    }
    assert error_of(api.post("/v1/customers", {"address[planet]": "mars"}))["param"] == "address[planet]"
    assert error_of(api.get("/v1/customers", {"colour": "x"}))["code"] == "parameter_unknown"
    assert error_of(api.get("/v1/customers/cus_x", {"colour": "x"}))["code"] == "parameter_unknown"
    resp = api.post("/v1/products", {"active": "yes", "name": "x"})
    assert error_of(resp)["param"] == "active"
    resp = api.post("/v1/products", {"description": "no name"})
    assert error_of(resp)["code"] == "parameter_missing" and error_of(resp)["param"] == "name"


# ---------------------------------------------------------------- products, prices, plans


def test_products_prices_plans(emu, api):
    prod = api.post("/v1/products", {"id": "prod_gold", "name": "Gold", "shippable": "true", "images[0]": "https://x/img.png"}).json()
    assert prod["id"] == "prod_gold" and prod["shippable"] is True and prod["images"] == ["https://x/img.png"]
    for field in (
        "default_price",
        "marketing_features",
        "package_dimensions",
        "statement_descriptor",
        "tax_code",
        "unit_label",
        "updated",
        "url",
        "type",
    ):
        assert field in prod
    dup = api.post("/v1/products", {"id": "prod_gold", "name": "Again"})
    assert (dup.status_code, error_of(dup)["code"]) == (400, "resource_already_exists")

    assert error_of(api.post("/v1/prices", {"product": "prod_gold", "unit_amount": "100"}))["param"] == "currency"
    missing = api.post("/v1/prices", {"product": "prod_none", "currency": "usd", "unit_amount": "100"})
    assert (missing.status_code, error_of(missing)["code"], error_of(missing)["param"]) == (400, "resource_missing", "product")

    one_time = api.post("/v1/prices", {"product": "prod_gold", "currency": "USD", "unit_amount": "900"}).json()
    assert (one_time["type"], one_time["recurring"], one_time["currency"]) == ("one_time", None, "usd")
    assert one_time["unit_amount_decimal"] == "900"
    monthly = api.post(
        "/v1/prices",
        {"product": "prod_gold", "currency": "usd", "unit_amount": "1500", "recurring[interval]": "month", "lookup_key": "gold_monthly"},
    ).json()
    assert monthly["type"] == "recurring"
    assert monthly["recurring"] == {
        "aggregate_usage": None,
        "interval": "month",
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }
    assert [p["id"] for p in api.get("/v1/prices", {"type": "recurring"}).json()["data"]] == [monthly["id"]]
    assert len(api.get("/v1/prices", {"product": "prod_gold"}).json()["data"]) == 2
    assert api.get("/v1/prices", {"lookup_keys[]": "gold_monthly"}).json()["data"][0]["id"] == monthly["id"]
    assert api.get("/v1/prices", {"recurring[interval]": "year"}).json()["data"] == []
    nick = api.post(f"/v1/prices/{monthly['id']}", {"nickname": "Gold monthly", "active": "false"}).json()
    assert (nick["nickname"], nick["active"]) == ("Gold monthly", False)
    assert api.get("/v1/prices", {"active": "true"}).json()["data"][0]["id"] == one_time["id"]

    plan = api.post(
        "/v1/plans",
        {
            "id": "plan_gold_year",
            "amount": "12000",
            "currency": "usd",
            "interval": "year",
            "product": "prod_gold",
            "trial_period_days": "14",
        },
    ).json()
    assert (plan["id"], plan["amount"], plan["amount_decimal"], plan["trial_period_days"]) == ("plan_gold_year", 12000, "12000", 14)
    assert (
        api.post(
            "/v1/plans", {"id": "plan_gold_year", "amount": "1", "currency": "usd", "interval": "year", "product": "prod_gold"}
        ).json()["error"]["code"]
        == "resource_already_exists"
    )
    inline = api.post("/v1/plans", {"amount": "500", "currency": "usd", "interval": "month", "product[name]": "Inline product"}).json()
    assert api.get(f"/v1/products/{inline['product']}").json()["name"] == "Inline product"
    assert api.get("/v1/plans", {"product": "prod_gold"}).json()["data"][0]["id"] == "plan_gold_year"

    blocked = api.delete("/v1/products/prod_gold")
    assert blocked.status_code == 400 and "prices" in error_of(blocked)["message"]
    assert api.delete("/v1/plans/plan_gold_year").json() == {"id": "plan_gold_year", "object": "plan", "deleted": True}
    assert api.get("/v1/plans/plan_gold_year").status_code == 404

    with_price = api.post(
        "/v1/products", {"name": "Bundle", "default_price_data[currency]": "eur", "default_price_data[unit_amount]": "300"}
    ).json()
    default_price = api.get(f"/v1/prices/{with_price['default_price']}").json()
    assert (default_price["product"], default_price["currency"]) == (with_price["id"], "eur")
    lonely = api.post("/v1/products", {"name": "Lonely"}).json()
    assert api.delete(f"/v1/products/{lonely['id']}").json()["deleted"] is True


# ---------------------------------------------------------------- subscriptions


def _catalog(api):
    prod = api.post("/v1/products", {"name": "Pro"}).json()
    price = api.post("/v1/prices", {"product": prod["id"], "currency": "usd", "unit_amount": "2000", "recurring[interval]": "month"}).json()
    return prod, price


def test_subscription_lifecycle(emu, api):
    emu.set_time(T0)
    _, price = _catalog(api)
    cus = api.post("/v1/customers", {"email": "sub@example.com"}).json()

    sub = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][price]": price["id"], "metadata[plan]": "pro"}).json()
    assert sub["id"].startswith("sub_") and sub["status"] == "active"
    assert sub["current_period_start"] == T0 and sub["current_period_end"] > T0
    item = sub["items"]["data"][0]
    assert item["object"] == "subscription_item" and item["id"].startswith("si_")
    assert item["price"] == price and item["plan"]["id"] == price["id"] and item["plan"]["object"] == "plan"
    assert sub["plan"]["amount"] == 2000 and sub["quantity"] == 1
    assert api.get(f"/v1/customers/{cus['id']}").json()["currency"] == "usd"

    trial = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][price]": price["id"], "trial_period_days": "7"}).json()
    assert trial["status"] == "trialing" and trial["trial_end"] == T0 + 7 * 86400

    assert error_of(api.post("/v1/subscriptions", {"items[0][price]": price["id"]}))["code"] == "parameter_missing"
    nobody = api.post("/v1/subscriptions", {"customer": "cus_nobody", "items[0][price]": price["id"]})
    assert (error_of(nobody)["code"], error_of(nobody)["param"]) == ("resource_missing", "customer")
    noprice = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][price]": "price_nope"})
    assert error_of(noprice)["param"] == "items[0][price]"

    emu.advance(60)
    canceled = api.delete(f"/v1/subscriptions/{sub['id']}").json()
    assert canceled["status"] == "canceled" and canceled["canceled_at"] == T0 + 60 == canceled["ended_at"]

    visible = [s["id"] for s in api.get("/v1/subscriptions").json()["data"]]
    assert visible == [trial["id"]]
    everything = [s["id"] for s in api.get("/v1/subscriptions", {"status": "all"}).json()["data"]]
    assert sorted(everything) == sorted([sub["id"], trial["id"]])
    assert [s["id"] for s in api.get("/v1/subscriptions", {"status": "canceled"}).json()["data"]] == [sub["id"]]
    assert api.get("/v1/subscriptions", {"status": "trialing", "price": price["id"]}).json()["data"][0]["id"] == trial["id"]
    assert error_of(api.post(f"/v1/subscriptions/{sub['id']}", {"description": "x"}))["type"] == "invalid_request_error"

    ended = api.post(f"/v1/subscriptions/{trial['id']}", {"trial_end": "now", "metadata[k]": "v"}).json()
    assert ended["status"] == "active" and ended["metadata"] == {"k": "v"}


def test_plan_ids_work_as_subscription_items(api):
    prod = api.post("/v1/products", {"name": "Legacy"}).json()
    api.post("/v1/plans", {"id": "plan_legacy", "amount": "999", "currency": "usd", "interval": "month", "product": prod["id"]})
    cus = api.post("/v1/customers", {}).json()
    sub = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][plan]": "plan_legacy"}).json()
    assert sub["items"]["data"][0]["price"]["id"] == "plan_legacy"
    assert sub["items"]["data"][0]["price"]["unit_amount"] == 999
    one_time = api.post("/v1/prices", {"product": prod["id"], "currency": "usd", "unit_amount": "5"}).json()
    resp = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][price]": one_time["id"]})
    assert resp.status_code == 400 and "type=recurring" in error_of(resp)["message"]


def test_expand(api):
    _, price = _catalog(api)
    cus = api.post("/v1/customers", {"email": "e@example.com"}).json()
    sub = api.post("/v1/subscriptions", {"customer": cus["id"], "items[0][price]": price["id"], "expand[]": "customer"}).json()
    assert sub["customer"]["email"] == "e@example.com"
    listed = api.get("/v1/subscriptions", {"expand[]": "data.customer"}).json()
    assert listed["data"][0]["customer"]["id"] == cus["id"]
    expanded = api.get(f"/v1/prices/{price['id']}", {"expand[]": "product"}).json()
    assert expanded["product"]["object"] == "product"
    assert api.get(f"/v1/prices/{price['id']}").json()["product"] == price["product"]  # store untouched
    assert api.get("/v1/customers", {"expand[]": "data.nonsense"}).status_code == 400


# ---------------------------------------------------------------- balance transactions


def test_balance_transactions_are_read_only(emu, api):
    emu.store.add("balance_transactions", {"amount": 5000, "fee": 175, "created": T0, "type": "charge", "source": "ch_1"})
    emu.store.add(
        "balance_transactions", {"amount": -5000, "created": T0 + 1, "type": "payout", "source": "po_1", "reporting_category": "payout"}
    )
    txns = api.get("/v1/balance_transactions").json()["data"]
    assert [t["type"] for t in txns] == ["payout", "charge"]
    charge = txns[1]
    assert charge["net"] == 4825 and charge["id"].startswith("txn_")
    assert set(charge) >= {
        "amount",
        "available_on",
        "created",
        "currency",
        "description",
        "exchange_rate",
        "fee",
        "fee_details",
        "net",
        "reporting_category",
        "source",
        "status",
        "type",
    }
    assert [t["source"] for t in api.get("/v1/balance_transactions", {"type": "charge"}).json()["data"]] == ["ch_1"]
    assert api.get("/v1/balance_transactions", {"payout": "po_1"}).json()["data"][0]["type"] == "payout"
    assert api.get(f"/v1/balance_transactions/{charge['id']}").json() == charge
    assert api.post("/v1/balance_transactions", {"amount": "1"}).status_code == 404


# ---------------------------------------------------------------- lists and pagination


def test_pagination_newest_first_each_exactly_once(emu, api):
    for i in range(250):  # three objects share each timestamp: ties must still page stably
        emu.store.add("customers", {"email": f"c{i}@example.com", "created": T0 + i // 3})
    pages, params = [], {"limit": 100}
    while True:
        page = api.get("/v1/customers", params).json()
        assert page["object"] == "list" and page["url"] == "/v1/customers"
        pages.append(page)
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    assert [len(p["data"]) for p in pages] == [100, 100, 50]
    emails = [c["email"] for p in pages for c in p["data"]]
    assert emails == [f"c{i}@example.com" for i in reversed(range(250))]  # newest (and last added) first
    created = [c["created"] for p in pages for c in p["data"]]
    assert created == sorted(created, reverse=True)

    default = api.get("/v1/customers").json()
    assert len(default["data"]) == 10 and default["has_more"] is True


def test_ending_before(emu, api):
    for i in range(30):
        emu.store.add("customers", {"email": f"c{i}@example.com", "created": T0 + i})
    ids = [c["id"] for c in list_all(api, "/v1/customers")]
    page = api.get("/v1/customers", {"ending_before": ids[20], "limit": 5}).json()
    assert [c["id"] for c in page["data"]] == ids[15:20] and page["has_more"] is True
    first = api.get("/v1/customers", {"ending_before": ids[3], "limit": 5}).json()
    assert [c["id"] for c in first["data"]] == ids[:3] and first["has_more"] is False
    bad = api.get("/v1/customers", {"starting_after": "cus_unknown"})
    assert (bad.status_code, error_of(bad)["code"], error_of(bad)["param"]) == (400, "resource_missing", "starting_after")


def test_created_filters(emu, api):
    for i in range(10):
        emu.store.add("customers", {"created": T0 + i * 10})
    created = lambda **p: [c["created"] for c in api.get("/v1/customers", p).json()["data"]]  # noqa: E731 - a one-line helper of this test
    assert created(**{"created[gte]": T0 + 50}) == [T0 + 90, T0 + 80, T0 + 70, T0 + 60, T0 + 50]
    assert created(**{"created[lt]": T0 + 20}) == [T0 + 10, T0]
    assert created(**{"created[gt]": T0 + 20, "created[lte]": T0 + 40}) == [T0 + 40, T0 + 30]
    assert created(created=T0 + 30) == [T0 + 30]
    assert error_of(api.get("/v1/customers", {"created[around]": 5}))["param"] == "created[around]"


@pytest.mark.parametrize(
    "limit, message", [(0, "greater than or equal to 1"), (101, "less than or equal to 100"), ("ten", "Invalid integer")]
)
def test_limit_out_of_range(api, limit, message):
    resp = api.get("/v1/customers", {"limit": limit})
    assert resp.status_code == 400
    assert error_of(resp)["param"] == "limit" and message in error_of(resp)["message"]


def test_bulk_add_100k_pages(emu, api):
    ids = emu.store.bulk_add("customers", 100_000, created_start=T0, created_step=1)
    first = api.get("/v1/customers", {"limit": 100}).json()
    assert [c["id"] for c in first["data"]] == ids[::-1][:100]
    assert first["data"][0]["created"] == T0 + 99_999 and first["data"][0]["email"].endswith("@example.com")
    assert first["has_more"] is True
    last = api.get("/v1/customers", {"limit": 100, "starting_after": ids[100]}).json()
    assert [c["id"] for c in last["data"]] == ids[99::-1] and last["has_more"] is False
    window = api.get("/v1/customers", {"limit": 100, "created[gte]": T0 + 50_000, "created[lt]": T0 + 50_010}).json()
    assert len(window["data"]) == 10
    one = api.get(f"/v1/customers/{ids[12345]}").json()
    assert one["created"] == T0 + 12345
    # bulk rows become regular objects once updated
    assert api.post(f"/v1/customers/{ids[5]}", {"name": "Changed"}).json()["name"] == "Changed"


# ---------------------------------------------------------------- idempotency


def test_idempotency_replay_and_mismatch(emu, api):
    first = api.post("/v1/customers", {"email": "i@example.com"}, headers={"Idempotency-Key": "k1"})
    again = api.post("/v1/customers", {"email": "i@example.com"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert emu.idempotent_replays == 1 and emu.store.count("customers") == 1

    other = api.post("/v1/customers", {"email": "other@example.com"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400
    assert error_of(other) == {
        "type": "idempotency_error",
        "message": "Keys for idempotent requests can only be used with the same parameters they were first "
        "used with. Try using a key other than 'k1' if you meant to execute a different request.",
    }

    # validation failures are not saved: the key can be used again after fixing the request
    assert api.post("/v1/customers", {"email": "bad"}, headers={"Idempotency-Key": "k2"}).status_code == 400
    assert api.post("/v1/customers", {"email": "ok@example.com"}, headers={"Idempotency-Key": "k2"}).ok

    # keys are scoped per account
    emu.add_connected_account("acct_idem")
    scoped = api.post("/v1/customers", {"email": "i@example.com"}, headers={"Idempotency-Key": "k1", "Stripe-Account": "acct_idem"})
    assert scoped.ok and "Idempotent-Replayed" not in scoped.headers


def test_lost_response_then_idempotent_retry(emu, api):
    emu.faults.script(["commit_then_reset"])
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/v1/customers", {"email": "lost@example.com"}, headers={"Idempotency-Key": "lost-1"})
    assert emu.store.count("customers") == 1  # it was committed
    retry = api.post("/v1/customers", {"email": "lost@example.com"}, headers={"Idempotency-Key": "lost-1"})
    assert retry.ok and retry.headers["Idempotent-Replayed"] == "true"
    assert emu.store.count("customers") == 1 and emu.faults.injected["commit_then_reset"] == 1


# ---------------------------------------------------------------- events


def test_events_record_writes_with_previous_attributes(emu, api):
    emu.set_time(T0)
    cus = api.post("/v1/customers", {"email": "ev@example.com", "metadata[a]": "1"}, headers={"Idempotency-Key": "ev-1"}).json()
    emu.advance(5)
    api.post(f"/v1/customers/{cus['id']}", {"name": "Eve", "metadata[b]": "2"})
    emu.advance(5)
    api.delete(f"/v1/customers/{cus['id']}")
    events = api.get("/v1/events").json()["data"]
    assert [e["type"] for e in events] == ["customer.deleted", "customer.updated", "customer.created"]
    created = events[2]
    assert created["id"].startswith("evt_") and created["object"] == "event"
    assert created["api_version"] == "2024-06-20" and created["created"] == T0
    assert created["request"]["idempotency_key"] == "ev-1" and created["request"]["id"].startswith("req_")
    assert created["data"]["object"]["email"] == "ev@example.com"
    assert (created["livemode"], created["pending_webhooks"]) == (False, 0)
    updated = events[1]
    assert updated["data"]["object"]["name"] == "Eve"
    assert updated["data"]["previous_attributes"] == {"name": None, "metadata": {"b": None}}
    assert [e["type"] for e in api.get("/v1/events", {"type": "customer.updated"}).json()["data"]] == ["customer.updated"]
    assert len(api.get("/v1/events", {"types[]": ["customer.created", "customer.deleted"]}).json()["data"]) == 2
    assert len(api.get("/v1/events", {"type": "customer.*"}).json()["data"]) == 3
    assert len(api.get("/v1/events", {"created[gte]": T0 + 5}).json()["data"]) == 2
    assert api.get(f"/v1/events/{created['id']}").json() == created
    assert emu.events[0]["type"] == "customer.deleted"


# ---------------------------------------------------------------- search


def test_search_with_indexing_lag(emu, api):
    emu.set_time(T0)
    emu.search_lag_seconds = 30
    cus = api.post("/v1/customers", {"email": "Find.Me@example.com", "metadata[team]": "red"}).json()
    query = lambda q: api.get("/v1/customers/search", {"query": q}).json()  # noqa: E731 - a one-line helper of this test
    assert query("email:'find.me@example.com'")["data"] == []  # not indexed yet
    emu.advance(31)
    found = query("email:'find.me@example.com'")
    assert found["object"] == "search_result" and [c["id"] for c in found["data"]] == [cus["id"]]
    assert [c["id"] for c in query("metadata['team']:'red'")["data"]] == [cus["id"]]
    assert query("metadata['team']:'blue'")["data"] == []
    # an update is also invisible to search until indexed
    api.post(f"/v1/customers/{cus['id']}", {"metadata[team]": "blue"})
    assert [c["id"] for c in query("metadata['team']:'red'")["data"]] == [cus["id"]]
    emu.advance(31)
    assert query("metadata['team']:'red'")["data"] == []
    assert error_of(api.get("/v1/customers/search", {"query": "colour:'x'"}))["param"] == "query"

    emu.search_lag_seconds = 0
    prod = api.post("/v1/products", {"name": "Searchable", "metadata[sku]": "A1"}).json()
    hits = api.get("/v1/products/search", {"query": "metadata['sku']:'A1' AND active:'true'"}).json()
    assert [p["id"] for p in hits["data"]] == [prod["id"]]


# ---------------------------------------------------------------- auth, keys, accounts


def test_authentication_errors_mask_the_key(emu):
    resp = Client(emu.url, key="sk_test_wrongkeyabcd").get("/v1/customers")
    assert resp.status_code == 401
    assert resp.json() == {"error": {"message": "Invalid API Key provided: sk_test_********abcd", "type": "invalid_request_error"}}
    missing = Client(emu.url, key=None).get("/v1/customers")
    assert missing.status_code == 401 and "You did not provide an API key" in error_of(missing)["message"]
    basic = requests.get(emu.url + "/v1/customers", auth=(KEY, ""), timeout=10)
    assert basic.status_code == 200
    assert emu.requests[-1]["headers"]["Authorization"] != f"Bearer {KEY}"  # the log masks keys


def test_restricted_key(emu):
    emu.add_restricted_key("rk_test_limited9876", allowed_resources={"customers"})
    emu.add_restricted_key("rk_test_readonly5555", allowed_resources={"customers": "read"})
    limited = Client(emu.url, key="rk_test_limited9876")
    assert limited.get("/v1/customers").status_code == 200
    assert limited.post("/v1/customers", {"name": "ok"}).status_code == 200
    denied = limited.get("/v1/products")
    assert denied.status_code == 403
    assert error_of(denied)["type"] == "invalid_request_error"
    assert error_of(denied)["message"].startswith(
        "The provided key 'rk_test_*******9876' does not have the required permissions for this endpoint"
    )
    readonly = Client(emu.url, key="rk_test_readonly5555")
    assert readonly.get("/v1/customers").status_code == 200
    assert readonly.post("/v1/customers", {"name": "no"}).status_code == 403


def test_stripe_account_namespaces(emu, api):
    emu.add_connected_account("acct_1Connected")
    emu.store_for("acct_1Connected").add("customers", {"email": "connected@example.com"})
    api.post("/v1/customers", {"email": "platform@example.com"})
    connected = Client(emu.url, **{"Stripe-Account": "acct_1Connected"})
    assert [c["email"] for c in connected.get("/v1/customers").json()["data"]] == ["connected@example.com"]
    assert [c["email"] for c in api.get("/v1/customers").json()["data"]] == ["platform@example.com"]
    created = connected.post("/v1/customers", {"email": "new@example.com"}).json()
    assert api.get(f"/v1/customers/{created['id']}").status_code == 404
    event = connected.get("/v1/events").json()["data"][0]
    assert event["account"] == "acct_1Connected" and event["type"] == "customer.created"
    unknown = Client(emu.url, **{"Stripe-Account": "acct_unknown"}).get("/v1/customers")
    assert unknown.status_code == 403
    assert [a["id"] for a in api.get("/v1/accounts").json()["data"]] == ["acct_1Connected"]
    assert api.get("/v1/account").json()["id"] == emu.account_id
    assert connected.get("/v1/account").json()["id"] == "acct_1Connected"


def test_stripe_version_header_is_recorded(emu, api):
    resp = api.get("/v1/customers", headers={"Stripe-Version": "2024-06-20"})
    assert resp.headers["Stripe-Version"] == "2024-06-20"
    logged = emu.requests[-1]
    assert logged["headers"]["Stripe-Version"] == "2024-06-20"
    assert (logged["method"], logged["path"], logged["status"]) == ("GET", "/v1/customers", 200)
    api.post("/v1/customers", {"metadata[x]": "1"})
    assert emu.requests[-1]["body"] == {"metadata": {"x": "1"}}


def test_clock_controls_created(emu, api):
    emu.set_time(T0)
    assert api.post("/v1/customers", {}).json()["created"] == T0
    emu.advance(100)
    assert api.post("/v1/customers", {}).json()["created"] == T0 + 100


# ---------------------------------------------------------------- faults, rate limit, latency


def _get(api):
    return api.get("/v1/customers")


def test_fault_status_kinds(emu, api):
    emu.faults.script(["429", "429_no_retry_after", "500", "502", "503", "html_502", "401_proxy", None])
    r = _get(api)
    assert r.status_code == 429 and r.headers["Retry-After"] == "0" and error_of(r)["code"] == "rate_limit"
    r = _get(api)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    r = _get(api)
    assert r.status_code == 500 and error_of(r)["type"] == "api_error" and r.headers["Stripe-Should-Retry"] == "true"
    assert _get(api).status_code == 502 and _get(api).status_code == 503
    r = _get(api)
    assert r.status_code == 502 and r.headers["Content-Type"] == "text/html"
    with pytest.raises(requests.exceptions.JSONDecodeError):
        r.json()
    r = _get(api)
    assert r.status_code == 401 and error_of(r)["code"] == "api_key_expired"
    assert _get(api).status_code == 200  # script exhausted: normal again
    assert sum(emu.faults.injected.values()) == 7


def test_fault_transport_kinds(emu, api):
    emu.faults.script(["reset", "drop", "truncate"])
    # reset: headers promise more body than arrives, then RST
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        _get(api)
    with pytest.raises(requests.exceptions.ConnectionError):  # drop: RST before any byte
        _get(api)
    truncated = _get(api)
    assert truncated.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        truncated.json()
    assert _get(api).ok and emu.faults.injected["reset"] == emu.faults.injected["truncate"] == 1


def test_slow_fault_and_latency():
    """No stopwatch: a client that gives up sooner than the delay never gets the answer."""
    with StripeEmulator(api_key=KEY, latency=0.2) as emu:
        api = Client(emu.url)
        with pytest.raises(requests.exceptions.Timeout):  # every answer waits `latency` first
            api.session.get(emu.url + "/v1/customers", timeout=0.05)
        emu.latency = 0
        emu.faults.slow_seconds = 0.3
        emu.faults.script(["slow", None])
        with pytest.raises(requests.exceptions.Timeout):  # a slow fault holds the answer back
            api.session.get(emu.url + "/v1/customers", timeout=0.1)
        assert _get(api).ok  # and only that one
        assert emu.faults.injected["slow"] == 1


def test_only_paths_and_random_rates_are_deterministic(emu, api):
    emu.faults.only_paths("/v1/products").script(["500"])
    assert _get(api).ok  # not eligible
    assert api.get("/v1/products").status_code == 500
    emu.faults.clear()

    def draws(seed):
        f = FaultInjector(seed=seed).set_rates({"429": 0.2, "500": 0.1, "reset": 0.1})
        return [f.decide("/v1/customers") for _ in range(200)]

    assert draws(3) == draws(3)
    sample = draws(3)
    assert 20 < sample.count("429") < 70 and sample.count(None) > 80
    with pytest.raises(ValueError, match="unknown fault kind 'teapot'"):
        FaultInjector().script(["teapot"])


def test_rate_limit():
    clock = SteppedClock()  # the limit's seconds pass only when the test says so
    with StripeEmulator(api_key=KEY, rate_limit=5, rate_limit_retry_after=1, monotonic=clock.now) as emu:
        api = Client(emu.url)
        statuses = [_get(api).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        limited = _get(api)
        assert error_of(limited)["code"] == "rate_limit" and limited.headers["Retry-After"] == "1"
        assert limited.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
        assert emu.rate_limited == 3
        clock.advance(0.99)
        assert _get(api).status_code == 429  # still within the second
        clock.advance(0.01)
        assert [_get(api).status_code for _ in range(6)] == [200] * 5 + [429]


def test_endpoint_rate_limit_is_per_method_path_template_and_account():
    clock = SteppedClock()
    with StripeEmulator(api_key=KEY, endpoint_rate_limit=3, monotonic=clock.now) as emu:
        emu.add_connected_account("acct_1Other")
        api = Client(emu.url)
        ids = [api.post("/v1/customers", {"email": f"c{i}@x.io"}).json()["id"] for i in range(3)]
        assert api.post("/v1/customers").status_code == 429  # POST /v1/customers: 4th in a second
        details = [api.get(f"/v1/customers/{i}").status_code for i in ids + ids[:1]]
        assert details == [200, 200, 200, 429]  # every id shares GET /v1/customers/{id}
        limited = api.get("/v1/customers/" + ids[0])
        assert limited.headers["Stripe-Rate-Limited-Reason"] == "endpoint-rate"
        assert error_of(limited)["code"] == "rate_limit" and error_of(limited)["type"] == "invalid_request_error"
        assert [api.get("/v1/customers").status_code for _ in range(3)] == [200] * 3  # the list is another endpoint
        assert api.get("/v1/customers/search", {"query": "email:'x'"}).ok
        other = Client(emu.url, **{"Stripe-Account": "acct_1Other"})
        assert other.get("/v1/customers").ok  # another account, its own limit
        assert emu.endpoint_rate_limited == 3 and emu.rate_limited == 0
        clock.advance(1.0)
        assert api.get(f"/v1/customers/{ids[0]}").ok


def test_proxies_forward_the_rate_limited_reason():
    clock = SteppedClock()
    with (
        StripeEmulator(api_key=KEY, endpoint_rate_limit=1, monotonic=clock.now) as emu,
        ParagonEmulator(emu.url, KEY, user_token=PARAGON_TOKEN) as paragon,
        PinkConnectEmulator(emu.url, KEY, token=PINK_TOKEN) as pink,
    ):
        for client in (Client(paragon.base_url(), key=PARAGON_TOKEN), Client(pink.base_url(), key=PINK_TOKEN)):
            responses = [client.get("/v1/products") for _ in range(2)]
            assert [r.status_code for r in responses] == [200, 429]
            assert responses[1].headers["Stripe-Rate-Limited-Reason"] == "endpoint-rate"
            clock.advance(1.0)


# ---------------------------------------------------------------- proxies

PARAGON_TOKEN = "paragon-user-token-secret"
PINK_TOKEN = "pink-token-secret"


@pytest.fixture
def paragon(emu):
    with ParagonEmulator(emu.url, KEY, project_id="proj_demo", user_token=PARAGON_TOKEN) as proxy:
        proxy.faults.retry_after = 0
        yield proxy


@pytest.fixture
def pink(emu):
    with PinkConnectEmulator(emu.url, KEY, token=PINK_TOKEN, required_headers={"X-Connection-Id": "conn_42"}) as p:
        yield p


def test_paragon_forwards_with_injected_key(emu, paragon):
    client = Client(f"{paragon.url}/projects/proj_demo/sdk/proxy/stripe", key=PARAGON_TOKEN)
    created = client.post(
        "/v1/customers", {"email": "via@paragon.com"}, headers={"Idempotency-Key": "pg-1", "Stripe-Version": "2024-06-20"}
    )
    assert created.status_code == 200 and created.json()["email"] == "via@paragon.com"
    replay = client.post("/v1/customers", {"email": "via@paragon.com"}, headers={"Idempotency-Key": "pg-1"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.content == created.content
    assert created.headers["Request-Id"].startswith("req_")
    upstream = emu.requests[-2]
    assert upstream["headers"]["Authorization"] == "Bearer sk_test_***********1234"  # Stripe key, masked in log
    assert upstream["headers"]["Stripe-Version"] == "2024-06-20" and upstream["body"] == {"email": "via@paragon.com"}

    listed = client.get("/v1/customers", {"limit": 1, "email": "via@paragon.com"})
    assert listed.json()["data"][0]["id"] == created.json()["id"]
    assert emu.requests[-1]["query"] == {"limit": ["1"], "email": ["via@paragon.com"]}
    missing = client.get("/v1/customers/cus_nope")  # upstream errors pass through unchanged
    assert missing.status_code == 404 and error_of(missing)["code"] == "resource_missing"

    everything = repr(paragon.requests.snapshot()) + repr(paragon)
    assert PARAGON_TOKEN not in everything and KEY not in everything


def test_paragon_rejections(emu, paragon):
    good = Client(f"{paragon.url}/projects/proj_demo/sdk/proxy/stripe", key=PARAGON_TOKEN)
    wrong_token = Client(f"{paragon.url}/projects/proj_demo/sdk/proxy/stripe", key="nope")
    r = wrong_token.get("/v1/customers")
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized", "status": 401}
    r = Client(f"{paragon.url}/projects/proj_other/sdk/proxy/stripe", key=PARAGON_TOKEN).get("/v1/customers")
    assert r.status_code == 404 and r.json() == {"message": "Project not found"}
    assert Client(paragon.url, key=PARAGON_TOKEN).get("/v1/customers").status_code == 404
    assert Client(f"{paragon.url}/projects/proj_demo/sdk/proxy/hubspot", key=PARAGON_TOKEN).get("/v1/customers").status_code == 404
    assert len(emu.requests) == 0  # nothing reached Stripe

    paragon.faults.script(["401_proxy", "429", "html_502", "reset"])
    r = good.get("/v1/customers")
    assert r.status_code == 401 and r.json() == {"message": "Token expired"}
    r = good.get("/v1/customers")
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"
    assert good.get("/v1/customers").headers["Content-Type"] == "text/html"
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        good.get("/v1/customers")
    assert good.get("/v1/customers").ok

    emu.faults.script(["500", "drop"])  # upstream faults
    r = good.get("/v1/customers")
    assert r.status_code == 500 and r.headers["Stripe-Should-Retry"] == "true"
    assert good.get("/v1/customers").status_code == 502  # upstream reset -> gateway error


def test_pinkconnect(emu, pink):
    good = Client(pink.url, key=PINK_TOKEN, **{"X-Connection-Id": "conn_42"})
    created = good.post("/v1/products", {"name": "Via pink"})
    assert created.status_code == 200 and created.json()["name"] == "Via pink"
    assert emu.requests[-1]["headers"]["Authorization"].endswith("1234")
    assert "X-Connection-Id" not in emu.requests[-1]["headers"]  # proxy headers stay at the proxy

    r = Client(pink.url, key=PINK_TOKEN).get("/v1/products")
    assert r.status_code == 400 and "X-Connection-Id" in r.json()["message"]
    r = Client(pink.url, key=PINK_TOKEN, **{"X-Connection-Id": "conn_other"}).get("/v1/products")
    assert r.status_code == 401
    r = Client(pink.url, key="wrong", **{"X-Connection-Id": "conn_42"}).get("/v1/products")
    assert r.status_code == 401 and PINK_TOKEN not in r.text
    assert good.get("/other").status_code == 404

    pink.faults.script(["401_proxy", "503", "truncate"])
    assert good.get("/v1/products").json()["error"] == "token_expired"
    assert good.get("/v1/products").status_code == 503
    with pytest.raises(requests.exceptions.JSONDecodeError):
        good.get("/v1/products").json()
    assert [p["name"] for p in good.get("/v1/products").json()["data"]] == ["Via pink"]
    logged = repr(pink.requests.snapshot())
    assert PINK_TOKEN not in logged and "conn_42" not in logged and KEY not in logged
