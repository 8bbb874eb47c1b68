"""Payments the way Stripe's test mode makes them: payment intents (create, update, confirm,
capture, cancel) paid with test payment methods, and the one rule of a charge attempt, which
the billing cycle (``billing_cycle.py``) uses too.

Test payment methods behave as in Stripe's test mode: ``pm_card_visa`` (and the other brands)
is paid; ``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``, ... are
declined with Stripe's error codes; ``pm_card_chargeCustomerFail`` can be saved on a customer
but every charge on it fails. Each use of a test id makes a new card payment method, as in
Stripe. What a card does is decided by its last four digits (Stripe's test card numbers), so a
saved card declines the same way every time it is charged.

A charge attempt writes through a *ledger*: ``add``, ``change``, ``new_id`` and
``balance_transaction``, each at a given moment. A request's ledger (``RequestLedger``) writes at
the request's time with its request id; the billing run's writes at moments of the past.
"""

import random
from dataclasses import dataclass

from . import catalog
from .billing import render
from .schema import (
    BOOL,
    INT,
    METADATA,
    STR,
    StripeError,
    array,
    enum,
    invalid,
    parameter_missing,
    resource_missing,
    validate,
)
from .store import previous_attributes

DAY = 86_400
CARD_FEE_PERCENT = 2.9  # Stripe's standard card pricing: 2.9% + 30 cents
CARD_FEE_FIXED = 30
FUNDS_AVAILABLE_AFTER_DAYS = 2  # a charge's money is available to pay out two days later
MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "jpy": 50}

# Stripe's test payment methods: id -> (brand, last four digits, funding).
TEST_CARDS = {
    "pm_card_visa": ("visa", "4242", "credit"),
    "pm_card_visa_debit": ("visa", "5556", "debit"),
    "pm_card_mastercard": ("mastercard", "4444", "credit"),
    "pm_card_mastercard_debit": ("mastercard", "8210", "debit"),
    "pm_card_amex": ("amex", "0005", "credit"),
    "pm_card_discover": ("discover", "1117", "credit"),
    "pm_card_chargeDeclined": ("visa", "0002", "credit"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", "credit"),
    "pm_card_chargeDeclinedLostCard": ("visa", "9987", "credit"),
    "pm_card_chargeDeclinedStolenCard": ("visa", "9979", "credit"),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069", "credit"),
    "pm_card_chargeDeclinedIncorrectCvc": ("visa", "0127", "credit"),
    "pm_card_chargeDeclinedProcessingError": ("visa", "0119", "credit"),
    "pm_card_chargeDeclinedFraudulent": ("visa", "0019", "credit"),
    "pm_card_chargeCustomerFail": ("visa", "0341", "credit"),
}


@dataclass(frozen=True)
class Decline:
    """How the card issuer (or Stripe's fraud screening) refuses a charge."""

    code: str
    decline_code: str
    message: str
    blocked: bool = False  # refused by Stripe's screening, never sent to the card network

    def error(self, charge_id, method):
        """A card error as Stripe reports it (``last_payment_error``, and the API's 402 body)."""
        return {
            "charge": charge_id,
            "code": self.code,
            "decline_code": self.decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}",
            "message": self.message,
            "payment_method": method,
            "type": "card_error",
        }


