"""The emulator bills subscriptions the way Stripe does (``stripe_emulator.billing_cycle``), seen
through its HTTP API: an invoice per period paid by a charge through a payment intent, balance
transactions for charges, refunds, disputes and payouts, deterministic from a seed."""

import time
from collections import Counter

import jsonschema
import pytest
import requests

from source_stripe_proxy.data import load_schema
from stripe_emulator import StripeEmulator
from stripe_emulator.billing_cycle import CARD_FEE_FIXED, DISPUTE_FEE, SETUP_FEE, card_fee, run_billing
from stripe_emulator.persistence import load_from_file, save_to_file

KEY = "sk_test_billingCYCLE01"
DAY = 86_400
NOW = 1_760_000_000  # a Thursday; the account's history is the 200 days before it
STREAM_OF = {"invoices": "invoices", "charges": "charges", "payment_intents": "payment_intents", "refunds": "refunds",
             "disputes": "disputes", "credit_notes": "credit_notes", "payouts": "payouts", "invoiceitems": "invoice_items",
             "balance_transactions": "balance_transactions", "subscriptions": "subscriptions", "events": "events"}


def sample_account(emulator, customers=80):
    """Monthly and yearly subscribers signing up over 200 days; some with a trial."""
    store, start = emulator.store, NOW - 200 * DAY
    emulator.set_time(start)
    product = store.add("products", {"name": "Growth"}, emit_event=True)["id"]
    monthly = store.add("prices", {"product": product, "unit_amount": 4900, "currency": "usd", "recurring": {"interval": "month"}}, emit_event=True)["id"]
    yearly = store.add("plans", {"product": product, "amount": 49000, "currency": "usd", "interval": "year"}, emit_event=True)["id"]
    for n in range(customers):
        emulator.set_time(start + n * 2 * DAY + 3600)
        customer = store.add("customers", {"email": f"c{n}@example.com", "name": f"Customer {n}", "currency": "usd"}, emit_event=True)["id"]
        fields = {"customer": customer, "items": [{"price": yearly if n % 4 == 0 else monthly, "quantity": 1 + n % 3}]}
        if n % 5 == 0:
            fields["trial_period_days"] = 14
        store.add("subscriptions", fields, emit_event=True)
    emulator.set_time(NOW)


def api_list(emulator, resource, **params):
    out, params = [], dict(params, limit=100)
    while True:
        page = requests.get(f"{emulator.url}/v1/{resource}", params=params, headers={"Authorization": f"Bearer {KEY}"}, timeout=30).json()
        out.extend(page["data"])
        if not page["has_more"]:
            return out
        params["starting_after"] = page["data"][-1]["id"]


def shape(store):
    """The account without its generated ids: what billing decided, per subscription and period."""
    invoices = sorted(store.all("invoices"), key=lambda i: (i["subscription"], i["created"]))
    charges = {c["id"]: c for c in store.all("charges")}
    return {
        "invoices": [(i["subscription"], i["created"], i["billing_reason"], i["status"], i["total"], i["attempt_count"],
                      charges[i["charge"]]["amount_refunded"] if i["charge"] else None) for i in invoices],
        "charges": sorted((c["created"], c["amount"], c["status"], c["disputed"]) for c in charges.values()),
        "balance_transactions": sorted((t["created"], t["type"], t["amount"], t["fee"], t["status"]) for t in store.all("balance_transactions")),
        "payouts": sorted((p["created"], p["amount"], p["status"]) for p in store.all("payouts")),
        "subscriptions": sorted((s["id"], s["status"], s["current_period_end"], s["latest_invoice"] is not None) for s in store.all("subscriptions")),
        "events": sorted(Counter(e["type"] for e in store.all("events")).items()),
    }


@pytest.fixture(scope="module")
def billed():
    with StripeEmulator(api_key=KEY, seed=41) as emulator:
        sample_account(emulator)
        created = run_billing(emulator.store, NOW, seed=7)
        yield emulator, created


