"""The emulator bills subscriptions the way Stripe does (``stripe_emulator.billing_cycle``), seen
through its HTTP API: an invoice per period paid by a charge through a payment intent, balance
transactions for charges, refunds, disputes and payouts, deterministic from a seed."""

import itertools
import time
from collections import Counter

import jsonschema
import pytest
import requests

from source_stripe_proxy.data import load_schema
from stripe_emulator import StripeEmulator, billing, billing_cycle, payments
from stripe_emulator.billing_cycle import CARD_FEE_FIXED, DISPUTE_FEE, RETRY_SCHEDULE_DAYS, SETUP_FEE, card_fee, run_billing
from stripe_emulator.persistence import load_from_file, save_to_file

KEY = "sk_test_billingCYCLE01"
DAY = 86_400
NOW = 1_760_000_000  # a Thursday; the account's history is the 200 days before it
STREAM_OF = {
    "invoices": "invoices",
    "charges": "charges",
    "payment_intents": "payment_intents",
    "refunds": "refunds",
    "disputes": "disputes",
    "credit_notes": "credit_notes",
    "payouts": "payouts",
    "invoiceitems": "invoice_items",
    "balance_transactions": "balance_transactions",
    "subscriptions": "subscriptions",
    "events": "events",
}


def sample_account(emulator, customers=80):
    """Monthly and yearly subscribers signing up over 200 days; some with a trial."""
    store, start = emulator.store, NOW - 200 * DAY
    emulator.set_time(start)
    product = store.add("products", {"name": "Growth"}, emit_event=True)["id"]
    monthly = store.add(
        "prices", {"product": product, "unit_amount": 4900, "currency": "usd", "recurring": {"interval": "month"}}, emit_event=True
    )["id"]
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
        "invoices": [
            (
                i["subscription"],
                i["created"],
                i["billing_reason"],
                i["status"],
                i["total"],
                i["attempt_count"],
                charges[i["charge"]]["amount_refunded"] if i["charge"] else None,
            )
            for i in invoices
        ],
        "charges": sorted((c["created"], c["amount"], c["status"], c["disputed"]) for c in charges.values()),
        "balance_transactions": sorted(
            (t["created"], t["type"], t["amount"], t["fee"], t["status"]) for t in store.all("balance_transactions")
        ),
        "payouts": sorted((p["created"], p["amount"], p["status"]) for p in store.all("payouts")),
        "subscriptions": sorted(
            (s["id"], s["status"], s["current_period_end"], s["latest_invoice"] is not None) for s in store.all("subscriptions")
        ),
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
        assert all(end == next_start for (_, end), (next_start, _) in itertools.pairwise(periods))
        assert periods[-1] == (sub["current_period_start"], sub["current_period_end"])
        assert sub["latest_invoice"] == mine[-1]["id"]
        if sub["status"] == "canceled":  # dunning gave up: the last renewal's every attempt declined
            assert sub["cancellation_details"]["reason"] == "payment_failed" and sub["ended_at"] <= NOW
            assert mine[-1]["status"] == "uncollectible" and mine[-1]["attempt_count"] == 1 + len(RETRY_SCHEDULE_DAYS)
            assert mine[-1]["status_transitions"]["marked_uncollectible_at"] == sub["canceled_at"]
        else:
            assert sub["current_period_end"] > NOW
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
                assert intent["status"] == "requires_payment_method" and intent["last_payment_error"]["charge"] == paid_by["id"]
                continue
            if invoice["status"] == "uncollectible":
                assert paid_by["status"] == "failed" and invoice["next_payment_attempt"] is None and invoice["amount_paid"] == 0
                continue
            assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"] and invoice["charge"] == paid_by["id"]
            assert intent["status"] == "succeeded" and paid_by["status"] == "succeeded"
            txn = txns[paid_by["balance_transaction"]]
            assert (txn["type"], txn["source"], txn["amount"]) == ("charge", paid_by["id"], invoice["total"])
            assert txn["fee"] == card_fee(invoice["total"]) > CARD_FEE_FIXED and txn["net"] == txn["amount"] - txn["fee"]
            assert txn["available_on"] == paid_by["created"] + 2 * DAY
    declined = [c for c in charges.values() if c["status"] == "failed"]
    assert declined and all(c["failure_code"] == "card_declined" and c["balance_transaction"] is None for c in declined)
    assert {c["outcome"]["reason"] for c in declined} == {"insufficient_funds", "generic_decline"}
    # Recovered by a retry (dunning): a renewal on the account's schedule, a sign-up paid again within 23 hours.
    recovered = [i for i in invoices if i["status"] == "paid" and i["attempt_count"] > 1]
    renewals = [i for i in recovered if i["billing_reason"] == "subscription_cycle"]
    assert renewals and {i["attempt_count"] for i in renewals} >= {2, 3}
    for invoice in renewals:
        waited = sum(RETRY_SCHEDULE_DAYS[: invoice["attempt_count"] - 1]) * DAY
        assert charges[invoice["charge"]]["created"] == invoice["created"] + waited
    for invoice in recovered:
        if invoice["billing_reason"] == "subscription_create":
            assert invoice["attempt_count"] == 2 and 0 < charges[invoice["charge"]]["created"] - invoice["created"] < 23 * 3600
    churned = list(api_list(emulator, "subscriptions", status="canceled"))
    assert churned and all(s["cancellation_details"]["reason"] == "payment_failed" for s in churned)
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
        sub = next(s for s in emulator.store.all("subscriptions") if s["status"] == "active")
        emulator.set_time(NOW - 150 * DAY)
        response = requests.post(
            f"{emulator.url}/v1/subscriptions/{sub['id']}",
            data={"cancel_at_period_end": "true"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        assert response.status_code == 200
        invoices_before = [i for i in emulator.store.all("invoices") if i["subscription"] == sub["id"]]
        run_billing(emulator.store, NOW, seed=1)
        ended = emulator.store.get("subscriptions", sub["id"])
        assert ended["status"] == "canceled" and ended["ended_at"] == sub["current_period_end"]
        assert [i for i in emulator.store.all("invoices") if i["subscription"] == sub["id"]] == invoices_before
        deleted = [e for e in emulator.store.all("events") if e["type"] == "customer.subscription.deleted"]
        assert [(e["data"]["object"]["id"], e["created"]) for e in deleted] == [(sub["id"], sub["current_period_end"])]


def test_a_card_that_starts_to_decline_makes_the_renewal_past_due_then_dunning_recovers_it_or_cancels(monkeypatch):
    """Stripe's test card 4000 0000 0000 0341 (pm_card_chargeCustomerFail) saved as the default:
    every renewal attempt declines. One customer saves a working card between two retries and the
    next retry pays; the other never does, and after the last retry the invoice is uncollectible
    and the subscription canceled for payment_failed."""
    monkeypatch.setattr(billing_cycle, "DECLINED_SHARE", 0.0)  # only the cards decide here
    with StripeEmulator(api_key=KEY, seed=5) as emulator:
        store, start = emulator.store, NOW - 100 * DAY
        emulator.set_time(start)
        product = store.add("products", {"name": "Growth"}, emit_event=True)["id"]
        price = store.add(
            "prices", {"product": product, "unit_amount": 4900, "currency": "usd", "recurring": {"interval": "month"}}, emit_event=True
        )["id"]
        fixes, never, at_sign_up = (
            store.add("customers", {"email": f"{n}@example.com", "currency": "usd"}, emit_event=True)["id"]
            for n in ("fixes", "never", "sign-up")
        )
        subs = {c: store.add("subscriptions", {"customer": c, "items": [{"price": price}]}, emit_event=True)["id"] for c in (fixes, never)}
        run_billing(store, start + 20 * DAY, seed=1)
        emulator.set_time(start + 25 * DAY)
        for customer in (fixes, never, at_sign_up):
            card = payments.card_method(store, "pm_card_chargeCustomerFail", customer=customer)
            billing.update(store, "customers", customer, invoice_settings={"default_payment_method": card["id"]})
        emulator.set_time(start + 26 * DAY)
        signed_up = store.add("subscriptions", {"customer": at_sign_up, "items": [{"price": price}]}, emit_event=True)["id"]
        renewal = store.get("subscriptions", subs[never])["current_period_end"]
        run_billing(store, renewal + 4 * DAY, seed=1)
        for customer, sub_id in subs.items():
            sub = store.get("subscriptions", sub_id)
            invoice = store.get("invoices", sub["latest_invoice"])
            assert sub["status"] == "past_due" and store.get("customers", customer)["delinquent"] is True
            assert (invoice["status"], invoice["attempt_count"], invoice["next_payment_attempt"]) == ("open", 2, renewal + 8 * DAY)
        past_due = api_list(emulator, "subscriptions", status="past_due")
        assert sorted(s["id"] for s in past_due) == sorted(subs.values())
        # The sign-up whose first payment declined: incomplete until the customer paid on the spot.
        sign_up = [
            e["data"]["object"]["status"]
            for e in reversed(store.all("events"))
            if e["type"].startswith("customer.subscription.") and e["data"]["object"]["id"] == signed_up
        ]
        assert [s for i, s in enumerate(sign_up) if i == 0 or sign_up[i - 1] != s] == ["active", "incomplete", "active"] and store.get(
            "subscriptions", signed_up
        )["status"] == "active"

        emulator.set_time(renewal + 5 * DAY)  # between the first and the second retry
        card = payments.card_method(store, "pm_card_visa", customer=fixes)
        billing.update(store, "customers", fixes, invoice_settings={"default_payment_method": card["id"]})
        run_billing(store, renewal + 20 * DAY, seed=1)

        recovered = store.get("subscriptions", subs[fixes])
        invoice = store.get("invoices", recovered["latest_invoice"])
        assert recovered["status"] == "active" and (invoice["status"], invoice["attempt_count"]) == ("paid", 3)
        assert store.get("charges", invoice["charge"])["created"] == renewal + 8 * DAY
        assert store.get("charges", invoice["charge"])["payment_method"] == card["id"]
        assert store.get("customers", fixes)["delinquent"] is False

        churned = store.get("subscriptions", subs[never])
        invoice = store.get("invoices", churned["latest_invoice"])
        assert (churned["status"], churned["cancellation_details"]["reason"], churned["ended_at"]) == (
            "canceled",
            "payment_failed",
            renewal + 15 * DAY,
        )
        assert (invoice["status"], invoice["attempt_count"], invoice["next_payment_attempt"]) == ("uncollectible", 4, None)
        failed = sorted((c for c in store.all("charges") if c["invoice"] == invoice["id"]), key=lambda c: c["created"])
        assert [c["created"] - renewal for c in failed] == [0, 3 * DAY, 8 * DAY, 15 * DAY]
        assert all(
            c["status"] == "failed" and c["outcome"]["reason"] == "generic_decline" and c["balance_transaction"] is None for c in failed
        )
        intent = store.get("payment_intents", invoice["payment_intent"])
        assert intent["status"] == "requires_payment_method" and intent["last_payment_error"]["charge"] == failed[-1]["id"]
        told = [
            e["type"]
            for e in reversed(store.all("events"))
            if e["data"]["object"].get("id") in (invoice["id"], subs[never]) and e["created"] >= renewal
        ]
        assert told == [
            "invoice.created",
            "customer.subscription.updated",
            "invoice.finalized",
            "invoice.payment_failed",
            "customer.subscription.updated",
            "invoice.payment_failed",
            "invoice.payment_failed",
            "invoice.payment_failed",
            "invoice.marked_uncollectible",
            "customer.subscription.deleted",
        ]