DECLINES = {  # by the card's last four digits, as Stripe's test cards
    "0002": Decline("card_declined", "generic_decline", "Your card was declined."),
    "0341": Decline("card_declined", "generic_decline", "Your card was declined."),
    "9995": Decline("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "9987": Decline("card_declined", "lost_card", "Your card was declined."),
    "9979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "0069": Decline("expired_card", "expired_card", "Your card has expired."),
    "0127": Decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "0119": Decline("processing_error", "processing_error", "An error occurred while processing your card. Try again in a little bit."),
    "0019": Decline("card_declined", "fraudulent", "Your card was declined.", blocked=True),
}
# Declines a later attempt may get past (Stripe retries these; not a lost or stolen card).
SOFT_DECLINES = (DECLINES["9995"], DECLINES["0002"])


def decline_of(method):
    """The decline a payment method's card always gets, or None (it is paid)."""
    card = (method or {}).get("card") or {}
    return DECLINES.get(card.get("last4"))


def card_fee(amount):
    return round(amount * CARD_FEE_PERCENT / 100) + CARD_FEE_FIXED


def outcome(decline, risk_score):
    if decline is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": risk_score,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    if decline.blocked:
        return {
            "network_status": "not_sent_to_network",
            "reason": "highest_risk_level",
            "risk_level": "highest",
            "risk_score": max(risk_score, 80),
            "seller_message": "Stripe blocked this payment as too risky.",
            "type": "blocked",
        }
    told = (
        "The bank did not return any further details with this decline."
        if decline.decline_code == "generic_decline"
        else f"The bank returned the decline code `{decline.decline_code}`."
    )
    return {
        "network_status": "declined_by_network",
        "reason": decline.decline_code,
        "risk_level": "normal",
        "risk_score": risk_score,
        "seller_message": told,
        "type": "issuer_declined",
    }


# =============================================================================
# Payment methods
# =============================================================================


def card_method(store, test_id, customer=None):
    """A new card payment method made from a Stripe test id; attached (with its event) when a
    customer is given."""
    brand, last4, funding = TEST_CARDS[test_id]
    now = store.clock.now()
    card = {
        "brand": brand,
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "display_brand": brand,
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": f"Fp{brand[:3]}{last4}Test",
        "funding": funding,
        "generated_from": None,
        "last4": last4,
        "networks": {"available": [brand], "preferred": None},
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }
    base = {
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
            "email": None,
            "name": None,
            "phone": None,
        },
        "card": card,
        "created": now,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }
    return catalog.add(
        store,
        "payment_methods",
        {"id": store.new_id("pm"), "customer": customer},
        parent_id=customer,
        emit_event=customer is not None,
        base=base,
    )


def find_method(store, ref, customer):
    """The payment method ``ref`` names (a saved one, or a new one from a test id)."""
    if ref in TEST_CARDS:
        return card_method(store, ref)
    method = catalog.state(store).by_id.get("payment_methods", {}).get(ref)
    if method is None:
        raise resource_missing("PaymentMethod", ref, param="payment_method", status=400)
    if method.get("customer") and customer and method["customer"] != customer:
        raise invalid(f"The provided PaymentMethod {ref} belongs to a different Customer than {customer}.", param="payment_method")
    return dict(method)


def attach(store, method, customer):
    """Save the card on the customer (``setup_future_usage``): the attached copy, with its event."""
    stored = catalog.state(store).by_id["payment_methods"][method["id"]]
    if stored.get("customer") == customer:
        return dict(stored)
    return catalog.add(store, "payment_methods", dict(stored, customer=customer), parent_id=customer, emit_event=True, base=stored)


# =============================================================================
# A charge attempt (one rule for requests and for the billing cycle)
# =============================================================================


