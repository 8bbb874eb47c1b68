"""Billing and payments objects for the emulator: invoices (with their lines), invoice items,
charges, refunds, payment intents, payouts, coupons, promotion codes, disputes, credit notes.

Read-only over HTTP (list with `created` filters, retrieve; `/v1/invoices/{id}/lines`;
`/v1/subscription_items?subscription=`). Tests create, change and delete them through the
store: ``store.add("invoices", {...}, emit_event=True)``, ``update(store, ...)``,
``delete(store, ...)``, each recording the event Stripe would send.

Embedded lists are stored whole and rendered like Stripe renders them: the first 10 rows
and ``has_more`` (``render``), the rest through the list's own endpoint.

This module imports nothing from ``store.py`` at import time: ``store.py`` registers these
factories (``RESOURCES``, ``DEFAULTS``, ``derive``).
"""

from .schema import BOOL, INT, RANGE, STR, invalid, resource_missing, validate

EMBEDDED_PAGE = 10  # Stripe embeds the first 10 rows of a sub-list

# resource (URL name) -> (id prefix, "object" value)
RESOURCES = {
    "invoices": ("in", "invoice"),
    "invoiceitems": ("ii", "invoiceitem"),
    "charges": ("ch", "charge"),
    "refunds": ("re", "refund"),
    "payment_intents": ("pi", "payment_intent"),
    "payouts": ("po", "payout"),
    "coupons": ("co", "coupon"),
    "promotion_codes": ("promo", "promotion_code"),
    "disputes": ("dp", "dispute"),
    "credit_notes": ("cn", "credit_note"),
}
OBJECT_NAME = {
    "invoices": "invoice",
    "invoiceitems": "invoice item",
    "charges": "charge",
    "refunds": "refund",
    "payment_intents": "payment intent",
    "payouts": "payout",
    "coupons": "coupon",
    "promotion_codes": "promotion code",
    "disputes": "dispute",
    "credit_notes": "credit note",
}
PERMISSION = {
    "invoices": "invoice",
    "invoiceitems": "invoice",
    "charges": "charge",
    "refunds": "charge",
    "payment_intents": "payment_intent",
    "payouts": "payout",
    "coupons": "coupon",
    "promotion_codes": "coupon",
    "disputes": "dispute",
    "credit_notes": "credit_note",
    "subscription_items": "subscription",
}
EVENT_PREFIX = {"disputes": "charge.dispute"}  # Stripe names dispute events charge.dispute.*

_PAGING = {"limit": INT, "starting_after": STR, "ending_before": STR, "expand": ("array", STR)}
LIST = {
    "invoices": dict(_PAGING, created=RANGE, customer=STR, subscription=STR, status=STR, collection_method=STR, due_date=RANGE),
    "invoiceitems": dict(_PAGING, created=RANGE, customer=STR, invoice=STR, pending=BOOL),
    "charges": dict(_PAGING, created=RANGE, customer=STR, payment_intent=STR, transfer_group=STR),
    "refunds": dict(_PAGING, created=RANGE, charge=STR, payment_intent=STR),
    "payment_intents": dict(_PAGING, created=RANGE, customer=STR),
    "payouts": dict(_PAGING, created=RANGE, arrival_date=RANGE, destination=STR, status=STR),
    "coupons": dict(_PAGING, created=RANGE),
    "promotion_codes": dict(_PAGING, created=RANGE, active=BOOL, code=STR, coupon=STR, customer=STR),
    "disputes": dict(_PAGING, created=RANGE, charge=STR, payment_intent=STR),
    "credit_notes": dict(_PAGING, created=RANGE, customer=STR, invoice=STR),
}
EMBEDDED_LIST = dict(_PAGING)
SUBSCRIPTION_ITEMS_LIST = dict(_PAGING, subscription=STR)


def _equal_filters(*names):
    def filters(p):
        return [lambda o, n=name: o.get(n) == p[n] for name in names if name in p]

    return filters


FILTERS = {
    "invoices": _equal_filters("customer", "subscription", "status", "collection_method"),
    "invoiceitems": lambda p: (
        _equal_filters("customer", "invoice")(p) + ([lambda o: (o.get("invoice") is None) == p["pending"]] if "pending" in p else [])
    ),
    "charges": _equal_filters("customer", "payment_intent", "transfer_group"),
    "refunds": _equal_filters("charge", "payment_intent"),
    "payment_intents": _equal_filters("customer"),
    "payouts": _equal_filters("destination", "status"),
    "coupons": lambda p: [],
    "promotion_codes": _equal_filters("active", "code", "customer"),
    "disputes": _equal_filters("charge", "payment_intent"),
    "credit_notes": _equal_filters("customer", "invoice"),
}


