"""Payment intents on the emulator, as in Stripe's test mode (``stripe_emulator/payments.py``),
over real HTTP: create, confirm with a test payment method (paid or declined with Stripe's
codes), manual capture, cancel, and a refund of what was charged, each with its events."""

import jsonschema
import pytest
import requests

from source_stripe_proxy.data import load_schema
from stripe_emulator import StripeEmulator
from stripe_emulator.payments import DECLINES, TEST_CARDS

KEY = "sk_test_paymentINTENTS1"


class Api:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {KEY}"

    def post(self, path, headers=None, **data):
        return self.session.post(self.url + path, data=data, headers=headers or {}, timeout=10)

    def get(self, path, **params):
        return self.session.get(self.url + path, params=params, timeout=10)


@pytest.fixture
def emulator():
    with StripeEmulator(api_key=KEY, seed=11) as server:
        yield server


@pytest.fixture
def api(emulator):
    return Api(emulator.url)


CARD_ONLY = {"payment_method_types[0]": "card"}


def event_types(emulator, since=0):
    return [e["type"] for e in reversed(emulator.store.all("events"))][since:]


def test_a_paid_payment_intent_has_a_charge_a_balance_transaction_and_can_be_refunded(emulator, api):
    customer = api.post("/v1/customers", email="payer@example.com").json()["id"]
    before = len(emulator.store.all("events"))
    paid = api.post(
        "/v1/payment_intents",
        amount="2000",
        currency="usd",
        customer=customer,
        confirm="true",
        payment_method="pm_card_visa",
        description="Order 1",
        **CARD_ONLY,
    )
    assert paid.status_code == 200, paid.text
    intent = paid.json()
    assert (intent["status"], intent["amount_received"], intent["payment_method_types"]) == ("succeeded", 2000, ["card"])
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")
    charge = api.get(f"/v1/charges/{intent['latest_charge']}").json()
    assert (charge["status"], charge["paid"], charge["captured"], charge["amount_captured"]) == ("succeeded", True, True, 2000)
    assert charge["payment_method"] == intent["payment_method"] and charge["payment_method"].startswith("pm_")
    assert charge["payment_method_details"]["card"]["last4"] == "4242" and charge["outcome"]["type"] == "authorized"
    txn = api.get(f"/v1/balance_transactions/{charge['balance_transaction']}").json()
    assert (txn["type"], txn["amount"], txn["fee"], txn["source"]) == ("charge", 2000, 88, charge["id"])  # 2.9% + 30
    assert event_types(emulator, before) == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    expanded = api.get(f"/v1/payment_intents/{intent['id']}", **{"expand[]": "latest_charge"}).json()
    assert expanded["latest_charge"]["id"] == charge["id"]

    refund = api.post("/v1/refunds", payment_intent=intent["id"], amount="500")
    assert refund.status_code == 200, refund.text
    assert api.get(f"/v1/charges/{charge['id']}").json()["amount_refunded"] == 500
    for stream, obj in (("payment_intents", intent), ("charges", charge)):
        jsonschema.Draft7Validator(load_schema(stream)).validate(obj)


def test_without_payment_method_types_confirming_needs_a_return_url_and_nothing_is_made(emulator, api):
    refused = api.post("/v1/payment_intents", amount="2000", currency="usd", confirm="true", payment_method="pm_card_visa")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "return_url"
    assert "payment_method_types[]=card" in refused.json()["error"]["message"]
    assert emulator.store.count("payment_intents") == 0 and emulator.store.count("charges") == 0
    never = {"automatic_payment_methods[enabled]": "true", "automatic_payment_methods[allow_redirects]": "never"}
    paid = api.post("/v1/payment_intents", amount="2000", currency="usd", confirm="true", payment_method="pm_card_visa", **never)
    assert paid.status_code == 200 and paid.json()["automatic_payment_methods"] == {"allow_redirects": "never", "enabled": True}