def attempt_charge(ledger, intent, at, method, decline, *, capture=True, risk_score=20, **charge_fields):
    """Charge ``intent`` with ``method`` at ``at``: a charge (failed when ``decline``), the
    balance transaction of a captured one, and the intent moved on. Returns (intent, charge)."""
    charge_id = ledger.new_id("ch")
    captured = decline is None and capture
    txn_id = ledger.new_id("txn") if captured else None
    amount = intent["amount"]
    card = (method or {}).get("card")
    fields = {
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "payment_intent": intent["id"],
        "description": intent["description"],
        "payment_method": (method or {}).get("id"),
        "balance_transaction": txn_id,
        "captured": captured,
        "payment_method_details": {"type": "card", "card": _card_details(card)} if card else None,
        "paid": decline is None,
        "status": "failed" if decline else "succeeded",
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "outcome": outcome(decline, risk_score),
        "receipt_email": intent.get("receipt_email"),
    }
    fields.update(charge_fields)
    charge = ledger.add("charges", fields, at, "charge.failed" if decline else "charge.succeeded", oid=charge_id)
    if decline:
        return ledger.change(
            "payment_intents",
            intent,
            at,
            "payment_intent.payment_failed",
            status="requires_payment_method",
            latest_charge=charge_id,
            payment_method=None,
            last_payment_error=decline.error(charge_id, method),
        ), charge
    moved = {"latest_charge": charge_id, "last_payment_error": None, "payment_method": fields["payment_method"]}
    if not capture:
        return ledger.change(
            "payment_intents",
            intent,
            at,
            "payment_intent.amount_capturable_updated",
            status="requires_capture",
            amount_capturable=amount,
            **moved,
        ), charge
    ledger.balance_transaction(
        txn_id,
        at,
        amount,
        "charge",
        charge_id,
        card_fee(amount),
        available_on=at + FUNDS_AVAILABLE_AFTER_DAYS * DAY,
        description=intent["description"],
    )
    return ledger.change(
        "payment_intents", intent, at, "payment_intent.succeeded", status="succeeded", amount_received=amount, amount_capturable=0, **moved
    ), charge


def _card_details(card):
    return {
        "brand": card.get("brand"),
        "checks": card.get("checks"),
        "country": card.get("country"),
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
        "fingerprint": card.get("fingerprint"),
        "funding": card.get("funding"),
        "last4": card.get("last4"),
        "network": card.get("brand"),
        "three_d_secure": None,
        "wallet": None,
    }


def balance_transaction_fields(amount, kind, source, fee, available_on, now, description=None, category=None):
    what = "Dispute fee" if kind == "adjustment" else "Stripe processing fees"
    fee_details = [{"amount": fee, "application": None, "currency": "usd", "description": what, "type": "stripe_fee"}] if fee else []
    return {
        "amount": amount,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "type": kind,
        "reporting_category": category or kind,
        "source": source,
        "available_on": available_on,
        "status": "available" if available_on <= now else "pending",
        "description": description,
    }


class RequestLedger:
    """Writes of one API request: at its time, each event with its request id."""

    def __init__(self, call):
        self.call = call
        self.store = call.store

    def add(self, resource, fields, at, event=None, oid=None):
        fields = dict(fields, created=at, **({"id": oid} if oid else {}))
        obj = self.store.build(resource, fields)
        self.store.insert(resource, obj)
        if event:
            self.call.event(event, render(resource, obj))
        return obj

    def change(self, resource, old, at, event=None, **fields):
        new = dict(old, **fields)
        self.store.replace(resource, new)
        if event:
            self.call.event(event, render(resource, new), previous_attributes(old, new))
        return new

    def new_id(self, prefix):
        return self.store.new_id(prefix)

    def balance_transaction(self, txn_id, at, amount, kind, source, fee, available_on, description=None, category=None):
        fields = balance_transaction_fields(amount, kind, source, fee, available_on, at, description, category)
        return self.add("balance_transactions", fields, at, oid=txn_id)


# =============================================================================
# HTTP: /v1/payment_intents
# =============================================================================