# --------------------------------------------------------------------------
# Factories: (id, created, seq) -> the object with Stripe's defaults
# --------------------------------------------------------------------------


def _list(url, data=()):
    return {"object": "list", "data": list(data), "has_more": False, "total_count": len(data), "url": url}


def invoice_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Emulator",
        "amount_due": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": False,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_reason": "manual",
        "charge": None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "customer": None,
        "customer_email": None,
        "customer_name": None,
        "default_payment_method": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "due_date": None,
        "ending_balance": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "lines": _list(f"/v1/invoices/{oid}/lines"),
        "livemode": False,
        "metadata": {},
        "number": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
        "subscription": None,
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "tax": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_tax_amounts": [],
        "webhooks_delivered_at": None,
    }


def line_item(invoice_id, index, created, amount=1000, description=None):
    return {
        "id": f"il_{invoice_id[3:]}{index:04d}",
        "object": "line_item",
        "amount": amount,
        "amount_excluding_tax": amount,
        "currency": "usd",
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "invoice_item": None,
        "livemode": False,
        "metadata": {},
        "period": {"end": created, "start": created},
        "price": None,
        "proration": False,
        "proration_details": {"credited_items": None},
        "quantity": 1,
        "subscription": None,
        "subscription_item": None,
        "tax_amounts": [],
        "tax_rates": [],
        "type": "invoiceitem",
        "unit_amount_excluding_tax": str(amount),
    }


def invoiceitem_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "invoiceitem",
        "amount": 1000,
        "currency": "usd",
        "customer": None,
        "date": created,
        "description": None,
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "period": {"end": created, "start": created},
        "price": None,
        "proration": False,
        "quantity": 1,
        "subscription": None,
        "tax_rates": [],
        "test_clock": None,
        "unit_amount": 1000,
        "unit_amount_decimal": "1000",
    }


def charge_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "charge",
        "amount": 2000,
        "amount_captured": 2000,
        "amount_refunded": 0,
        "application": None,
        "balance_transaction": None,
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": created,
        "currency": "usd",
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "outcome": None,
        "paid": True,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": None,
        "receipt_email": None,
        "refunded": False,
        "status": "succeeded",
    }


def refund_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "refund",
        "amount": 500,
        "balance_transaction": None,
        "charge": None,
        "created": created,
        "currency": "usd",
        "metadata": {},
        "payment_intent": None,
        "reason": None,
        "receipt_number": None,
        "status": "succeeded",
    }


def payment_intent_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "payment_intent",
        "amount": 2000,
        "amount_capturable": 0,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": None,
        "confirmation_method": "automatic",
        "created": created,
        "currency": "usd",
        "customer": None,
        "description": None,
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def payout_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "payout",
        "amount": 10_000,
        "arrival_date": created + 2 * 86_400,
        "automatic": True,
        "balance_transaction": None,
        "created": created,
        "currency": "usd",
        "description": None,
        "destination": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "reconciliation_status": "not_applicable",
        "source_type": "card",
        "statement_descriptor": None,
        "status": "pending",
        "type": "bank_account",
    }


def coupon_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "coupon",
        "amount_off": None,
        "created": created,
        "currency": None,
        "duration": "once",
        "duration_in_months": None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": None,
        "percent_off": 10.0,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }


def promotion_code_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "promotion_code",
        "active": True,
        "code": f"CODE{seq}",
        "coupon": coupon_defaults("co_default", created, seq),
        "created": created,
        "customer": None,
        "expires_at": None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "restrictions": {"first_time_transaction": False, "minimum_amount": None, "minimum_amount_currency": None},
        "times_redeemed": 0,
    }


def dispute_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "dispute",
        "amount": 2000,
        "balance_transactions": [],
        "charge": "ch_unknown",
        "created": created,
        "currency": "usd",
        "evidence": {},
        "livemode": False,
        "metadata": {},
        "evidence_details": {"due_by": created + 7 * 86_400, "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": False,
        "payment_intent": None,
        "reason": "fraudulent",
        "status": "needs_response",
    }


