"""Writes on billing objects, for the actions' calls beyond the seed: create coupons, invoice
items, invoices and refunds, and finalize an invoice. Each records the event Stripe sends.

Kept small: the fields the actions' tests and a typical agent call use, Stripe's checks that
matter for them (a coupon needs percent_off or amount_off; a refund cannot exceed what is left
of its charge; only a draft invoice can be finalized), and Stripe's error shapes.
"""

from . import billing
from .schema import (
    BOOL,
    DECIMAL,
    INT,
    METADATA,
    STR,
    StripeError,
    array,
    enum,
    invalid,
    parameter_missing,
    validate,
)

EXPAND = array(STR)
COUPON_CREATE = {
    "id": STR,
    "amount_off": INT,
    "currency": STR,
    "duration": enum("forever", "once", "repeating"),
    "duration_in_months": INT,
    "expand": EXPAND,
    "max_redemptions": INT,
    "metadata": METADATA,
    "name": STR,
    "percent_off": DECIMAL,
    "redeem_by": INT,
}
INVOICE_ITEM_CREATE = {
    "customer": STR,
    "amount": INT,
    "currency": STR,
    "description": STR,
    "discountable": BOOL,
    "expand": EXPAND,
    "invoice": STR,
    "metadata": METADATA,
    "quantity": INT,
    "unit_amount": INT,
}
INVOICE_CREATE = {
    "customer": STR,
    "auto_advance": BOOL,
    "collection_method": enum("charge_automatically", "send_invoice"),
    "currency": STR,
    "days_until_due": INT,
    "description": STR,
    "expand": EXPAND,
    "metadata": METADATA,
    "pending_invoice_items_behavior": enum("exclude", "include"),
}
INVOICE_FINALIZE = {"auto_advance": BOOL, "expand": EXPAND}
REFUND_CREATE = {
    "charge": STR,
    "payment_intent": STR,
    "amount": INT,
    "expand": EXPAND,
    "metadata": METADATA,
    "reason": enum("duplicate", "fraudulent", "requested_by_customer"),
}


def _new(call, resource, fields):
    obj = call.store.build(resource, fields)
    call.store.insert(resource, obj)
    call.event(f"{resource_event(resource)}.created", obj)
    return obj


def resource_event(resource):
    return billing.RESOURCES[resource][1]


def _replace(call, resource, obj, event):
    call.store.replace(resource, obj)
    call.event(f"{resource_event(resource)}.{event}", billing.render(resource, obj))
    return obj


def create_coupon(call):
    p = validate(call.params, COUPON_CREATE, required=("duration",))
    if (p.get("percent_off") is None) == (p.get("amount_off") is None):
        raise invalid("You must pass exactly one of percent_off or amount_off.")
    if p.get("amount_off") is not None and not p.get("currency"):
        raise parameter_missing("currency")
    if p["duration"] == "repeating" and not p.get("duration_in_months"):
        raise invalid("You must pass duration_in_months when duration is repeating.", param="duration_in_months")
    if p.get("id") and call.store.lookup("coupons", p["id"]):
        raise StripeError(400, "Coupon already exists.", code="resource_already_exists", param="id")
    fields = {k: v for k, v in p.items() if k != "expand"}
    if fields.get("percent_off") is not None:
        fields["percent_off"] = float(fields["percent_off"])
    return 200, _new(call, "coupons", fields)