EXPAND = array(STR)
_AUTOMATIC = {"enabled": BOOL, "allow_redirects": enum("always", "never")}
_CAPTURE = enum("automatic", "automatic_async", "manual")
_FUTURE = enum("off_session", "on_session")
PAYMENT_INTENT_CREATE = {
    "amount": INT,
    "currency": STR,
    "automatic_payment_methods": _AUTOMATIC,
    "capture_method": _CAPTURE,
    "confirm": BOOL,
    "confirmation_method": enum("automatic", "manual"),
    "customer": STR,
    "description": STR,
    "error_on_requires_action": BOOL,
    "expand": EXPAND,
    "metadata": METADATA,
    "off_session": BOOL,
    "payment_method": STR,
    "payment_method_types": array(STR),
    "receipt_email": STR,
    "return_url": STR,
    "setup_future_usage": _FUTURE,
    "statement_descriptor": STR,
    "statement_descriptor_suffix": STR,
}
PAYMENT_INTENT_UPDATE = {
    "amount": INT,
    "capture_method": _CAPTURE,
    "currency": STR,
    "customer": STR,
    "description": STR,
    "expand": EXPAND,
    "metadata": METADATA,
    "payment_method": STR,
    "payment_method_types": array(STR),
    "receipt_email": STR,
    "setup_future_usage": _FUTURE,
    "statement_descriptor": STR,
    "statement_descriptor_suffix": STR,
}
PAYMENT_INTENT_CONFIRM = {
    "capture_method": _CAPTURE,
    "error_on_requires_action": BOOL,
    "expand": EXPAND,
    "off_session": BOOL,
    "payment_method": STR,
    "receipt_email": STR,
    "return_url": STR,
    "setup_future_usage": _FUTURE,
}
PAYMENT_INTENT_CAPTURE = {
    "amount_to_capture": INT,
    "expand": EXPAND,
    "metadata": METADATA,
    "statement_descriptor": STR,
    "statement_descriptor_suffix": STR,
}
PAYMENT_INTENT_CANCEL = {"cancellation_reason": enum("abandoned", "duplicate", "fraudulent", "requested_by_customer"), "expand": EXPAND}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")
# What an intent that is done (or being paid) still lets you change.
ALWAYS_UPDATABLE = {"description", "metadata", "receipt_email", "expand"}


def _respond(call, intent, p):
    from .server import expand  # server.py imports this module

    return 200, expand(call, render("payment_intents", intent), p.get("expand"))


_DONE = {"confirm": "confirmed", "capture": "captured", "cancel": "canceled", "update": "updated"}


def _unexpected_state(intent, verb, allowed):
    return invalid(
        f"You cannot {verb} this PaymentIntent because it has a status of {intent['status']}. Only a "
        f"PaymentIntent with one of the following statuses may be {_DONE[verb]}: {', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
    )


def _check_amount(amount, currency, param="amount"):
    if amount is None or amount < 1:
        raise invalid("This value must be greater than or equal to 1.", param=param)
    least = MINIMUM_AMOUNT.get(currency)
    if least is not None and amount < least:
        raise invalid(f"Amount must be at least {least / 100:.2f} {currency}", param=param, code="amount_too_small")


def _methods_fields(p):
    """payment_method_types, or automatic payment methods (Stripe's default since 2023-08-16)."""
    automatic = p.get("automatic_payment_methods")
    if p.get("payment_method_types"):
        if automatic and automatic.get("enabled"):
            raise invalid(
                "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
                param="automatic_payment_methods",
            )
        return {"payment_method_types": p["payment_method_types"], "automatic_payment_methods": None}
    if automatic is not None and not automatic.get("enabled"):
        raise parameter_missing("payment_method_types")
    allow = (automatic or {}).get("allow_redirects") or "always"
    return {"payment_method_types": ["card"], "automatic_payment_methods": {"allow_redirects": allow, "enabled": True}}