def credit_note_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "credit_note",
        "amount": 500,
        "amount_shipping": 0,
        "created": created,
        "currency": "usd",
        "customer": "cus_unknown",
        "customer_balance_transaction": None,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice": "in_unknown",
        "lines": _list(f"/v1/credit_notes/{oid}/lines"),
        "livemode": False,
        "memo": None,
        "metadata": {},
        "number": f"CN-{seq:04d}",
        "pdf": f"https://pay.stripe.com/credit_notes/{oid}/pdf",
        "reason": None,
        "status": "issued",
        "subtotal": 500,
        "tax_amounts": [],
        "total": 500,
        "type": "pre_payment",
        "voided_at": None,
    }


DEFAULTS = {
    "invoices": invoice_defaults,
    "invoiceitems": invoiceitem_defaults,
    "charges": charge_defaults,
    "refunds": refund_defaults,
    "payment_intents": payment_intent_defaults,
    "payouts": payout_defaults,
    "coupons": coupon_defaults,
    "promotion_codes": promotion_code_defaults,
    "disputes": dispute_defaults,
    "credit_notes": credit_note_defaults,
}


def derive(resource, obj):
    """Create-style fields into object fields: invoices take `lines` as [{"amount": ...}, ...]."""
    if resource == "invoices" and isinstance(obj.get("lines"), list):
        lines = [line_item(obj["id"], i, obj["created"], **spec) for i, spec in enumerate(obj["lines"])]
        total = sum(line["amount"] for line in lines)
        obj.update(
            lines=_list(f"/v1/invoices/{obj['id']}/lines", lines),
            subtotal=total,
            total=total,
            subtotal_excluding_tax=total,
            total_excluding_tax=total,
            amount_due=total,
            amount_remaining=total - obj.get("amount_paid", 0),
        )
    return obj


def render(resource, obj):
    """The object as Stripe returns it: embedded lists cut to their first page."""
    field = {"invoices": "lines", "subscriptions": "items"}.get(resource)
    embedded = obj.get(field) if field else None
    if not embedded or len(embedded["data"]) <= EMBEDDED_PAGE:
        return obj
    return dict(obj, **{field: dict(embedded, data=embedded["data"][:EMBEDDED_PAGE], has_more=True)})


# --------------------------------------------------------------------------
# HTTP handlers for the embedded lists
# --------------------------------------------------------------------------


def _page(rows, p, url, object_name):
    limit = p.get("limit") or 10
    if not 1 <= limit <= 100:
        raise invalid("This value must be between 1 and 100.", param="limit")
    start = 0
    if p.get("starting_after"):
        ids = [row["id"] for row in rows]
        if p["starting_after"] not in ids:
            raise resource_missing(object_name, p["starting_after"], param="starting_after", status=400)
        start = ids.index(p["starting_after"]) + 1
    page = rows[start : start + limit]
    return 200, {"object": "list", "data": page, "has_more": start + limit < len(rows), "url": url}


def invoice_lines(call):
    invoice_id = call.args[0]
    p = validate(call.params, EMBEDDED_LIST)
    invoice = call.find("invoices", invoice_id, param="invoice")
    return _page(invoice["lines"]["data"], p, f"/v1/invoices/{invoice_id}/lines", "line item")


def subscription_items(call):
    p = validate(call.params, SUBSCRIPTION_ITEMS_LIST, required=("subscription",))
    sub = call.find("subscriptions", p["subscription"], param="subscription", status=400)
    return _page(sub["items"]["data"], p, "/v1/subscription_items", "subscription item")


# --------------------------------------------------------------------------
# Test helpers: change and delete objects the way Stripe records it
# --------------------------------------------------------------------------


def update(store, resource, oid, **fields):
    """Apply fields to a stored object and record `<object>.updated` (Stripe's previous_attributes)."""
    from .store import event_prefix, merge, previous_attributes  # store.py imports this module

    with store.lock:
        old = store.lookup(resource, oid)
        new = merge(old, fields)
        store.replace(resource, new)
        store.record_event(f"{event_prefix(resource)}.updated", render(resource, new), previous_attributes(old, new))
        return new


def delete(store, resource, oid):
    """Remove a stored object and record `<object>.deleted` with its last version."""
    from .store import event_prefix

    with store.lock:
        old = store.lookup(resource, oid)
        store.remove(resource, oid)
        store.record_event(f"{event_prefix(resource)}.deleted", render(resource, old))
        return old