@pytest.mark.parametrize("test_id", [name for name, (_, last4, _) in TEST_CARDS.items() if last4 in DECLINES])
def test_each_declining_test_card_answers_402_with_stripes_codes(emulator, api, test_id):
    decline = DECLINES[TEST_CARDS[test_id][1]]
    declined = api.post("/v1/payment_intents", amount="1500", currency="usd", confirm="true", payment_method=test_id, **CARD_ONLY)
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"], error["message"]) == (
        "card_error",
        decline.code,
        decline.decline_code,
        decline.message,
    )
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method" and intent["payment_method"] is None
    assert intent["last_payment_error"]["decline_code"] == decline.decline_code
    charge = api.get(f"/v1/charges/{error['charge']}").json()
    assert (charge["status"], charge["paid"], charge["failure_code"], charge["balance_transaction"]) == (
        "failed",
        False,
        decline.code,
        None,
    )
    assert charge["outcome"]["type"] == ("blocked" if decline.blocked else "issuer_declined")


def test_a_declined_intent_is_paid_by_confirming_again_with_another_card(emulator, api):
    before = len(emulator.store.all("events"))
    declined = api.post(
        "/v1/payment_intents",
        amount="1500",
        currency="usd",
        confirm="true",
        payment_method="pm_card_chargeDeclinedInsufficientFunds",
        **CARD_ONLY,
    )
    intent_id = declined.json()["error"]["payment_intent"]["id"]
    again = api.post(f"/v1/payment_intents/{intent_id}/confirm", payment_method="pm_card_mastercard")
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    charges = api.get("/v1/charges", payment_intent=intent_id).json()["data"]
    assert sorted(c["status"] for c in charges) == ["failed", "succeeded"]
    assert event_types(emulator, before) == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    done = api.post(f"/v1/payment_intents/{intent_id}/confirm")
    assert done.status_code == 400 and done.json()["error"]["code"] == "payment_intent_unexpected_state"
    assert "status of succeeded" in done.json()["error"]["message"]


def test_a_declined_confirm_is_replayed_for_the_same_idempotency_key(emulator, api):
    headers = {"Idempotency-Key": "decline-once"}
    first = api.post(
        "/v1/payment_intents",
        headers=headers,
        amount="1500",
        currency="usd",
        confirm="true",
        payment_method="pm_card_chargeDeclined",
        **CARD_ONLY,
    )
    second = api.post(
        "/v1/payment_intents",
        headers=headers,
        amount="1500",
        currency="usd",
        confirm="true",
        payment_method="pm_card_chargeDeclined",
        **CARD_ONLY,
    )
    assert first.status_code == second.status_code == 402 and second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert emulator.store.count("payment_intents") == 1 and emulator.store.count("charges") == 1


def test_manual_capture_authorizes_then_captures_part_and_releases_the_rest(emulator, api):
    created = api.post(
        "/v1/payment_intents", amount="3000", currency="usd", capture_method="manual", payment_method="pm_card_amex", **CARD_ONLY
    ).json()
    assert created["status"] == "requires_confirmation"
    authorized = api.post(f"/v1/payment_intents/{created['id']}/confirm").json()
    assert (authorized["status"], authorized["amount_capturable"]) == ("requires_capture", 3000)
    charge = api.get(f"/v1/charges/{authorized['latest_charge']}").json()
    assert (charge["status"], charge["captured"], charge["balance_transaction"]) == ("succeeded", False, None)
    too_much = api.post(f"/v1/payment_intents/{created['id']}/capture", amount_to_capture="3001")
    assert too_much.status_code == 400 and too_much.json()["error"]["param"] == "amount_to_capture"
    captured = api.post(f"/v1/payment_intents/{created['id']}/capture", amount_to_capture="2500").json()
    assert (captured["status"], captured["amount_received"], captured["amount_capturable"]) == ("succeeded", 2500, 0)
    charge = api.get(f"/v1/charges/{charge['id']}").json()
    assert (charge["captured"], charge["amount_captured"], charge["amount_refunded"]) == (True, 2500, 500)
    assert api.get(f"/v1/balance_transactions/{charge['balance_transaction']}").json()["amount"] == 2500
    again = api.post(f"/v1/payment_intents/{created['id']}/capture")
    assert again.status_code == 400 and again.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_cancel_releases_an_authorization_and_a_succeeded_intent_cannot_be_canceled(emulator, api):
    held = api.post(
        "/v1/payment_intents",
        amount="3000",
        currency="usd",
        capture_method="manual",
        confirm="true",
        payment_method="pm_card_visa",
        **CARD_ONLY,
    ).json()
    canceled = api.post(f"/v1/payment_intents/{held['id']}/cancel", cancellation_reason="abandoned").json()
    assert (canceled["status"], canceled["cancellation_reason"]) == ("canceled", "abandoned") and canceled["canceled_at"]
    assert api.get(f"/v1/charges/{held['latest_charge']}").json()["refunded"] is True
    paid = api.post("/v1/payment_intents", amount="3000", currency="usd", confirm="true", payment_method="pm_card_visa", **CARD_ONLY).json()
    refused = api.post(f"/v1/payment_intents/{paid['id']}/cancel")
    assert refused.status_code == 400 and "status of succeeded" in refused.json()["error"]["message"]


