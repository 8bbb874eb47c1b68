"""Actions outside the seed, generated from Stripe's spec, through `stripe-connection` on loopback:
delete customer, create invoice_item, create + finalize invoice, create refund, create coupon,
cancel subscription. The emulator in all three connection modes; localstripe where it has
the endpoint (it has no /finalize, refunds need its card tokens, and coupons an id)."""

import pytest

from integration_tests.harness import MODES, cli, ok


@pytest.mark.parametrize("mode", MODES)
def test_invoice_items_invoices_refunds_coupons_and_deletes(emulator_upstream, seeded_emulator, mode):
    env = emulator_upstream.env(mode)
    customer = ok(env, "create", "customer", f"email=billing-{mode}@example.com", f"name=Billing {mode}")

    item = ok(
        env,
        "create",
        "invoice_item",
        f"customer_id={customer['id']}",
        "amount=1500",
        "currency=USD",
        "description=Onboarding",
        "metadata.source=actions",
    )
    assert (item["object"], item["amount"], item["currency"], item["metadata"]) == ("invoiceitem", 1500, "usd", {"source": "actions"})

    invoice = ok(
        env,
        block=f"action: create\nentity: invoices\ncustomer: {customer['id']}\n"
        "pending_invoice_items_behavior: include\ndescription: March\n",
    )
    assert (invoice["status"], invoice["amount_due"]) == ("draft", 1500)
    assert [line["invoice_item"] for line in invoice["lines"]["data"]] == [item["id"]]
    finalized = ok(env, "finalize", "invoice", f"invoice_id={invoice['id']}")
    assert (finalized["id"], finalized["status"]) == (invoice["id"], "open")
    code, error, _ = cli(env, "finalize", "invoice", f"id={invoice['id']}")
    assert code == 1 and error["error"]["code"] == "invoice_not_editable"  # Stripe's refusal, passed through

    charge = seeded_emulator.store.add("charges", {"amount": 3000, "customer": customer["id"]})
    refund = ok(env, "create", "refund", f"charge={charge['id']}", "amount=1000", "reason=requested_by_customer")
    assert (refund["object"], refund["amount"], refund["charge"]) == ("refund", 1000, charge["id"])
    assert ok(env, "get", "charge", f"charge_id={charge['id']}")["amount_refunded"] == 1000

    coupon = ok(env, "create", "coupon", "percent_off=25", "duration=repeating", "duration_in_months=3", f"name=Quarter off {mode}")
    assert (coupon["object"], coupon["percent_off"], coupon["duration"]) == ("coupon", 25.0, "repeating")
    assert ok(env, "delete", "coupons", f"coupon={coupon['id']}")["deleted"] is True

    deleted = ok(env, "delete", "customer", f"customer_id={customer['id']}")
    assert deleted == {"id": customer["id"], "object": "customer", "deleted": True}
    assert ok(env, "get", "customer", f"id={customer['id']}")["deleted"] is True
    created = [e["type"] for e in seeded_emulator.events if e["data"]["object"].get("id") in (item["id"], invoice["id"])]
    assert {"invoiceitem.created", "invoice.created", "invoice.finalized"} <= set(created)


@pytest.mark.parametrize("mode", ["api_key", "paragon"])
def test_cancel_subscription_is_stripes_delete(emulator_upstream, mode):
    env = emulator_upstream.env(mode)
    customer = ok(env, "create", "customer", f"email=cancel-{mode}@example.com", "name=Cancel")
    product = ok(env, "create", "product", "name=Cancel plan")
    price = ok(env, "create", "price", f"product_id={product['id']}", "amount=900", "currency=usd", "interval=month")
    subscription = ok(env, "create", "subscription", f"customer_id={customer['id']}", f"price_id={price['id']}")
    canceled = ok(
        env,
        "cancel",
        "subscription",
        f"subscription_id={subscription['id']}",
        "cancellation_details.comment=Moving on",
        "invoice_now=false",
    )
    assert (canceled["id"], canceled["status"]) == (subscription["id"], "canceled")
    assert canceled["cancellation_details"]["comment"] == "Moving on"


def test_refused_before_sending_and_stripes_own_errors(emulator_upstream, seeded_emulator):
    env = emulator_upstream.env("pinkconnect")
    before = len(seeded_emulator.requests)
    for args, param in (
        (["create", "invoice_item", "customer=cus_1", "amount=15.00", "currency=usd"], "amount"),
        (["create", "coupon", "percent_off=10", "duration=repeating", "duration_in_months=three"], "duration_in_months"),
        (["create", "refund", "charge=ch_1", "reason=because"], "reason"),
        (["finalize", "invoice"], "invoice_id"),
        (["create", "coupon", "percent_of=10", "duration=once"], "percent_of"),
    ):
        code, data, _ = cli(env, *args)
        assert code == 1 and data["error"]["param"] == param, (args, data)
        assert data["error"]["type"] == "invalid_request_error"
    assert len(seeded_emulator.requests) == before  # nothing was sent
    code, data, _ = cli(env, "finalize", "invoice", "invoice=in_doesnotexist")
    assert (code, data["error"]["http_status"], data["error"]["code"]) == (1, 404, "resource_missing")


@pytest.mark.parametrize("mode", MODES)
def test_on_localstripe(localstripe_upstream, mode):
    env = localstripe_upstream.env(mode)
    customer = ok(env, "create", "customer", f"email=ls-{mode}@example.com", "name=Local")
    item = ok(env, "create", "invoice_item", f"customer={customer['id']}", "amount=700", "currency=usd")
    assert (item["object"], item["amount"], item["customer"]) == ("invoiceitem", 700, customer["id"])
    coupon = ok(env, "create", "coupon", f"id=LOCAL15-{mode}", "percent_off=15", "duration=once")  # localstripe wants an id
    assert (coupon["object"], coupon["id"], coupon["percent_off"]) == ("coupon", f"LOCAL15-{mode}", 15)
    assert ok(env, "delete", "customer", f"customer_id={customer['id']}")["deleted"] is True