def create_invoice_item(call):
    p = validate(call.params, INVOICE_ITEM_CREATE, required=("customer",))
    call.find("customers", p["customer"], param="customer", status=400)
    quantity = p.get("quantity") or 1
    amount = p.get("amount") if p.get("amount") is not None else (p.get("unit_amount") or 0) * quantity
    if p.get("amount") is None and p.get("unit_amount") is None:
        raise parameter_missing("amount")
    if not p.get("currency"):
        raise parameter_missing("currency")
    invoice = None
    if p.get("invoice"):
        invoice = call.find("invoices", p["invoice"], param="invoice", status=400)
        _check_draft(invoice)
    fields = {k: v for k, v in p.items() if k != "expand"}
    fields.update(amount=amount, quantity=quantity, unit_amount=amount // quantity, unit_amount_decimal=str(amount // quantity))
    item = _new(call, "invoiceitems", fields)
    if invoice:
        _add_lines(call, invoice, [item])
    return 200, item


def create_invoice(call):
    p = validate(call.params, INVOICE_CREATE, required=("customer",))
    customer = call.find("customers", p["customer"], param="customer", status=400)
    fields = {k: v for k, v in p.items() if k not in ("expand", "pending_invoice_items_behavior")}
    fields.update(customer_email=customer.get("email"), customer_name=customer.get("name"), lines=[])
    invoice = _new(call, "invoices", fields)
    if p.get("pending_invoice_items_behavior") == "include":
        pending = [
            item for item in call.store.all("invoiceitems") if item.get("customer") == customer["id"] and item.get("invoice") is None
        ]
        invoice = _add_lines(call, invoice, pending)
    return 200, billing.render("invoices", invoice)


def finalize_invoice(call):
    invoice_id = call.args[0]
    p = validate(call.params, INVOICE_FINALIZE)
    invoice = call.find("invoices", invoice_id, param="invoice")
    if invoice["status"] != "draft":
        raise invalid("This invoice is already finalized, you can't re-finalize a non-draft invoice.", code="invoice_not_editable")
    now = call.now()
    paid = invoice["amount_due"] == 0  # Stripe marks a zero-amount invoice paid when it is finalized
    transitions = dict(invoice["status_transitions"], finalized_at=now, paid_at=now if paid else None)
    number = f"{invoice['id'][-8:].upper()}-{call.store.count('invoices'):04d}"
    finalized = dict(
        invoice,
        status="paid" if paid else "open",
        paid=paid,
        number=number,
        status_transitions=transitions,
        auto_advance=p.get("auto_advance", invoice["auto_advance"]),
    )
    return 200, billing.render("invoices", _replace(call, "invoices", finalized, "finalized"))


def create_refund(call):
    p = validate(call.params, REFUND_CREATE)
    if not p.get("charge") and not p.get("payment_intent"):
        raise parameter_missing("charge")
    if p.get("charge"):
        charge = call.find("charges", p["charge"], param="charge", status=400)
    else:
        intent = call.find("payment_intents", p["payment_intent"], param="payment_intent", status=400)
        if not intent.get("latest_charge"):
            raise invalid(
                "This PaymentIntent does not have a successful charge to refund.", code="charge_not_refundable", param="payment_intent"
            )
        charge = call.find("charges", intent["latest_charge"], param="payment_intent", status=400)
    left = charge["amount"] - charge["amount_refunded"]
    amount = p.get("amount", left)
    if amount is None or amount <= 0 or amount > left:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})", code="amount_too_large", param="amount"
        )
    refund = _new(
        call,
        "refunds",
        {
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "metadata": p.get("metadata") or {},
            "payment_intent": charge.get("payment_intent"),
            "reason": p.get("reason"),
        },
    )
    refunded = charge["amount_refunded"] + amount
    _replace(call, "charges", dict(charge, amount_refunded=refunded, refunded=refunded == charge["amount"]), "refunded")
    return 200, refund


def _check_draft(invoice):
    if invoice["status"] != "draft":
        raise invalid(
            f"You can only add invoice items to draft invoices; {invoice['id']} is {invoice['status']}.",
            code="invoice_not_editable",
            param="invoice",
        )


def _add_lines(call, invoice, items):
    """Attach invoice items to a draft invoice as lines, and total it again."""
    if not items:
        return invoice
    lines = list(invoice["lines"]["data"])
    for item in items:
        line = billing.line_item(invoice["id"], len(lines), invoice["created"], item["amount"], item.get("description"))
        line.update(invoice_item=item["id"], currency=item["currency"], metadata=item.get("metadata") or {})
        lines.append(line)
        call.store.replace("invoiceitems", dict(item, invoice=invoice["id"]))
    total = sum(line["amount"] for line in lines)
    updated = dict(
        invoice,
        lines=dict(invoice["lines"], data=lines, total_count=len(lines)),
        subtotal=total,
        total=total,
        subtotal_excluding_tax=total,
        total_excluding_tax=total,
        amount_due=total,
        amount_remaining=total - invoice["amount_paid"],
        currency=items[0]["currency"],
    )
    return _replace(call, "invoices", updated, "updated")


# Routes for server.ROUTES: (method, path regex, handler, resource for restricted-key checks).
_ID = r"(?P<id>[^/]+)"
ROUTES = [
    ("POST", r"/v1/coupons", create_coupon, "coupons"),
    ("POST", r"/v1/invoiceitems", create_invoice_item, "invoiceitems"),
    ("POST", r"/v1/invoices", create_invoice, "invoices"),
    ("POST", rf"/v1/invoices/{_ID}/finalize", finalize_invoice, "invoices"),
    ("POST", r"/v1/refunds", create_refund, "refunds"),
]