def test_an_intent_made_without_a_card_waits_for_one(emulator, api):
    intent = api.post("/v1/payment_intents", amount="990", currency="eur", **CARD_ONLY).json()
    assert intent["status"] == "requires_payment_method" and intent["currency"] == "eur"
    missing = api.post(f"/v1/payment_intents/{intent['id']}/confirm")
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "payment_method"
    updated = api.post(f"/v1/payment_intents/{intent['id']}", payment_method="pm_card_visa", **{"metadata[order]": "7"}).json()
    assert updated["status"] == "requires_confirmation" and updated["metadata"] == {"order": "7"}
    assert api.post(f"/v1/payment_intents/{intent['id']}/confirm").json()["status"] == "succeeded"


def test_bad_input_names_the_field(emulator, api):
    cases = [
        ({"currency": "usd"}, "amount", "parameter_missing"),
        ({"amount": "49", "currency": "usd"}, "amount", "amount_too_small"),
        ({"amount": "100", "currency": "usd", "payment_method": "pm_nothing"}, "payment_method", "resource_missing"),
        ({"amount": "100", "currency": "usd", "customer": "cus_nobody"}, "customer", "resource_missing"),
        ({"amount": "100", "currency": "usd", "capture_method": "later"}, "capture_method", None),
        ({"amount": "100", "currency": "usd", "colour": "red"}, "colour", "parameter_unknown"),
    ]
    for data, param, code in cases:
        answer = api.post("/v1/payment_intents", **data)
        assert answer.status_code == 400, data
        assert answer.json()["error"]["param"] == param and answer.json()["error"].get("code") == code, answer.json()
    assert emulator.store.count("payment_intents") == 0


def test_setup_future_usage_saves_the_card_on_the_customer(emulator, api):
    customer = api.post("/v1/customers", email="saver@example.com").json()["id"]
    intent = api.post(
        "/v1/payment_intents",
        amount="2000",
        currency="usd",
        customer=customer,
        confirm="true",
        payment_method="pm_card_visa",
        setup_future_usage="off_session",
        **CARD_ONLY,
    ).json()
    saved = api.get(f"/v1/customers/{customer}/payment_methods").json()["data"]
    assert [m["id"] for m in saved] == [intent["payment_method"]] and saved[0]["card"]["last4"] == "4242"
    assert saved[0]["type"] == "card" and "acss_debit" not in saved[0]  # a card payment method holds only its card
    attached = [e for e in emulator.store.all("events") if e["type"] == "payment_method.attached"]
    assert [e["data"]["object"]["id"] for e in attached] == [intent["payment_method"]]
    jsonschema.Draft7Validator(load_schema("payment_methods")).validate(saved[0])
    other = api.post("/v1/customers", email="other@example.com").json()["id"]
    refused = api.post(
        "/v1/payment_intents", amount="2000", currency="usd", customer=other, payment_method=intent["payment_method"], **CARD_ONLY
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "payment_method"