def test_every_period_is_invoiced_and_paid_through_a_payment_intent_and_a_charge(billed):
    emulator, created = billed
    invoices = api_list(emulator, "invoices")
    charges = {c["id"]: c for c in api_list(emulator, "charges")}
    intents = {p["id"]: p for p in api_list(emulator, "payment_intents")}
    txns = {t["id"]: t for t in api_list(emulator, "balance_transactions")}
    assert len(invoices) == created["invoices"] and len(charges) == created["charges"]
    for sub in api_list(emulator, "subscriptions", status="all"):
        mine = sorted((i for i in invoices if i["subscription"] == sub["id"]), key=lambda i: i["created"])
        assert mine[0]["billing_reason"] == "subscription_create" and mine[0]["created"] == sub["created"]
        assert all(i["billing_reason"] == "subscription_cycle" for i in mine[1:])
        # one invoice per period, back to back, the last one the subscription's current period
        periods = [(i["lines"]["data"][0]["period"]["start"], i["lines"]["data"][0]["period"]["end"]) for i in mine]
        assert all(end == next_start for (_, end), (next_start, _) in zip(periods, periods[1:]))
        assert periods[-1] == (sub["current_period_start"], sub["current_period_end"]) and sub["current_period_end"] > NOW
        assert sub["latest_invoice"] == mine[-1]["id"]
        price = sub["items"]["data"][0]["price"]
        for invoice in mine:
            subscription_lines = [line for line in invoice["lines"]["data"] if line["type"] == "subscription"]
            free = invoice["lines"]["data"][0]["description"].startswith("Trial period")
            assert [line["subscription_item"] for line in subscription_lines] == [sub["items"]["data"][0]["id"]]
            assert subscription_lines[0]["amount"] == (0 if free else price["unit_amount"] * sub["items"]["data"][0]["quantity"])
            assert invoice["total"] == sum(line["amount"] for line in invoice["lines"]["data"])
            if invoice["total"] == 0:  # a trial: paid at once, nothing to charge
                assert invoice["status"] == "paid" and invoice["charge"] is None and invoice["payment_intent"] is None
                continue
            intent = intents[invoice["payment_intent"]]
            assert intent["invoice"] == invoice["id"] and intent["amount"] == invoice["total"]
            paid_by = charges[intent["latest_charge"]]
            assert paid_by["invoice"] == invoice["id"] and paid_by["payment_intent"] == intent["id"]
            if invoice["status"] == "open":  # declined, retry still ahead
                assert paid_by["status"] == "failed" and invoice["next_payment_attempt"] > NOW and sub["status"] == "past_due"
                continue
            assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"] and invoice["charge"] == paid_by["id"]
            assert intent["status"] == "succeeded" and paid_by["status"] == "succeeded"
            txn = txns[paid_by["balance_transaction"]]
            assert (txn["type"], txn["source"], txn["amount"]) == ("charge", paid_by["id"], invoice["total"])
            assert txn["fee"] == card_fee(invoice["total"]) > CARD_FEE_FIXED and txn["net"] == txn["amount"] - txn["fee"]
            assert txn["available_on"] == paid_by["created"] + 2 * DAY
    declined = [c for c in charges.values() if c["status"] == "failed"]
    assert declined and all(c["failure_code"] == "card_declined" and c["balance_transaction"] is None for c in declined)
    retried = [i for i in invoices if i["attempt_count"] == 2]
    assert retried and all(charges[i["charge"]]["created"] == i["created"] + 3 * DAY for i in retried)
    setup_fees = [line for i in invoices for line in i["lines"]["data"] if line["type"] == "invoiceitem"]
    assert setup_fees and {line["amount"] for line in setup_fees} == {SETUP_FEE}
    assert len(api_list(emulator, "invoiceitems")) == len(setup_fees)


def test_refunds_disputes_and_payouts_move_the_balance_like_stripe(billed):
    emulator, _ = billed
    txns = api_list(emulator, "balance_transactions")
    charges = {c["id"]: c for c in api_list(emulator, "charges")}
    refunds, disputes, payouts = api_list(emulator, "refunds"), api_list(emulator, "disputes"), api_list(emulator, "payouts")
    notes = {n["refund"]: n for n in api_list(emulator, "credit_notes")}
    assert refunds and disputes and payouts
    by_source = {t["source"]: t for t in txns}
    for refund in refunds:
        charge = charges[refund["charge"]]
        assert charge["amount_refunded"] == refund["amount"] and charge["refunded"] == (refund["amount"] == charge["amount"])
        assert by_source[refund["id"]]["amount"] == -refund["amount"] and refund["balance_transaction"] == by_source[refund["id"]]["id"]
        assert notes[refund["id"]]["invoice"] == charge["invoice"] and notes[refund["id"]]["amount"] == refund["amount"]
    for dispute in disputes:
        assert charges[dispute["charge"]]["disputed"] is True
        withdrawal = by_source[dispute["id"]]
        assert (withdrawal["amount"], withdrawal["fee"], withdrawal["type"]) == (-dispute["amount"], DISPUTE_FEE, "adjustment")
    # weekly payouts (Mondays 06:00 UTC) of what became available since the one before
    assert all(time.gmtime(p["created"]).tm_wday == 0 and time.gmtime(p["created"]).tm_hour == 6 for p in payouts)
    paid_out = 0
    for payout in sorted(payouts, key=lambda p: p["created"]):
        available = sum(t["net"] for t in txns if t["type"] != "payout" and t["available_on"] <= payout["created"])
        assert payout["amount"] == available - paid_out > 0
        assert by_source[payout["id"]]["amount"] == -payout["amount"]
        assert payout["status"] == ("paid" if payout["arrival_date"] <= NOW else "in_transit")
        paid_out += payout["amount"]
    assert all(t["status"] == ("available" if t["available_on"] <= NOW else "pending") for t in txns)


