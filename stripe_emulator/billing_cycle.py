"""Subscription billing over time, the way Stripe does it: ``run_billing(store, until, seed)``.

For every subscription of the store, from where its billing stands up to ``until``:

* an invoice when it starts (``billing_reason`` subscription_create; $0 during a trial) and one
  per later period (subscription_cycle), a line per subscription item; some first invoices also
  carry a one-off setup fee (an invoice item);
* each invoice paid by a charge through a payment intent; a few first attempts are declined
  (the subscription is ``past_due``) and retried successfully three days later;
* a balance transaction for every successful charge (net of Stripe's fee), refund and dispute;
* now and then a refund (with a credit note on the invoice) or a dispute, days after a payment;
* a weekly payout of what became available, with its balance transaction;
* a subscription set to cancel at the period's end ends then.

Every object and event is created at its own moment of the account's history, never "now".
Every choice comes from ``random.Random`` seeded with ``seed``, the subscription's id and the
number of the period it is about (never a time or a generated id): the same store, seed and
``until`` give the same account, whenever it runs, and billing up to T1 and then up to T2
gives what billing up to T2 at once gives (apart from the ids of the new objects). Where billing stands is read from the objects themselves
(``latest_invoice`` and ``current_period_end`` of a subscription, ``next_payment_attempt`` of
an open invoice, the newest payout), so a saved and reloaded store continues where it was.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter

from .billing import _list, line_item, render
from .store import add_interval, previous_attributes

DAY = 86_400
BILLED_STATUSES = ("active", "trialing", "past_due")  # subscriptions that get invoices
CARD_FEE_PERCENT = 2.9  # Stripe's standard card pricing: 2.9% + 30 cents
CARD_FEE_FIXED = 30
DISPUTE_FEE = 1500
FUNDS_AVAILABLE_AFTER_DAYS = 2  # a charge's money is available to pay out two days later
PAYOUT_WEEKDAY = 0  # Monday (datetime's numbering), at PAYOUT_HOUR UTC
PAYOUT_HOUR = 6
PAYOUT_ARRIVAL_DAYS = 2
RETRY_AFTER_DAYS = 3
DECLINED_SHARE = 0.06  # first payment attempts that are declined, then retried
SETUP_FEE_SHARE = 0.15  # first invoices that also charge a one-off setup fee
SETUP_FEE = 4900
REFUND_SHARE = 0.04  # successful payments refunded (70% in full) some days later
DISPUTE_SHARE = 0.01  # successful payments disputed some days later
BANK_ACCOUNT = "ba_1EmulatorPayoutBank"


def run_billing(store, until=None, seed=0):
    """Bill the store's subscriptions up to ``until`` (epoch seconds; default: the store's now).

    Returns how many objects of each resource were created.
    """
    with store.lock:
        run = _BillingRun(store, store.clock.now() if until is None else int(until), seed)
        for sub in _oldest_first(store, "subscriptions"):
            run.bill(sub)
        for charge in _oldest_first(store, "charges"):
            run.after_payment(charge)
        run.payouts()
        return run.created


def _oldest_first(store, resource):
    coll = store.collections[resource]
    return [coll.at(pos) for pos in reversed(range(len(coll)))]


def card_fee(amount):
    return round(amount * CARD_FEE_PERCENT / 100) + CARD_FEE_FIXED


class _BillingRun:
    def __init__(self, store, until, seed):
        self.store = store
        self.until = until
        self.seed = seed
        self.created = Counter()
        invoices = _oldest_first(store, "invoices")
        self.invoices_of = Counter(inv["customer"] for inv in invoices)  # for invoice numbers
        self.periods_of = Counter()  # subscription id -> invoices so far
        self.period_key = {}  # invoice id -> "<subscription id>:<period number>", what its choices are seeded with
        for invoice in invoices:
            self.count_period(invoice["id"], invoice["subscription"])

    def count_period(self, invoice_id, subscription_id):
        if subscription_id:
            self.periods_of[subscription_id] += 1
            self.period_key[invoice_id] = f"{subscription_id}:{self.periods_of[subscription_id]}"

    def rng(self, *about):
        return random.Random(":".join(str(part) for part in (self.seed, *about)))

    # -- writing objects and their events at a moment of the past ----------------------

    def add(self, resource, fields, at, event=None, oid=None):
        fields = dict(fields, created=at)
        if oid:
            fields["id"] = oid
        obj = self.store.build(resource, fields)
        self.store.insert(resource, obj)
        self.created[resource] += 1
        if event:
            self.store.record_event(event, render(resource, obj), created=at)
        return obj

    def change(self, resource, old, at, event=None, **fields):
        new = dict(old, **fields)
        self.store.replace(resource, new)
        if event:
            self.store.record_event(event, render(resource, new), previous_attributes(old, new), created=at)
        return new

    def new_id(self, resource_prefix):
        return self.store.new_id(resource_prefix)

    # -- subscriptions -----------------------------------------------------------------

    def bill(self, sub):
        if sub["latest_invoice"] is None and sub["status"] in BILLED_STATUSES and sub["created"] <= self.until:
            sub = self.invoice_period(sub, sub["created"], "subscription_create", sub["current_period_start"], sub["current_period_end"])
        sub = self.retry_due(sub)
        while sub["status"] in BILLED_STATUSES and sub["current_period_end"] <= self.until:
            ends = sub["current_period_end"]
            if sub.get("cancel_at") is not None and sub["cancel_at"] <= ends:
                sub = self.change("subscriptions", sub, sub["cancel_at"], "customer.subscription.deleted",
                                  status="canceled", ended_at=sub["cancel_at"])
                break
            recurring = sub["items"]["data"][0]["price"]["recurring"]
            next_end = add_interval(ends, recurring["interval"], recurring["interval_count"])
            sub = self.invoice_period(sub, ends, "subscription_cycle", ends, next_end)
            sub = self.retry_due(sub)

    def invoice_period(self, sub, at, reason, start, end):
        """The invoice of one period, the subscription moved to it, and the first payment attempt."""
        trial = sub["status"] == "trialing" and sub.get("trial_end") is not None and start < sub["trial_end"]
        invoice_id = self.new_id("in")
        self.count_period(invoice_id, sub["id"])
        key = self.period_key[invoice_id]
        lines = [self.subscription_line(invoice_id, i, item, start, end, free=trial) for i, item in enumerate(sub["items"]["data"])]
        if reason == "subscription_create" and not trial and self.rng(key, "setup fee").random() < SETUP_FEE_SHARE:
            lines.append(self.setup_fee(sub, invoice_id, len(lines), at))
        invoice = self.draft_invoice(sub, invoice_id, at, reason, lines)
        changes = {"latest_invoice": invoice_id, "current_period_start": start, "current_period_end": end}
        if sub["status"] == "trialing" and not trial:
            changes["status"] = "active"
        event = "customer.subscription.updated" if any(sub.get(k) != v for k, v in changes.items()) else None
        sub = self.change("subscriptions", sub, at, event, **changes)
        invoice = self.finalize(invoice, at)
        if invoice["amount_due"] == 0:
            self.mark_paid(invoice, at, None, None)
            return sub
        declined = self.rng(key, "declined").random() < DECLINED_SHARE
        return self.attempt(sub, invoice, at, declined=declined)

    def subscription_line(self, invoice_id, index, item, start, end, free):
        price = item["price"]
        amount = 0 if free else (price.get("unit_amount") or 0) * (item.get("quantity") or 1)
        product = self.store.lookup("products", price.get("product")) or {}
        recurring = price.get("recurring") or {}
        description = (f"Trial period for {product.get('name')}" if free else
                       f"{item.get('quantity') or 1} × {product.get('name')} (at ${(price.get('unit_amount') or 0) / 100:.2f} / {recurring.get('interval')})")
        line = line_item(invoice_id, index, start, amount=amount, description=description)
        line.update(type="subscription", price=price, plan=item.get("plan"), quantity=item.get("quantity") or 1,
                    subscription=item["subscription"], subscription_item=item["id"], period={"start": start, "end": end},
                    unit_amount_excluding_tax=str(0 if free else price.get("unit_amount") or 0))
        return line

    def setup_fee(self, sub, invoice_id, index, at):
        item = self.add("invoiceitems", {"customer": sub["customer"], "invoice": invoice_id, "amount": SETUP_FEE,
                                         "unit_amount": SETUP_FEE, "unit_amount_decimal": str(SETUP_FEE),
                                         "currency": sub["currency"], "description": "One-time setup fee",
                                         "subscription": sub["id"]}, at, "invoiceitem.created")
        line = line_item(invoice_id, index, at, amount=SETUP_FEE, description="One-time setup fee")
        line.update(invoice_item=item["id"], type="invoiceitem", subscription=sub["id"])
        return line

    # -- invoices and payments ---------------------------------------------------------

    def customer_of(self, customer_id):
        return self.store.lookup("customers", customer_id) or {}

    def draft_invoice(self, sub, invoice_id, at, reason, lines):
        customer = self.customer_of(sub["customer"])
        total = sum(line["amount"] for line in lines)
        return self.add("invoices", {
            "customer": sub["customer"], "customer_email": customer.get("email"), "customer_name": customer.get("name"),
            "subscription": sub["id"], "billing_reason": reason, "currency": sub["currency"], "auto_advance": True,
            "lines": _list(f"/v1/invoices/{invoice_id}/lines", lines), "subtotal": total, "subtotal_excluding_tax": total,
            "total": total, "total_excluding_tax": total, "amount_due": total, "amount_remaining": total,
            "period_start": sub["current_period_start"] if reason == "subscription_cycle" else at, "period_end": at,
            "ending_balance": None, "webhooks_delivered_at": at,
        }, at, "invoice.created", oid=invoice_id)

    def finalize(self, invoice, at):
        self.invoices_of[invoice["customer"]] += 1
        prefix = self.customer_of(invoice["customer"]).get("invoice_prefix") or "EMU00000"
        return self.change("invoices", invoice, at, "invoice.finalized", status="open",
                           number=f"{prefix}-{self.invoices_of[invoice['customer']]:04d}", ending_balance=0,
                           hosted_invoice_url=f"https://invoice.stripe.com/i/{invoice['id']}",
                           invoice_pdf=f"https://pay.stripe.com/invoice/{invoice['id']}/pdf",
                           status_transitions=dict(invoice["status_transitions"], finalized_at=at))

    def attempt(self, sub, invoice, at, declined):
        """Charge the invoice's customer through its payment intent; returns the subscription."""
        customer = self.customer_of(invoice["customer"])
        description = "Subscription creation" if invoice["billing_reason"] == "subscription_create" else "Subscription update"
        intent = self.store.lookup("payment_intents", invoice["payment_intent"]) if invoice["payment_intent"] else None
        if intent is None:
            intent = self.add("payment_intents", {"amount": invoice["amount_due"], "currency": invoice["currency"],
                                                  "customer": invoice["customer"], "invoice": invoice["id"],
                                                  "description": description, "status": "requires_confirmation"},
                              at, "payment_intent.created")
        charge_id, txn_id = self.new_id("ch"), None if declined else self.new_id("txn")
        charge = self.add("charges", {
            "amount": invoice["amount_due"], "amount_captured": 0 if declined else invoice["amount_due"],
            "currency": invoice["currency"], "customer": invoice["customer"], "invoice": invoice["id"],
            "payment_intent": intent["id"], "description": description, "balance_transaction": txn_id,
            "billing_details": {"address": None, "email": customer.get("email"), "name": customer.get("name"), "phone": None},
            "receipt_email": customer.get("email"), "captured": not declined, "paid": not declined,
            "status": "failed" if declined else "succeeded",
            "failure_code": "card_declined" if declined else None,
            "failure_message": "Your card was declined." if declined else None,
            "outcome": _outcome(declined, self.rng(self.period_key.get(invoice["id"]), invoice["attempt_count"], "risk").randint(5, 60)),
        }, at, "charge.failed" if declined else "charge.succeeded", oid=charge_id)
        attempts = invoice["attempt_count"] + 1
        if declined:
            error = {"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined.",
                     "type": "card_error", "charge": charge["id"]}
            self.change("payment_intents", intent, at, "payment_intent.payment_failed", status="requires_payment_method",
                        latest_charge=charge["id"], last_payment_error=error)
            self.change("invoices", invoice, at, "invoice.payment_failed", attempted=True, attempt_count=attempts,
                        next_payment_attempt=at + RETRY_AFTER_DAYS * DAY, payment_intent=intent["id"], charge=charge["id"])
            return self.change("subscriptions", sub, at, "customer.subscription.updated", status="past_due")
        self.balance_transaction(txn_id, at, charge["amount"], "charge", charge["id"], card_fee(charge["amount"]),
                                 available_on=at + FUNDS_AVAILABLE_AFTER_DAYS * DAY, description=description)
        self.change("payment_intents", intent, at, "payment_intent.succeeded", status="succeeded",
                    amount_received=charge["amount"], latest_charge=charge["id"], last_payment_error=None)
        self.mark_paid(dict(invoice, attempt_count=attempts), at, intent["id"], charge["id"], previous=invoice)
        if sub["status"] == "past_due":
            sub = self.change("subscriptions", sub, at, "customer.subscription.updated", status="active")
        return sub

    def mark_paid(self, invoice, at, intent_id, charge_id, previous=None):
        paid = dict(invoice, status="paid", paid=True, attempted=True, amount_paid=invoice["amount_due"], amount_remaining=0,
                    next_payment_attempt=None, payment_intent=intent_id, charge=charge_id,
                    status_transitions=dict(invoice["status_transitions"], paid_at=at))
        old = previous or invoice
        self.store.replace("invoices", paid)
        self.store.record_event("invoice.paid", render("invoices", paid), previous_attributes(old, paid), created=at)
        self.store.record_event("invoice.payment_succeeded", render("invoices", paid), created=at)
        return paid

    def retry_due(self, sub):
        """Retry the subscription's unpaid invoice if its next attempt came due (it succeeds)."""
        invoice = self.store.lookup("invoices", sub["latest_invoice"]) if sub["latest_invoice"] else None
        if (invoice is None or invoice["status"] != "open" or invoice.get("next_payment_attempt") is None
                or invoice["next_payment_attempt"] > self.until or sub["status"] not in BILLED_STATUSES):
            return sub
        return self.attempt(sub, invoice, invoice["next_payment_attempt"], declined=False)

    def balance_transaction(self, txn_id, at, amount, kind, source, fee, available_on, description=None, category=None):
        what = "Dispute fee" if kind == "adjustment" else "Stripe processing fees"
        fee_details = [{"amount": fee, "application": None, "currency": "usd", "description": what, "type": "stripe_fee"}] if fee else []
        return self.add("balance_transactions", {
            "amount": amount, "fee": fee, "fee_details": fee_details, "net": amount - fee, "type": kind,
            "reporting_category": category or kind, "source": source, "available_on": available_on,
            "status": "available" if available_on <= self.until else "pending", "description": description,
        }, at, oid=txn_id)

    # -- after a payment: refunds and disputes -----------------------------------------

    def after_payment(self, charge):
        if charge["status"] != "succeeded" or charge["amount_refunded"] or charge["disputed"] or not charge["invoice"]:
            return
        invoice = self.store.lookup("invoices", charge["invoice"])
        if invoice is None or invoice["id"] not in self.period_key:
            return
        rng = self.rng(self.period_key[invoice["id"]], "after payment")
        draw = rng.random()
        if draw < REFUND_SHARE:
            at = charge["created"] + rng.randint(1, 10) * DAY + rng.randint(0, DAY - 1)
            if at <= self.until:
                self.refund(charge, invoice, at, full=rng.random() < 0.7)
        elif draw < REFUND_SHARE + DISPUTE_SHARE:
            at = charge["created"] + rng.randint(5, 25) * DAY + rng.randint(0, DAY - 1)
            if at <= self.until:
                self.dispute(charge, at, rng.choice(("fraudulent", "product_not_received", "subscription_canceled")))

    def refund(self, charge, invoice, at, full):
        amount = charge["amount"] if full else charge["amount"] // 2
        refund_id, txn_id = self.new_id("re"), self.new_id("txn")
        self.balance_transaction(txn_id, at, -amount, "refund", refund_id, 0, available_on=at,
                                 description=f"REFUND FOR CHARGE ({charge['description']})")
        refund = self.add("refunds", {"amount": amount, "charge": charge["id"], "payment_intent": charge["payment_intent"],
                                      "balance_transaction": txn_id, "currency": charge["currency"],
                                      "reason": "requested_by_customer", "status": "succeeded"},
                          at, "refund.created", oid=refund_id)
        self.change("charges", charge, at, "charge.refunded", amount_refunded=amount, refunded=full)
        note_id = self.new_id("cn")
        self.add("credit_notes", {"amount": amount, "subtotal": amount, "total": amount, "currency": charge["currency"],
                                  "customer": charge["customer"], "invoice": invoice["id"], "refund": refund["id"],
                                  "number": f"{invoice['number']}-CN-01", "type": "post_payment",
                                  "reason": "product_unsatisfactory", "memo": "Refunded at the customer's request",
                                  "pdf": f"https://pay.stripe.com/credit_notes/{note_id}/pdf",
                                  "lines": _list(f"/v1/credit_notes/{note_id}/lines")},
                 at, "credit_note.created", oid=note_id)
        self.change("invoices", invoice, at, "invoice.updated",
                    post_payment_credit_notes_amount=invoice["post_payment_credit_notes_amount"] + amount)

    def dispute(self, charge, at, reason):
        dispute_id, txn_id = self.new_id("dp"), self.new_id("txn")
        withdrawal = self.balance_transaction(txn_id, at, -charge["amount"], "adjustment", dispute_id, DISPUTE_FEE,
                                              available_on=at, description=f"Chargeback withdrawal for {charge['id']}",
                                              category="dispute")
        dispute = self.add("disputes", {"amount": charge["amount"], "charge": charge["id"], "currency": charge["currency"],
                                        "payment_intent": charge["payment_intent"], "reason": reason,
                                        "balance_transactions": [withdrawal], "is_charge_refundable": False,
                                        "evidence_details": {"due_by": at + 7 * DAY, "has_evidence": False,
                                                             "past_due": at + 7 * DAY <= self.until, "submission_count": 0}},
                           at, "charge.dispute.created", oid=dispute_id)
        self.store.record_event("charge.dispute.funds_withdrawn", render("disputes", dispute), created=at)
        self.change("charges", charge, at, "charge.updated", disputed=True)

    # -- payouts -----------------------------------------------------------------------

    def payouts(self):
        """Every scheduled payout up to ``until`` of what became available since the last one."""
        for payout in _oldest_first(self.store, "payouts"):  # money sent earlier that arrived since
            if payout["status"] == "in_transit" and payout["arrival_date"] <= self.until:
                self.change("payouts", payout, payout["arrival_date"], "payout.paid", status="paid",
                            reconciliation_status="completed")
        txns = _oldest_first(self.store, "balance_transactions")
        for txn in txns:  # funds that became available since the last run (Stripe sends no event for it)
            if txn["status"] == "pending" and txn["available_on"] <= self.until:
                self.change("balance_transactions", txn, txn["available_on"], status="available")
        funds = sorted((t["available_on"], t["net"]) for t in txns if t["type"] != "payout")
        if not funds:
            return
        coll = self.store.collections["payouts"]
        paid_up_to = coll.at(0)["created"] if len(coll) else funds[0][0] - 1
        when = _next_payout_time(paid_up_to)
        while when <= self.until:
            lo, hi = bisect.bisect_right(funds, (paid_up_to, float("inf"))), bisect.bisect_right(funds, (when, float("inf")))
            amount = sum(net for _, net in funds[lo:hi])
            if amount > 0:  # a negative balance waits for the next payout
                self.payout(when, amount)
                paid_up_to = when
            when = _next_payout_time(when)

    def payout(self, at, amount):
        payout_id, txn_id = self.new_id("po"), self.new_id("txn")
        self.balance_transaction(txn_id, at, -amount, "payout", payout_id, 0, available_on=at, description="STRIPE PAYOUT")
        arrival = at + PAYOUT_ARRIVAL_DAYS * DAY
        payout = self.add("payouts", {"amount": amount, "arrival_date": arrival, "balance_transaction": txn_id,
                                      "destination": BANK_ACCOUNT, "status": "in_transit", "automatic": True,
                                      "reconciliation_status": "in_progress", "statement_descriptor": None},
                          at, "payout.created", oid=payout_id)
        if arrival <= self.until:
            self.change("payouts", payout, arrival, "payout.paid", status="paid", reconciliation_status="completed")


def _next_payout_time(after):
    """The first scheduled payout time (Mondays, PAYOUT_HOUR UTC) strictly after ``after``."""
    day = after // DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday (3 in datetime's Monday=0 numbering)
    when = (day + (PAYOUT_WEEKDAY - weekday) % 7) * DAY + PAYOUT_HOUR * 3600
    return when if when > after else when + 7 * DAY


def _outcome(declined, risk_score):
    if declined:
        return {"network_status": "declined_by_network", "reason": "generic_decline", "risk_level": "normal",
                "risk_score": risk_score, "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined"}
    return {"network_status": "approved_by_network", "reason": None, "risk_level": "normal", "risk_score": risk_score,
            "seller_message": "Payment complete.", "type": "authorized"}
