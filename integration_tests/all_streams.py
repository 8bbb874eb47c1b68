"""An emulated account with objects in every stream of the catalogue, and what each stream
must read from it: the seed's own ids, never a count.

Used by ``test_all_streams.py`` (every stream, every connection mode) and by
``benchmarks/all_streams.py`` (a few thousand objects spread across every stream).
"""

from __future__ import annotations

from source_stripe_proxy.data import load_generated
from stripe_emulator import catalog

CATALOGUE = load_generated("streams.json")["streams"]
ALL_STREAMS = sorted(CATALOGUE)
CONNECTED = "acct_1AllStreamsConnctd"
# The streams the hand-written emulator models; their objects are in the store's collections.
STORE_RESOURCES = {
    "customers": "customers",
    "products": "products",
    "prices": "prices",
    "plans": "plans",
    "subscriptions": "subscriptions",
    "invoices": "invoices",
    "invoice_items": "invoiceitems",
    "charges": "charges",
    "refunds": "refunds",
    "payment_intents": "payment_intents",
    "payouts": "payouts",
    "coupons": "coupons",
    "promotion_codes": "promotion_codes",
    "disputes": "disputes",
    "credit_notes": "credit_notes",
    "balance_transactions": "balance_transactions",
    "events": "events",
    "accounts": "accounts",
}


SMALL = ("billing_meters", "billing_meter_event_summaries")  # summaries are listed per meter *and* customer


def seed_every_stream(
    emulator, at: int, *, customers: int = 3, per_parent: int = 2, parents: int = 2, lines: int = 12, step_seconds: int = 0
) -> None:
    """Objects in every stream, created ``at``: the billing objects through the store, a Connect
    account, an automatic payout with its balance transaction, and every other stream through
    ``stripe_emulator.catalog.seed`` (``per_parent`` objects, and as many for each of ``parents``
    parents of a child stream, with their events; two billing meters at most, as their summaries
    are listed per meter and customer). ``step_seconds``: each object this much later than the
    one before, from ``at`` on (0: all at ``at``)."""
    emulator.set_time(at)
    store = emulator.store
    people = []
    for i in range(customers):
        people.append(store.add("customers", {"email": f"c{i}@example.com"})["id"])
        emulator.advance(step_seconds)
    product = store.add("products", {"name": "Gold"})["id"]
    price = store.add("prices", {"product": product, "unit_amount": 500, "currency": "usd", "recurring": {"interval": "month"}})["id"]
    store.add("plans", {"product": product, "amount": 900, "currency": "usd", "interval": "year"})
    for customer in people[:2]:
        store.add("subscriptions", {"customer": customer, "items": [{"price": price}, {"price": price}]})
    store.add("invoices", {"customer": people[0], "lines": [{"amount": 100 + i} for i in range(lines)]})  # more than the embedded 10
    for resource in ("invoiceitems", "charges", "refunds", "payment_intents", "coupons", "promotion_codes", "disputes", "credit_notes"):
        store.add(resource, {})
    for automatic in (True, False):
        payout = store.add("payouts", {"automatic": automatic})
        store.add("balance_transactions", {"source": payout["id"], "type": "payout"})
    store.bulk_add("balance_transactions", 3)
    emulator.add_connected_account(CONNECTED)
    generic = set(catalog.generic_streams())
    catalog.seed(store, per_parent=per_parent, parents=parents, streams=generic - set(SMALL), step_seconds=step_seconds)
    catalog.seed(store, per_parent=min(2, per_parent), parents=min(2, parents), streams=SMALL, step_seconds=step_seconds)


def expected_ids(emulator) -> dict[str, set[str]]:
    """What a full read of each stream must return from ``emulator``, by id."""
    store = emulator.store
    expected = {}
    for name in ALL_STREAMS:  # a customer's cards are among its sources too: each endpoint's own view
        expected[name] = {obj["id"] for obj in catalog.listed(store, name)}
    for name, resource in STORE_RESOURCES.items():
        expected[name] = {obj["id"] for obj in store.all(resource)}
    expected["invoice_line_items"] = {line["id"] for invoice in store.all("invoices") for line in invoice["lines"]["data"]}
    expected["subscription_items"] = {item["id"] for sub in store.all("subscriptions") for item in sub["items"]["data"]}
    automatic = {payout["id"] for payout in store.all("payouts") if payout.get("automatic")}
    expected["payout_balance_transactions"] = {t["id"] for t in store.all("balance_transactions") if t.get("source") in automatic}
    return expected