def test_every_billing_object_matches_its_stream_schema_and_every_change_has_its_event(billed):
    emulator, created = billed
    store = emulator.store
    for resource, stream in STREAM_OF.items():
        validator = jsonschema.Draft7Validator(load_schema(stream))
        for obj in store.all(resource):
            validator.validate(obj)
    line_validator = jsonschema.Draft7Validator(load_schema("invoice_line_items"))
    for invoice in store.all("invoices"):
        for line in invoice["lines"]["data"]:
            line_validator.validate(line)
    events = Counter(e["type"] for e in store.all("events"))
    assert events["invoice.created"] == events["invoice.finalized"] == created["invoices"]
    assert events["charge.succeeded"] + events["charge.failed"] == created["charges"]
    assert events["payment_intent.created"] == created["payment_intents"]
    assert events["refund.created"] == created["refunds"] and events["charge.dispute.created"] == created["disputes"]
    assert events["payout.created"] == created["payouts"]
    assert max(e["created"] for e in store.all("events")) <= NOW  # nothing from the future


def test_the_same_seed_gives_the_same_account_and_billing_in_steps_gives_the_same_as_at_once(tmp_path):
    with StripeEmulator(api_key=KEY, seed=41) as once, StripeEmulator(api_key=KEY, seed=41) as again:
        for emulator in (once, again):
            sample_account(emulator, customers=40)
        run_billing(once.store, NOW, seed=7)
        run_billing(again.store, NOW, seed=7)
        assert once.store.all("invoices") == again.store.all("invoices")  # ids too: a seeded store
        assert once.store.all("events") == again.store.all("events")
        with StripeEmulator(api_key=KEY, seed=41) as other_seed:
            sample_account(other_seed, customers=40)
            run_billing(other_seed.store, NOW, seed=8)
            assert shape(other_seed.store) != shape(once.store)

    with StripeEmulator(api_key=KEY, seed=41) as stepped:
        sample_account(stepped, customers=40)
        run_billing(stepped.store, NOW - 90 * DAY, seed=7)
        save_to_file(stepped, tmp_path / "account.json")  # a later run starts from the saved account
    with StripeEmulator(api_key=KEY, seed=41) as resumed:
        assert load_from_file(resumed, tmp_path / "account.json")
        run_billing(resumed.store, NOW - 30 * DAY, seed=7)
        run_billing(resumed.store, NOW, seed=7)
        assert run_billing(resumed.store, NOW, seed=7) == Counter()  # nothing twice
        assert shape(resumed.store) == shape(once.store)


def test_a_subscription_set_to_cancel_at_the_period_end_ends_then_without_another_invoice():
    with StripeEmulator(api_key=KEY, seed=3) as emulator:
        sample_account(emulator, customers=2)
        run_billing(emulator.store, NOW - 150 * DAY, seed=1)
        sub = [s for s in emulator.store.all("subscriptions") if s["status"] == "active"][0]
        emulator.set_time(NOW - 150 * DAY)
        response = requests.post(f"{emulator.url}/v1/subscriptions/{sub['id']}", data={"cancel_at_period_end": "true"},
                                 headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert response.status_code == 200
        invoices_before = [i for i in emulator.store.all("invoices") if i["subscription"] == sub["id"]]
        run_billing(emulator.store, NOW, seed=1)
        ended = emulator.store.get("subscriptions", sub["id"])
        assert ended["status"] == "canceled" and ended["ended_at"] == sub["current_period_end"]
        assert [i for i in emulator.store.all("invoices") if i["subscription"] == sub["id"]] == invoices_before
        deleted = [e for e in emulator.store.all("events") if e["type"] == "customer.subscription.deleted"]
        assert [(e["data"]["object"]["id"], e["created"]) for e in deleted] == [(sub["id"], sub["current_period_end"])]