def create_payment_intent(call):
    from .server import check_currency  # server.py imports this module

    p = validate(call.params, PAYMENT_INTENT_CREATE, required=("amount", "currency"))
    currency = check_currency(p["currency"])
    _check_amount(p["amount"], currency)
    if p.get("customer"):
        call.find("customers", p["customer"], param="customer", status=400)
    fields = {
        k: p[k]
        for k in (
            "amount",
            "customer",
            "description",
            "metadata",
            "receipt_email",
            "setup_future_usage",
            "statement_descriptor",
            "statement_descriptor_suffix",
        )
        if k in p
    }
    fields.update(
        _methods_fields(p),
        currency=currency,
        capture_method=p.get("capture_method") or "automatic",
        confirmation_method=p.get("confirmation_method") or "automatic",
    )
    confirm = {k: p[k] for k in PAYMENT_INTENT_CONFIRM if k in p and k != "payment_method"}
    if p.get("confirm"):  # refused before anything is made, as Stripe does
        _check_confirmable(dict(fields, status="requires_payment_method", payment_method=p.get("payment_method")), confirm)
    intent_id = call.store.new_id("pi")
    fields["client_secret"] = f"{intent_id}_secret_{''.join(random.choices('abcdefghijklmnopqrstuvwxyz0123456789', k=24))}"
    if p.get("payment_method"):
        fields["payment_method"] = find_method(call.store, p["payment_method"], p.get("customer"))["id"]
    fields["status"] = "requires_confirmation" if fields.get("payment_method") else "requires_payment_method"
    ledger = RequestLedger(call)
    intent = ledger.add("payment_intents", fields, call.now(), "payment_intent.created", oid=intent_id)
    if p.get("confirm"):
        intent = _confirm(call, ledger, intent, confirm)
    return _respond(call, intent, p)


def update_payment_intent(call):
    from .server import check_currency  # server.py imports this module

    p = validate(call.params, PAYMENT_INTENT_UPDATE)
    intent = call.find("payment_intents", call.args[0], param="intent")
    if intent["status"] not in CONFIRMABLE and set(p) - ALWAYS_UPDATABLE:
        raise _unexpected_state(intent, "update", CONFIRMABLE)
    changes = {k: v for k, v in p.items() if k != "expand"}
    if "currency" in changes:
        changes["currency"] = check_currency(changes["currency"])
    if "amount" in changes or "currency" in changes:
        _check_amount(changes.get("amount", intent["amount"]), changes.get("currency", intent["currency"]))
    if changes.get("customer"):
        call.find("customers", changes["customer"], param="customer", status=400)
    if "metadata" in changes:
        changes["metadata"] = dict(intent["metadata"], **changes["metadata"]) if changes["metadata"] else {}
    if changes.get("payment_method"):
        changes["payment_method"] = find_method(call.store, changes["payment_method"], changes.get("customer", intent["customer"]))["id"]
        changes["status"] = "requires_confirmation"
    if p.get("payment_method_types"):
        changes["automatic_payment_methods"] = None
    return _respond(call, RequestLedger(call).change("payment_intents", intent, call.now(), "payment_intent.updated", **changes), p)


def confirm_payment_intent(call):
    p = validate(call.params, PAYMENT_INTENT_CONFIRM)
    intent = call.find("payment_intents", call.args[0], param="intent")
    return _respond(call, _confirm(call, RequestLedger(call), intent, p), p)


def _check_confirmable(intent, p):
    if intent["status"] not in CONFIRMABLE:
        raise _unexpected_state(intent, "confirm", CONFIRMABLE)
    if not (p.get("payment_method") or intent.get("payment_method")):
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. Pass "
            "payment_method (in test mode, e.g. pm_card_visa) or update the PaymentIntent with one first.",
            param="payment_method",
            code="payment_intent_unexpected_state",
        )
    redirects = (intent.get("automatic_payment_methods") or {}).get("allow_redirects") == "always"
    if redirects and not p.get("return_url") and not p.get("off_session"):
        raise invalid(
            "This PaymentIntent is configured to accept payment methods enabled in your Dashboard, and some "
            "of them may redirect your customer off your page, so confirming it needs a `return_url`. If you "
            "don't want redirect-based payment methods, create it with `payment_method_types[]=card`, or with "
            "`automatic_payment_methods[enabled]=true` and `automatic_payment_methods[allow_redirects]=never`.",
            param="return_url",
        )


