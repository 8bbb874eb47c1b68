"""Subscription billing over time, the way Stripe does it: ``run_billing(store, until, seed)``.

For every subscription of the store, from where its billing stands up to ``until``:

* an invoice when it starts (``billing_reason`` subscription_create; $0 during a trial) and one
  per later period (subscription_cycle), a line per subscription item; some first invoices also
  carry a one-off setup fee (an invoice item);
* each invoice paid by a charge through a payment intent, with the card on file (the
  subscription's or the customer's default payment method; a Stripe test card that declines,
  such as 4000 0000 0000 0341, always declines, see ``payments.py``). Some attempts are declined
  anyway (insufficient funds, a generic decline), as cards are;
* a declined first invoice leaves the subscription ``incomplete`` until the customer pays it on
  the spot (within Stripe's 23 hours); a declined renewal makes it ``past_due`` and the customer
  ``delinquent``, and the invoice is retried on the account's schedule (``RETRY_SCHEDULE_DAYS``
  after each failed attempt). Most retries recover it (dunning); when the last one fails too the
  invoice is marked uncollectible and the subscription canceled, ``cancellation_details.reason``
  payment_failed (the account's "if all retries fail" settings);
* a balance transaction for every successful charge (net of Stripe's fee), refund and dispute;
* now and then a refund (with a credit note on the invoice) or a dispute, days after a payment;
* a weekly payout of what became available, with its balance transaction;
* a subscription set to cancel at the period's end ends then.

Every object and event is created at its own moment of the account's history, never "now".
Every choice comes from ``random.Random`` seeded with ``seed``, the subscription's id and the
number of the period it is about (never a time or a generated id): the same store, seed and
``until`` give the same account, whenever it runs, and billing up to T1 and then up to T2
gives what billing up to T2 at once gives (apart from the ids of the new objects), unless the
store changed in between (a card that starts to decline). Where billing stands is read from the objects themselves
(``latest_invoice`` and ``current_period_end`` of a subscription, ``next_payment_attempt`` of
an open invoice, the newest payout), so a saved and reloaded store continues where it was.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter

from . import catalog
from .billing import _list, line_item, render
from .payments import (  # noqa: F401  (card_fee and CARD_FEE_FIXED: billing's figures, re-exported)
    CARD_FEE_FIXED,
    FUNDS_AVAILABLE_AFTER_DAYS,
    SOFT_DECLINES,
    attempt_charge,
    balance_transaction_fields,
    card_fee,
    decline_of,
)
from .store import add_interval, previous_attributes

DAY = 86_400
BILLED_STATUSES = ("active", "trialing", "past_due")  # subscriptions that get invoices
DISPUTE_FEE = 1500
PAYOUT_WEEKDAY = 0  # Monday (datetime's numbering), at PAYOUT_HOUR UTC
PAYOUT_HOUR = 6
PAYOUT_ARRIVAL_DAYS = 2
RETRY_SCHEDULE_DAYS = (3, 5, 7)  # a renewal is retried 3, 5 and 7 days after each failed attempt
DECLINED_SHARE = 0.08  # invoices whose first payment attempt is declined (with a card that otherwise works)
# Of those renewals, which retry gets through (the rest never does: the subscription is canceled).
RECOVERED_ON_RETRY = ((1, 0.45), (2, 0.25), (3, 0.10))
PAID_ON_THE_SPOT_SECONDS = (600, 20 * 3600)  # a declined sign-up is paid again, by the customer, this soon
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
                sub = self.change(
                    "subscriptions", sub, sub["cancel_at"], "customer.subscription.deleted", status="canceled", ended_at=sub["cancel_at"]
                )
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
        return self.attempt(sub, invoice, at)

    def subscription_line(self, invoice_id, index, item, start, end, free):
        price = item["price"]
        amount = 0 if free else (price.get("unit_amount") or 0) * (item.get("quantity") or 1)
        product = self.store.lookup("products", price.get("product")) or {}
        recurring = price.get("recurring") or {}
        description = (
            f"Trial period for {product.get('name')}"
            if free
            else (
                f"{item.get('quantity') or 1} × {product.get('name')} "
                f"(at ${(price.get('unit_amount') or 0) / 100:.2f} / {recurring.get('interval')})"
            )
        )
        line = line_item(invoice_id, index, start, amount=amount, description=description)
        line.update(
            type="subscription",
            price=price,
            plan=item.get("plan"),
            quantity=item.get("quantity") or 1,
            subscription=item["subscription"],
            subscription_item=item["id"],
            period={"start": start, "end": end},
            unit_amount_excluding_tax=str(0 if free else price.get("unit_amount") or 0),
        )
        return line

    def setup_fee(self, sub, invoice_id, index, at):
        item = self.add(
            "invoiceitems",
            {
                "customer": sub["customer"],
                "invoice": invoice_id,
                "amount": SETUP_FEE,
                "unit_amount": SETUP_FEE,
                "unit_amount_decimal": str(SETUP_FEE),
                "currency": sub["currency"],
                "description": "One-time setup fee",
                "subscription": sub["id"],
            },
            at,
            "invoiceitem.created",
        )
        line = line_item(invoice_id, index, at, amount=SETUP_FEE, description="One-time setup fee")
        line.update(invoice_item=item["id"], type="invoiceitem", subscription=sub["id"])
        return line

    # -- invoices and payments ---------------------------------------------------------

    def customer_of(self, customer_id):
        return self.store.lookup("customers", customer_id) or {}

    def draft_invoice(self, sub, invoice_id, at, reason, lines):
        customer = self.customer_of(sub["customer"])
        total = sum(line["amount"] for line in lines)
        return self.add(
            "invoices",
            {
                "customer": sub["customer"],
                "customer_email": customer.get("email"),
                "customer_name": customer.get("name"),
                "subscription": sub["id"],
                "billing_reason": reason,
                "currency": sub["currency"],
                "auto_advance": True,
                "lines": _list(f"/v1/invoices/{invoice_id}/lines", lines),
                "subtotal": total,
                "subtotal_excluding_tax": total,
                "total": total,
                "total_excluding_tax": total,
                "amount_due": total,
                "amount_remaining": total,
                "period_start": sub["current_period_start"] if reason == "subscription_cycle" else at,
                "period_end": at,
                "ending_balance": None,
                "webhooks_delivered_at": at,
            },
            at,
            "invoice.created",
            oid=invoice_id,
        )

    def finalize(self, invoice, at):
        self.invoices_of[invoice["customer"]] += 1
        prefix = self.customer_of(invoice["customer"]).get("invoice_prefix") or "EMU00000"
        return self.change(
            "invoices",
            invoice,
            at,
            "invoice.finalized",
            status="open",
            number=f"{prefix}-{self.invoices_of[invoice['customer']]:04d}",
            ending_balance=0,
            hosted_invoice_url=f"https://invoice.stripe.com/i/{invoice['id']}",
            invoice_pdf=f"https://pay.stripe.com/invoice/{invoice['id']}/pdf",
            status_transitions=dict(invoice["status_transitions"], finalized_at=at),
        )

    def card_on_file(self, sub, customer):
        """The payment method Stripe charges: the subscription's default, else the customer's."""
        ref = sub.get("default_payment_method") or (customer.get("invoice_settings") or {}).get("default_payment_method")
        return catalog.state(self.store).by_id.get("payment_methods", {}).get(ref) if ref else None

    def chance_decline(self, invoice):
        """A decline of a card that otherwise works: some invoices' first attempt, and the retries
        before the one that gets through (none, for some renewals)."""
        key = self.period_key.get(invoice["id"])
        if self.rng(key, "declined").random() >= DECLINED_SHARE:
            return None
        recovered_on = 1  # a sign-up's customer pays again on the spot
        if invoice["billing_reason"] != "subscription_create":
            draw, recovered_on = self.rng(key, "recovery").random(), None
            for retry, share in RECOVERED_ON_RETRY:
                if draw < share:
                    recovered_on = retry
                    break
                draw -= share
        if recovered_on is not None and invoice["attempt_count"] >= recovered_on:
            return None
        return self.rng(key, "decline code").choice(SOFT_DECLINES)

    def attempt(self, sub, invoice, at, on_the_spot=False):
        """Charge the invoice through its payment intent; returns the subscription."""
        customer = self.customer_of(invoice["customer"])
        method = None if on_the_spot else self.card_on_file(sub, customer)
        decline = None if on_the_spot else (decline_of(method) or self.chance_decline(invoice))
        description = "Subscription creation" if invoice["billing_reason"] == "subscription_create" else "Subscription update"
        intent = self.store.lookup("payment_intents", invoice["payment_intent"]) if invoice["payment_intent"] else None
        if intent is None:
            intent = self.add(
                "payment_intents",
                {
                    "amount": invoice["amount_due"],
                    "currency": invoice["currency"],
                    "customer": invoice["customer"],
                    "invoice": invoice["id"],
                    "description": description,
                    "status": "requires_confirmation",
                },
                at,
                "payment_intent.created",
            )
        risk = self.rng(self.period_key.get(invoice["id"]), invoice["attempt_count"], "risk").randint(5, 60)
        billing_details = {"address": None, "email": customer.get("email"), "name": customer.get("name"), "phone": None}
        intent, charge = attempt_charge(
            self,
            intent,
            at,
            method,
            decline,
            risk_score=risk,
            invoice=invoice["id"],
            billing_details=billing_details,
            receipt_email=customer.get("email"),
        )
        invoice = dict(invoice, attempted=True, attempt_count=invoice["attempt_count"] + 1, payment_intent=intent["id"])
        if decline is None:
            self.mark_paid(invoice, at, intent["id"], charge["id"], previous=self.store.lookup("invoices", invoice["id"]))
            self.set_delinquent(customer, at, False)
            if sub["status"] in ("past_due", "incomplete"):
                sub = self.change("subscriptions", sub, at, "customer.subscription.updated", status="active")
            return sub
        return self.declined(sub, invoice, at, charge["id"], customer)

    def declined(self, sub, invoice, at, charge_id, customer):
        """After a declined attempt: the invoice waits for its next attempt, or dunning ends."""
        previous = self.store.lookup("invoices", invoice["id"])
        if invoice["billing_reason"] == "subscription_create" and sub["status"] != "past_due":
            self.change("invoices", previous, at, "invoice.payment_failed", **_attempt_fields(invoice, charge_id, None))
            return self.change("subscriptions", sub, at, "customer.subscription.updated", status="incomplete")
        self.set_delinquent(customer, at, True)
        attempts = invoice["attempt_count"]
        if attempts <= len(RETRY_SCHEDULE_DAYS):
            retry_at = at + RETRY_SCHEDULE_DAYS[attempts - 1] * DAY
            self.change("invoices", previous, at, "invoice.payment_failed", **_attempt_fields(invoice, charge_id, retry_at))
            if sub["status"] == "past_due":
                return sub
            return self.change("subscriptions", sub, at, "customer.subscription.updated", status="past_due")
        failed = self.change("invoices", previous, at, "invoice.payment_failed", **_attempt_fields(invoice, charge_id, None))
        self.change(
            "invoices",
            failed,
            at,
            "invoice.marked_uncollectible",
            status="uncollectible",
            status_transitions=dict(failed["status_transitions"], marked_uncollectible_at=at),
        )
        details = dict(sub["cancellation_details"], reason="payment_failed")
        return self.change(
            "subscriptions",
            sub,
            at,
            "customer.subscription.deleted",
            status="canceled",
            canceled_at=at,
            ended_at=at,
            cancel_at=None,
            cancellation_details=details,
        )

    def set_delinquent(self, customer, at, delinquent):
        """Stripe marks a customer delinquent while an invoice's automatic payment has failed."""
        stored = self.store.lookup("customers", customer.get("id"))
        if stored is not None and stored.get("delinquent") != delinquent:
            self.change("customers", stored, at, "customer.updated", delinquent=delinquent)

    def mark_paid(self, invoice, at, intent_id, charge_id, previous=None):
        paid = dict(
            invoice,
            status="paid",
            paid=True,
            attempted=True,
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
            payment_intent=intent_id,
            charge=charge_id,
            status_transitions=dict(invoice["status_transitions"], paid_at=at),
        )
        old = previous or invoice
        self.store.replace("invoices", paid)
        self.store.record_event("invoice.paid", render("invoices", paid), previous_attributes(old, paid), created=at)
        self.store.record_event("invoice.payment_succeeded", render("invoices", paid), created=at)
        return paid

    def retry_due(self, sub):
        """Every attempt on the subscription's unpaid invoice that came due by ``until``: the
        customer's own payment of an incomplete sign-up, or the retry schedule of a renewal."""
        while True:
            invoice = self.store.lookup("invoices", sub["latest_invoice"]) if sub["latest_invoice"] else None
            if invoice is None or invoice["status"] != "open":
                return sub
            if sub["status"] == "incomplete":
                low, high = PAID_ON_THE_SPOT_SECONDS
                when = invoice["created"] + self.rng(self.period_key.get(invoice["id"]), "paid on the spot").randint(low, high)
                if when > self.until:
                    return sub
                sub = self.attempt(sub, invoice, when, on_the_spot=True)
                continue
            when = invoice.get("next_payment_attempt")
            if when is None or when > self.until or sub["status"] not in BILLED_STATUSES:
                return sub
            sub = self.attempt(sub, invoice, when)

    def balance_transaction(self, txn_id, at, amount, kind, source, fee, available_on, description=None, category=None):
        fields = balance_transaction_fields(amount, kind, source, fee, available_on, self.until, description, category)
        return self.add("balance_transactions", fields, at, oid=txn_id)

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
        self.balance_transaction(
            txn_id, at, -amount, "refund", refund_id, 0, available_on=at, description=f"REFUND FOR CHARGE ({charge['description']})"
        )
        refund = self.add(
            "refunds",
            {
                "amount": amount,
                "charge": charge["id"],
                "payment_intent": charge["payment_intent"],
                "balance_transaction": txn_id,
                "currency": charge["currency"],
                "reason": "requested_by_customer",
                "status": "succeeded",
            },
            at,
            "refund.created",
            oid=refund_id,
        )
        self.change("charges", charge, at, "charge.refunded", amount_refunded=amount, refunded=full)
        note_id = self.new_id("cn")
        self.add(
            "credit_notes",
            {
                "amount": amount,
                "subtotal": amount,
                "total": amount,
                "currency": charge["currency"],
                "customer": charge["customer"],
                "invoice": invoice["id"],
                "refund": refund["id"],
                "number": f"{invoice['number']}-CN-01",
                "type": "post_payment",
                "reason": "product_unsatisfactory",
                "memo": "Refunded at the customer's request",
                "pdf": f"https://pay.stripe.com/credit_notes/{note_id}/pdf",
                "lines": _list(f"/v1/credit_notes/{note_id}/lines"),
            },
            at,
            "credit_note.created",
            oid=note_id,
        )
        self.change(
            "invoices",
            invoice,
            at,
            "invoice.updated",
            post_payment_credit_notes_amount=invoice["post_payment_credit_notes_amount"] + amount,
        )

    def dispute(self, charge, at, reason):
        dispute_id, txn_id = self.new_id("dp"), self.new_id("txn")
        withdrawal = self.balance_transaction(
            txn_id,
            at,
            -charge["amount"],
            "adjustment",
            dispute_id,
            DISPUTE_FEE,
            available_on=at,
            description=f"Chargeback withdrawal for {charge['id']}",
            category="dispute",
        )
        dispute = self.add(
            "disputes",
            {
                "amount": charge["amount"],
                "charge": charge["id"],
                "currency": charge["currency"],
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "balance_transactions": [withdrawal],
                "is_charge_refundable": False,
                "evidence_details": {
                    "due_by": at + 7 * DAY,
                    "has_evidence": False,
                    "past_due": at + 7 * DAY <= self.until,
                    "submission_count": 0,
                },
            },
            at,
            "charge.dispute.created",
            oid=dispute_id,
        )
        self.store.record_event("charge.dispute.funds_withdrawn", render("disputes", dispute), created=at)
        self.change("charges", charge, at, "charge.updated", disputed=True)

    # -- payouts -----------------------------------------------------------------------

    def payouts(self):
        """Every scheduled payout up to ``until`` of what became available since the last one."""
        for payout in _oldest_first(self.store, "payouts"):  # money sent earlier that arrived since
            if payout["status"] == "in_transit" and payout["arrival_date"] <= self.until:
                self.change("payouts", payout, payout["arrival_date"], "payout.paid", status="paid", reconciliation_status="completed")
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
        payout = self.add(
            "payouts",
            {
                "amount": amount,
                "arrival_date": arrival,
                "balance_transaction": txn_id,
                "destination": BANK_ACCOUNT,
                "status": "in_transit",
                "automatic": True,
                "reconciliation_status": "in_progress",
                "statement_descriptor": None,
            },
            at,
            "payout.created",
            oid=payout_id,
        )
        if arrival <= self.until:
            self.change("payouts", payout, arrival, "payout.paid", status="paid", reconciliation_status="completed")


def _next_payout_time(after):
    """The first scheduled payout time (Mondays, PAYOUT_HOUR UTC) strictly after ``after``."""
    day = after // DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday (3 in datetime's Monday=0 numbering)
    when = (day + (PAYOUT_WEEKDAY - weekday) % 7) * DAY + PAYOUT_HOUR * 3600
    return when if when > after else when + 7 * DAY


def _attempt_fields(invoice, charge_id, next_attempt):
    return {
        "attempted": True,
        "attempt_count": invoice["attempt_count"],
        "next_payment_attempt": next_attempt,
        "payment_intent": invoice["payment_intent"],
        "charge": charge_id,
    }
