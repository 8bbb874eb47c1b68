"""The emulator's billing writes (stripe_emulator/billing_writes.py) over real HTTP: coupons,
invoice items, invoices and their finalization, refunds; Stripe's refusals and events."""

import pytest

from integration_tests.test_emulator import KEY, Client
from stripe_emulator import StripeEmulator


@pytest.fixture
def emu():
    with StripeEmulator(api_key=KEY, seed=11) as server:
        yield server


@pytest.fixture
def api(emu):
    return Client(emu.url)


@pytest.fixture
def customer(api):
    return api.post("/v1/customers", {"email": "bill@example.com", "name": "Bill"}).json()


def event_types(emu):
    return [event["type"] for event in reversed(emu.events)]


def test_coupon_create_delete_and_its_checks(emu, api):
    coupon = api.post(
        "/v1/coupons", {"percent_off": "12.5", "duration": "repeating", "duration_in_months": "3", "metadata[campaign]": "spring"}
    ).json()
    assert (coupon["object"], coupon["percent_off"], coupon["duration_in_months"]) == ("coupon", 12.5, 3)
    assert coupon["metadata"] == {"campaign": "spring"}
    assert api.get(f"/v1/coupons/{coupon['id']}").json()["id"] == coupon["id"]
    deleted = api.delete(f"/v1/coupons/{coupon['id']}").json()
    assert deleted == {"id": coupon["id"], "object": "coupon", "deleted": True}
    assert api.get(f"/v1/coupons/{coupon['id']}").status_code == 404
    assert event_types(emu)[-2:] == ["coupon.created", "coupon.deleted"]

    both = api.post("/v1/coupons", {"percent_off": "10", "amount_off": "100", "currency": "usd", "duration": "once"})
    assert both.status_code == 400
    assert api.post("/v1/coupons", {"amount_off": "100", "duration": "once"}).json()["error"]["param"] == "currency"
    assert api.post("/v1/coupons", {"percent_off": "5"}).json()["error"]["param"] == "duration"
    assert api.post("/v1/coupons", {"id": "SPRING", "percent_off": "5", "duration": "once"}).status_code == 200
    again = api.post("/v1/coupons", {"id": "SPRING", "percent_off": "5", "duration": "once"}).json()["error"]
    assert again["code"] == "resource_already_exists"


def test_pending_invoice_items_become_the_lines_of_a_finalized_invoice(emu, api, customer):
    first = api.post("/v1/invoiceitems", {"customer": customer["id"], "amount": "1500", "currency": "usd", "description": "Setup"}).json()
    second = api.post("/v1/invoiceitems", {"customer": customer["id"], "unit_amount": "250", "quantity": "2", "currency": "usd"}).json()
    assert (first["object"], first["invoice"], second["amount"]) == ("invoiceitem", None, 500)
    pending = api.get("/v1/invoiceitems", {"customer": customer["id"], "pending": "true"}).json()["data"]
    assert {item["id"] for item in pending} == {first["id"], second["id"]}

    invoice = api.post("/v1/invoices", {"customer": customer["id"], "pending_invoice_items_behavior": "include"}).json()
    assert (invoice["status"], invoice["amount_due"], invoice["customer_email"]) == ("draft", 2000, "bill@example.com")
    assert sorted(line["invoice_item"] for line in invoice["lines"]["data"]) == sorted([first["id"], second["id"]])
    assert api.get(f"/v1/invoiceitems/{first['id']}").json()["invoice"] == invoice["id"]

    finalized = api.post(f"/v1/invoices/{invoice['id']}/finalize").json()
    assert (finalized["status"], finalized["paid"]) == ("open", False)
    assert finalized["number"] and finalized["status_transitions"]["finalized_at"]
    again = api.post(f"/v1/invoices/{invoice['id']}/finalize").json()["error"]
    assert again["code"] == "invoice_not_editable"
    late = api.post("/v1/invoiceitems", {"customer": customer["id"], "amount": "1", "currency": "usd", "invoice": invoice["id"]}).json()[
        "error"
    ]
    assert late["param"] == "invoice"
    assert event_types(emu)[-5:] == [
        "invoiceitem.created",
        "invoiceitem.created",
        "invoice.created",
        "invoice.updated",
        "invoice.finalized",
    ]


def test_an_empty_invoice_is_paid_when_finalized(api, customer):
    invoice = api.post("/v1/invoices", {"customer": customer["id"]}).json()
    assert invoice["lines"]["data"] == [] and invoice["amount_due"] == 0
    finalized = api.post(f"/v1/invoices/{invoice['id']}/finalize").json()
    assert (finalized["status"], finalized["paid"]) == ("paid", True)


def test_invoice_writes_need_a_real_customer(api):
    assert api.post("/v1/invoices", {}).json()["error"]["param"] == "customer"
    missing = api.post("/v1/invoiceitems", {"customer": "cus_nope", "amount": "1", "currency": "usd"}).json()["error"]
    assert (missing["code"], missing["param"]) == ("resource_missing", "customer")


def test_refunds_reduce_what_is_left_of_the_charge(emu, api, customer):
    charge = emu.store.add("charges", {"amount": 2000, "customer": customer["id"]})
    refund = api.post("/v1/refunds", {"charge": charge["id"], "amount": "500", "reason": "requested_by_customer"}).json()
    assert (refund["object"], refund["amount"], refund["status"], refund["charge"]) == ("refund", 500, "succeeded", charge["id"])
    assert api.get(f"/v1/charges/{charge['id']}").json()["amount_refunded"] == 500
    too_much = api.post("/v1/refunds", {"charge": charge["id"], "amount": "1600"}).json()["error"]
    assert (too_much["code"], too_much["param"]) == ("amount_too_large", "amount")
    rest = api.post("/v1/refunds", {"charge": charge["id"]}).json()
    assert rest["amount"] == 1500
    assert api.get(f"/v1/charges/{charge['id']}").json()["refunded"] is True
    assert api.post("/v1/refunds", {}).json()["error"]["param"] == "charge"
    assert event_types(emu)[-4:] == ["refund.created", "charge.refunded", "refund.created", "charge.refunded"]