def _confirm(call, ledger, intent, p):
    """Confirm: charge the payment method now. A decline answers 402, as Stripe does, after
    the failed charge and the intent's new status are saved."""
    _check_confirmable(intent, p)
    method = find_method(call.store, p.get("payment_method") or intent["payment_method"], intent["customer"])
    changes = {k: p[k] for k in ("capture_method", "receipt_email", "setup_future_usage") if p.get(k)}
    intent = dict(intent, **changes)
    if intent["customer"] and intent.get("setup_future_usage"):
        method = attach(call.store, method, intent["customer"])
    decline = decline_of(method)
    intent, charge = attempt_charge(
        ledger, intent, call.now(), method, decline, capture=intent["capture_method"] != "manual", risk_score=random.randint(5, 60)
    )
    if decline is None:
        return intent
    raise StripeError(
        402,
        decline.message,
        type="card_error",
        code=decline.code,
        param=None,
        executed=True,
        extra={k: v for k, v in decline.error(charge["id"], method).items() if k not in ("message", "type", "code")}
        | {"payment_intent": render("payment_intents", intent)},
    )


def capture_payment_intent(call):
    p = validate(call.params, PAYMENT_INTENT_CAPTURE)
    intent = call.find("payment_intents", call.args[0], param="intent")
    if intent["status"] != "requires_capture":
        raise _unexpected_state(intent, "capture", ("requires_capture",))
    amount = p.get("amount_to_capture", intent["amount_capturable"])
    if amount is None or not 1 <= amount <= intent["amount_capturable"]:
        raise invalid(
            f"amount_to_capture must be a whole number from 1 to the amount capturable, {intent['amount_capturable']}.",
            param="amount_to_capture",
        )
    ledger, now = RequestLedger(call), call.now()
    charge = call.store.lookup("charges", intent["latest_charge"])
    txn_id = ledger.new_id("txn")
    ledger.balance_transaction(
        txn_id,
        now,
        amount,
        "charge",
        charge["id"],
        card_fee(amount),
        available_on=now + FUNDS_AVAILABLE_AFTER_DAYS * DAY,
        description=intent["description"],
    )
    ledger.change(
        "charges",
        charge,
        now,
        "charge.captured",
        captured=True,
        amount_captured=amount,
        amount_refunded=charge["amount"] - amount,
        balance_transaction=txn_id,
    )
    changes = {"metadata": dict(intent["metadata"], **p["metadata"])} if p.get("metadata") else {}
    intent = ledger.change(
        "payment_intents",
        intent,
        now,
        "payment_intent.succeeded",
        status="succeeded",
        amount_received=amount,
        amount_capturable=0,
        **changes,
    )
    return _respond(call, intent, p)


def cancel_payment_intent(call):
    p = validate(call.params, PAYMENT_INTENT_CANCEL)
    intent = call.find("payment_intents", call.args[0], param="intent")
    if intent["status"] not in CANCELABLE:
        raise _unexpected_state(intent, "cancel", CANCELABLE)
    ledger, now = RequestLedger(call), call.now()
    if intent["status"] == "requires_capture":  # the authorization is released
        charge = call.store.lookup("charges", intent["latest_charge"])
        ledger.change("charges", charge, now, "charge.refunded", amount_refunded=charge["amount"], refunded=True)
    intent = ledger.change(
        "payment_intents",
        intent,
        now,
        "payment_intent.canceled",
        status="canceled",
        canceled_at=now,
        cancellation_reason=p.get("cancellation_reason"),
        amount_capturable=0,
    )
    return _respond(call, intent, p)


# Routes for server.ROUTES: (method, path regex, handler, resource for restricted-key checks).
_ID = r"(?P<id>[^/]+)"
ROUTES = [
    ("POST", r"/v1/payment_intents", create_payment_intent, "payment_intents"),
    ("POST", rf"/v1/payment_intents/{_ID}/confirm", confirm_payment_intent, "payment_intents"),
    ("POST", rf"/v1/payment_intents/{_ID}/capture", capture_payment_intent, "payment_intents"),
    ("POST", rf"/v1/payment_intents/{_ID}/cancel", cancel_payment_intent, "payment_intents"),
    ("POST", rf"/v1/payment_intents/{_ID}", update_payment_intent, "payment_intents"),
]
