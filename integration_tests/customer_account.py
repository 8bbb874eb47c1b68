"""An account of customers and the objects that hang off them (issue 20's measurement).

Each customer gets, by its position ``i`` (the same account every time): cards, bank accounts
and sources among its payment sources (a few customers more than the 10 Stripe embeds), tax ids
(a few more than 10), payment methods, balance transactions and cash balance transactions, and
a source's transactions; every object with its creation event, as Stripe records them. Nothing
else is in the account: the other streams are empty, as in an account that only bills customers.

Used by ``benchmarks/read_cost.py`` and the read-cost integration tests.
"""

from __future__ import annotations

from stripe_emulator import catalog

MANY_SOURCES = 12  # a customer with more payment sources than Stripe embeds (10)
MANY_TAX_IDS = 11


def children_of(i: int) -> dict[str, int]:
    """How many objects of each kind customer ``i`` has."""
    return {
        "customer_cards": MANY_SOURCES if i % 40 == 7 else i % 3,
        "bank_accounts": 1 if i % 4 == 0 else 0,
        "customer_sources": 1 if i % 5 == 0 else 0,  # `object: source` (their transactions hang off them)
        "customer_tax_ids": MANY_TAX_IDS if i % 50 == 3 else (1 if i % 3 == 1 else 0),
        "payment_methods": i % 2,
        "customer_balance_transactions": 2 if i % 3 == 2 else 0,
        "customer_cash_balance_transactions": 1 if i % 7 == 0 else 0,
    }


def seed_customer_account(emulator, at: int, customers: int = 200, step_seconds: int = 1) -> list[str]:
    """``customers`` customers from ``at`` on, each object ``step_seconds`` after the one before;
    returns the customers' ids, oldest first."""
    emulator.set_time(at)
    store = emulator.store
    ids = []
    for i in range(customers):
        customer = store.add("customers", {"email": f"c{i}@example.com"}, emit_event=True)["id"]
        ids.append(customer)
        emulator.advance(step_seconds)
        for stream, count in children_of(i).items():
            fields = {"object": "source"} if stream == "customer_sources" else None
            for _ in range(count):
                made = catalog.add(store, stream, fields, parent_id=customer, emit_event=True)
                if stream == "customer_sources" and i % 10 == 0:
                    catalog.add(store, "source_transactions", parent_id=made["id"], emit_event=True)
                emulator.advance(step_seconds)
    return ids
