"""The main job: sync Stripe into a local DuckDB file with PyAirbyte.

    .venv/bin/python scripts/demo.py [--config FILE] [--stand-in] [--fresh] [--out DIR]

With ``secrets/config.json`` (or ``--config FILE``) it syncs that account into
``.demo/stripe.duckdb``. Without it (or with ``--stand-in``) it runs an embedded Stripe stand-in on loopback, our emulator
(``stripe_emulator``), and syncs that into ``.demo/stripe-sample.duckdb``:

* first run: the stand-in is filled with a sample account, five months of history: customers
  and products written through our destination (``DestinationStripeProxy``), prices, plans and
  subscriptions created through our actions (``StripeConnection``), a coupon and its promotion
  code; each subscriber signs up through a checkout session (with its line item) and saves a
  card (a payment method), some visitors save a card for later (a setup intent and its attempt),
  and a reseller gets a monthly transfer; then the emulator bills the subscriptions as Stripe would have (``run_billing``:
  invoices and their lines, payment intents, charges, refunds, disputes, balance transactions,
  payouts), each object at its own moment of that history, the same for the same seed, with
  trouble (``bill_with_trouble``): declined payments, dunning that recovers a renewal or cancels
  it for payment_failed, and a subscription past due now;
* later runs: the stand-in comes back from ``.demo/stripe-emulator.json`` as it was, bills
  what came due since, and changes the way a real account changes between two syncs: a
  customer changes their email, a price is renamed, a subscription is upgraded (its item
  replaced), one is canceled, a customer who never subscribed is deleted, and there are new
  sign-ups (through the ``destination-stripe-proxy write`` console script, records on stdin)
  and subscriptions (through the actions), billed at once. After the sync a table shows what
  the incremental sync brought for each change, checked in DuckDB, and a query shows the rows.

The sync itself runs in PyAirbyte's own environment (``.venv-pyairbyte``, see
``scripts/setup_pyairbyte.sh``) by ``scripts/pyairbyte_sync.py``; PyAirbyte keeps the state in
the DuckDB file, so every run after the first is incremental. ``--fresh`` starts over.

This script runs in the connector's environment (``.venv``); the two never share packages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from airbyte_cdk.models import (  # noqa: E402 - after the checkout is put on sys.path
    AirbyteMessage,
    AirbyteRecordMessage,
    ConfiguredAirbyteCatalogSerializer,
    Type,
)

from source_stripe_proxy.actions.connection import StripeConnection  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.core.client import StripeClient  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.core.settings import ConnectionSettings  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.destination.connector import SUMMARY_TRACE_TYPE, DestinationStripeProxy, accepted_catalog  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator import StripeEmulator, billing, catalog, payments  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator.billing_cycle import run_billing  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator.persistence import load_from_file, save_to_file  # noqa: E402 - after the checkout is put on sys.path

SECRETS = REPO / "secrets" / "config.json"
DEMO_KEY = "sk_test_demo_standin_0000"  # the stand-in's key; it guards nothing but a loopback port
DAY = 86_400
SEED = 20240620  # the sample account's ids, sign-ups and subscriptions follow from it
BILLING_SEED = 10  # and its billing: chosen so that five months hold a few of everything, disputes too
LOCAL_BUDGET = 1000  # requests/second while filling the stand-in (it is on loopback, with no rate limit)

# The sample account: a small SaaS with four tiers, each sold monthly (a price) or yearly (a plan).
TIERS = (("Starter", 900), ("Growth", 4900), ("Scale", 19900), ("Enterprise", 99900))
FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Tim",
    "Margaret",
    "John",
    "Katherine",
    "Dennis",
    "Hedy",
    "Linus",
    "Sophie",
    "Guido",
    "Anita",
    "Niklaus",
)
LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Hamilton",
    "Backus",
    "Johnson",
    "Ritchie",
    "Lamarr",
    "Torvalds",
    "Wilson",
    "van Rossum",
    "Borg",
    "Wirth",
)
CITIES = (
    ("Berlin", "DE"),
    ("Lyon", "FR"),
    ("Austin", "US"),
    ("Toronto", "CA"),
    ("Osaka", "JP"),
    ("Leeds", "GB"),
    ("Porto", "PT"),
    ("Denver", "US"),
)
SEGMENTS = ("self-serve", "self-serve", "self-serve", "sales-led")
SAMPLE_CUSTOMERS = 120
HISTORY_DAYS = 150
PARTNER = "acct_1DemoResellerPart"  # a Connect account the business pays a revenue share to
# The stand-in's streams: the billing ones, and those of checkout, saved cards and transfers.
PAYMENT_STREAMS = ("checkout_sessions", "checkout_sessions_line_items", "payment_methods", "setup_intents", "setup_attempts", "transfers")
NEW_CUSTOMERS_PER_RUN = 5
NEW_SUBSCRIPTIONS_PER_RUN = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=SECRETS, help="the account to sync (secrets/config.json); absent: the stand-in")
    parser.add_argument("--stand-in", action="store_true", help="use the embedded stand-in even if the config exists")
    parser.add_argument("--fresh", action="store_true", help="forget the DuckDB file, its state and the stand-in's data first")
    parser.add_argument("--out", type=Path, default=REPO / ".demo", help="where the DuckDB file and the stand-in's data live (.demo)")
    parser.add_argument(
        "--pyairbyte-python",
        type=Path,
        default=REPO / ".venv-pyairbyte" / "bin" / "python",
        help="the Python of PyAirbyte's environment (.venv-pyairbyte/bin/python)",
    )
    return parser.parse_args(argv)


# -- writing through our own destination and actions --------------------------------------------


def write_in_process(destination: DestinationStripeProxy, config: Mapping[str, Any], stream: str, rows: list[Mapping[str, Any]]) -> Counter:
    """Write rows with the destination's Python class; returns its outcome counts."""
    catalog = ConfiguredAirbyteCatalogSerializer.load(accepted_catalog([stream]))
    now_ms = int(time.time() * 1000)
    messages = [
        AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data=dict(row), emitted_at=now_ms)) for row in rows
    ]
    for _ in destination.write(config, catalog, iter(messages)):
        pass
    return checked_outcomes(destination.last_summary, stream, len(rows))


def write_with_console_script(config: Mapping[str, Any], stream: str, rows: list[Mapping[str, Any]], workdir: Path) -> Counter:
    """Write rows as Airbyte does: `destination-stripe-proxy write`, records on stdin."""
    script = Path(sys.executable).with_name("destination-stripe-proxy")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from source_stripe_proxy.airbyte.entrypoints import run_destination as r; r()"]
    )
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        config_path, catalog_path = Path(tmp) / "config.json", Path(tmp) / "catalog.json"
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(accepted_catalog([stream])))
        stdin = (
            "".join(
                json.dumps({"type": "RECORD", "record": {"stream": stream, "data": row, "emitted_at": int(time.time() * 1000)}}) + "\n"
                for row in rows
            )
            + json.dumps(
                {
                    "type": "STATE",
                    "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"rows": len(rows)}}},
                }
            )
            + "\n"
        )
        done = subprocess.run(
            [*command, "write", "--config", str(config_path), "--catalog", str(catalog_path)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
    summary = None
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        trace = message.get("trace") if message.get("type") == "TRACE" else None
        if trace and trace.get("type") == "ANALYTICS" and trace["analytics"]["type"] == SUMMARY_TRACE_TYPE:
            summary = json.loads(trace["analytics"]["value"])
    if done.returncode != 0 or summary is None:
        raise RuntimeError(f"destination-stripe-proxy write failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return checked_outcomes(summary, stream, len(rows))


def checked_outcomes(summary: Mapping[str, Any], stream: str, expected: int) -> Counter:
    counts = Counter({k: v for k, v in summary["streams"][stream].items() if k != "requests"})
    if counts["rejected"] or counts["created"] + counts["updated"] + counts["unchanged"] != expected:
        raise RuntimeError(f"the destination did not write every {stream} record: {dict(counts)}")
    return counts


def find_written(stripe: StripeConnection, stream: str, row: Mapping[str, Any]) -> str:
    """The id of the object the destination wrote for ``row`` (it keeps the external id in metadata)."""
    if stream == "customers":
        candidates = stripe.run(action="list", entity="customers", email=row["email"], limit=100)["data"]
    else:
        candidates = stripe.run(action="list", entity="products", limit=100, all=True)
        candidates = candidates["data"] if isinstance(candidates, dict) else candidates
    matches = [obj["id"] for obj in candidates if (obj.get("metadata") or {}).get("external_id") == row["external_id"]]
    if len(matches) != 1:
        raise RuntimeError(f"expected one {stream} object for {row['external_id']}, found {len(matches)}")
    return matches[0]


def customer_row(rng: random.Random, number: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, country = rng.choice(CITIES)
    slug = f"{first}.{last}".lower().replace(" ", "")
    return {
        "external_id": f"crm-{number:05d}",
        "email": f"{slug}{number}@example.com",
        "name": f"{first} {last}",
        "description": f"Signed up through the {rng.choice(('website', 'partner program', 'trade fair', 'newsletter'))}",
        "phone": f"+1555{number:07d}",
        "address": {"line1": f"{rng.randint(1, 250)} Market Street", "city": city, "country": country},
        "metadata": {"segment": rng.choice(SEGMENTS)},
    }


def fill_sample_account(emulator: StripeEmulator, config: Mapping[str, Any]) -> Counter:
    """Five months of a small SaaS business, each object at its own moment of that history."""
    rng = random.Random(SEED)
    written: Counter = Counter()
    destination = DestinationStripeProxy(lambda settings: StripeClient(settings, endpoint_limits={}))  # no search limit here
    stripe = StripeConnection(config)
    start = int(time.time()) - HISTORY_DAYS * DAY

    # Products through the destination, prices (monthly) and plans (yearly) through the actions.
    sold = []  # (monthly price id, yearly plan id)
    for index, (tier, monthly) in enumerate(TIERS):
        emulator.set_time(start + index * 600)
        row = {
            "external_id": f"tier-{tier.lower()}",
            "name": tier,
            "description": f"The {tier} tier",
            "active": True,
            "metadata": {"tier": str(index + 1)},
        }
        written["products"] += write_in_process(destination, config, "products", [row])["created"]
        product_id = find_written(stripe, "products", row)
        emulator.set_time(start + index * 600 + 60)
        price = stripe.run(
            action="create",
            entity="price",
            product_id=product_id,
            amount=monthly,
            currency="usd",
            interval="month",
            nickname=f"{tier} monthly",
        )
        emulator.set_time(start + index * 600 + 120)
        plan = stripe.run(
            action="create",
            entity="plan",
            product_id=product_id,
            amount=monthly * 10,
            currency="usd",
            interval="year",
            nickname=f"{tier} yearly",
        )
        written["prices"] += 1
        written["plans"] += 1
        sold.append((price["id"], plan["id"]))
    emulator.set_time(start + 3 * DAY)  # a launch offer (the emulator's store: the actions don't create coupons)
    coupon = emulator.store.add(
        "coupons",
        {"id": "LAUNCH20", "name": "Launch offer", "percent_off": 20.0, "duration": "repeating", "duration_in_months": 3},
        emit_event=True,
    )
    emulator.store.add("promotion_codes", {"code": "LAUNCH20", "coupon": coupon}, emit_event=True)

    # Customers sign up over the months; about half subscribe, a few days later at most.
    span = (HISTORY_DAYS - 2) * DAY
    for number in range(1, SAMPLE_CUSTOMERS + 1):
        signed_up = start + DAY + (number - 1) * span // SAMPLE_CUSTOMERS + rng.randint(0, 3600)
        emulator.set_time(signed_up)
        row = customer_row(rng, number)
        written["customers"] += write_in_process(destination, config, "customers", [row])["created"]
        if rng.random() < 0.55:
            customer_id = find_written(stripe, "customers", row)
            emulator.set_time(signed_up + rng.randint(600, 2 * DAY))
            tier = subscribe(stripe, rng, customer_id, sold)
            written["subscriptions"] += 1
            check_out(emulator, rng, customer_id, TIERS[tier])
        elif rng.random() < 0.3:  # saves a card for later, without subscribing (yet)
            emulator.set_time(signed_up + rng.randint(60, 3600))
            save_card_for_later(emulator, rng, find_written(stripe, "customers", row))
    pay_the_reseller(emulator, start)
    emulator.clock.unfreeze()  # from here on the stand-in's clock is the real one
    return written


def card(rng: random.Random) -> dict[str, Any]:
    brand, last4 = rng.choice((("visa", "4242"), ("mastercard", "4444"), ("amex", "8431"), ("visa", "1881")))
    return {
        "type": "card",
        "card": dict(
            catalog.EXAMPLES["payment_methods"][0]["card"],
            brand=brand,
            last4=last4,
            exp_month=rng.randint(1, 12),
            exp_year=2027 + rng.randint(0, 4),
        ),
    }


def check_out(emulator: StripeEmulator, rng: random.Random, customer_id: str, tier) -> None:
    """A subscriber signs up through Stripe Checkout: the session, its line item, the saved card."""
    name, monthly = tier
    store = emulator.store
    catalog.add(store, "payment_methods", dict(card(rng), customer=customer_id), parent_id=customer_id)
    session = catalog.add(
        store,
        "checkout_sessions",
        {
            "customer": customer_id,
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "amount_subtotal": monthly,
            "amount_total": monthly,
            "currency": "usd",
            "payment_method_types": ["card"],
            "success_url": "https://example.com/welcome",
            "metadata": {"tier": name},
        },
    )
    catalog.add(
        store,
        "checkout_sessions_line_items",
        {"description": f"{name} subscription", "amount_subtotal": monthly, "amount_total": monthly, "currency": "usd", "quantity": 1},
        parent_id=session["id"],
    )


def save_card_for_later(emulator: StripeEmulator, rng: random.Random, customer_id: str) -> None:
    """A visitor saves a card without paying: a setup intent, its (successful) attempt, the card."""
    store = emulator.store
    method = catalog.add(store, "payment_methods", dict(card(rng), customer=customer_id), parent_id=customer_id)
    intent = catalog.add(
        store,
        "setup_intents",
        {
            "customer": customer_id,
            "status": "succeeded",
            "usage": "off_session",
            "payment_method": method["id"],
            "payment_method_types": ["card"],
        },
    )
    emulator.set_time(emulator.clock.now() + 5)
    catalog.add(
        store,
        "setup_attempts",
        {
            "setup_intent": intent["id"],
            "customer": customer_id,
            "status": "succeeded",
            "payment_method": method["id"],
            "usage": "off_session",
        },
        parent_id=intent["id"],
    )


def pay_the_reseller(emulator: StripeEmulator, start: int) -> None:
    """A monthly revenue share to a reseller's Connect account."""
    emulator.add_connected_account(PARTNER)
    for month in range(1, HISTORY_DAYS // 30):
        emulator.set_time(start + month * 30 * DAY)
        catalog.add(
            emulator.store,
            "transfers",
            {
                "amount": 2500 + 500 * month,
                "currency": "usd",
                "destination": PARTNER,
                "description": "Reseller revenue share",
                "reversed": False,
                "amount_reversed": 0,
            },
        )


def subscribe(stripe: StripeConnection, rng: random.Random, customer_id: str, sold) -> int:
    tier = min(int(rng.expovariate(1.2)), len(sold) - 1)  # most customers pick the smaller tiers
    monthly, yearly = sold[tier]
    extra = {"trial_period_days": 14} if rng.random() < 0.2 else {}
    stripe.run(
        action="create", entity="subscription", customer_id=customer_id, price_id=yearly if rng.random() < 0.25 else monthly, **extra
    )
    return tier


def bill(emulator: StripeEmulator) -> Counter:
    """The stand-in bills its subscriptions up to now, as Stripe would have (deterministic from BILLING_SEED)."""
    return run_billing(emulator.store, seed=BILLING_SEED)


# Trouble, as a real account has it: cards that stop working before a renewal (Stripe's test card
# 4000 0000 0000 0341, which saves but never pays). (what, renewals in this window of days before
# now, days after the renewal the customer saves a working card, or None: never).
CARD_TROUBLE = (
    ("canceled after every retry declined (payment_failed)", (80, 60), None),
    ("recovered: a new card before the second retry", (55, 35), 4),
    ("past due now, retries ahead", (9, 3), None),
)


def bill_with_trouble(emulator: StripeEmulator) -> tuple[Counter, list[dict[str, Any]]]:
    """Bill five months, with a few customers' cards starting to decline before a renewal (the
    random declines of ``run_billing`` come on top). Returns what was billed and the trouble."""
    store, now, billed, trouble = emulator.store, int(time.time()), Counter(), []

    def bill_until(moment: int) -> None:
        billed.update(run_billing(store, until=moment, seed=BILLING_SEED))

    def switch_card(customer_id: str, test_card: str, moment: int) -> None:
        bill_until(moment)
        emulator.set_time(moment)
        method = payments.card_method(store, test_card, customer=customer_id)
        billing.update(store, "customers", customer_id, invoice_settings={"default_payment_method": method["id"]})

    for what, (earliest, latest), fixed_after in CARD_TROUBLE:
        bill_until(now - earliest * DAY - 2 * DAY)
        taken = {t["subscription"] for t in trouble}
        candidates = sorted(
            (s["current_period_end"], s["id"])
            for s in store.all("subscriptions")
            if s["status"] == "active"
            and s["id"] not in taken
            and s["trial_end"] is None
            and s["items"]["data"][0]["price"]["recurring"]["interval"] == "month"
            and now - earliest * DAY <= s["current_period_end"] <= now - latest * DAY
        )
        if not candidates:
            print(f"  (no renewal {earliest}-{latest} days ago for the trouble '{what}': left out)")
            continue
        renewal, sub_id = candidates[0]
        customer_id = store.get("subscriptions", sub_id)["customer"]
        switch_card(customer_id, "pm_card_chargeCustomerFail", renewal - DAY)
        if fixed_after is not None:
            switch_card(customer_id, "pm_card_visa", renewal + fixed_after * DAY)
        trouble.append({"what": what, "subscription": sub_id, "customer": customer_id, "renewal": renewal})
    emulator.clock.unfreeze()
    bill_until(now)
    for item in trouble:  # how each ended: the subscription now, the renewal's invoice
        invoice = next(i for i in store.all("invoices") if i["subscription"] == item["subscription"] and i["created"] == item["renewal"])
        item.update(
            status=store.get("subscriptions", item["subscription"])["status"],
            invoice=invoice["id"],
            invoice_status=invoice["status"],
            attempts=invoice["attempt_count"],
        )
    return billed, trouble


def check(table: str, object_id: str, label: str = "", **expect: Any) -> dict[str, Any]:
    """What DuckDB must hold after the sync: the row of ``object_id`` with these values
    (``a.b`` is field ``b`` of JSON column ``a``)."""
    return {"table": table, "id": object_id, "label": label, "expect": expect}


def change_the_account(emulator: StripeEmulator, config: Mapping[str, Any], workdir: Path) -> tuple[Counter, Counter, list[dict[str, Any]]]:
    """Between two syncs, as in a real account: updates, an upgrade, a cancellation, a deletion, sign-ups.

    Returns what was written, what was billed and, per change, the rows DuckDB must show after the sync.
    """
    rng = random.Random()
    stripe = StripeConnection(config)
    client = StripeClient(ConnectionSettings.from_config(config), endpoint_limits={})
    store = emulator.store
    written: Counter = Counter()
    changes: list[dict[str, Any]] = []

    def note(change: str, table: str, *checks: dict[str, Any]) -> None:
        changes.append({"change": change, "table": table, "checks": list(checks)})
        print(f"  {change}")

    product_names = {p["id"]: p["name"] for p in store.all("products")}
    monthly = sorted(
        (p for p in store.all("prices") if (p.get("recurring") or {}).get("interval") == "month"),
        key=lambda price: price["unit_amount"] or 0,
    )
    customers = store.all("customers")
    subscribed = {s["customer"] for s in store.all("subscriptions")}

    # A customer changes their email (through the actions).
    customer = rng.choice(customers)
    email = f"{customer['name'].lower().replace(' ', '.')}.{rng.randint(10, 99)}@fastmail.example"
    stripe.run(action="update", entity="customer", customer_id=customer["id"], email=email)
    note(
        f"customer changed their email ({customer['email']} -> {email})",
        "customers",
        check("customers", customer["id"], email=email, is_deleted=False),
    )

    # A price that has subscribers is renamed (their items keep a copy of it as it was: see docs/running.md).
    sold_prices = {item["price"]["id"] for s in store.all("subscriptions") if s["status"] == "active" for item in s["items"]["data"]}
    price = rng.choice([p for p in monthly if p["id"] in sold_prices] or monthly)
    nickname = f"{product_names[price['product']]} monthly (renamed {time.strftime('%H:%M:%S')})"
    client.post(f"/v1/prices/{price['id']}", {"nickname": nickname})
    note(f"price renamed ({price['nickname']!r} -> {nickname!r})", "prices", check("prices", price["id"], nickname=nickname))

    # A subscription moves up a tier: its item is replaced by one on the next monthly price.
    tiers = [p["id"] for p in monthly]
    active = [s for s in store.all("subscriptions") if s["status"] == "active" and len(s["items"]["data"]) == 1]
    upgradable = [s for s in active if s["items"]["data"][0]["price"]["id"] in tiers[:-1]]
    sub = rng.choice(upgradable)
    old_item = sub["items"]["data"][0]
    new_price = tiers[tiers.index(old_item["price"]["id"]) + 1]
    upgraded = client.post(f"/v1/subscriptions/{sub['id']}", {"items": [{"id": old_item["id"], "deleted": True}, {"price": new_price}]})
    new_item = next(item for item in upgraded["items"]["data"] if item["id"] != old_item["id"])
    tier_names = " -> ".join(product_names[p] for p in (old_item["price"]["product"], new_item["price"]["product"]))
    note(
        f"subscription upgraded ({tier_names}): its item replaced",
        "subscription_items",
        check("subscription_items", old_item["id"], "removed item", is_deleted=True),
        check("subscription_items", new_item["id"], "new item", is_deleted=False, **{"price.id": new_price}),
    )

    # A subscription is canceled.
    sub = rng.choice([s for s in active if s["id"] != sub["id"]])
    client.delete(f"/v1/subscriptions/{sub['id']}")
    note("subscription canceled", "subscriptions", check("subscriptions", sub["id"], status="canceled", is_deleted=False))

    # A customer who never subscribed asks to be deleted: the row stays, marked deleted, with its last data.
    gone = rng.choice([c for c in customers if c["id"] not in subscribed and c["id"] != customer["id"]])
    client.delete(f"/v1/customers/{gone['id']}")
    note(
        "customer deleted (never subscribed)",
        "customers",
        check("customers", gone["id"], is_deleted=True, email=gone["email"], name=gone["name"]),
    )

    # New sign-ups (through the destination's console script, as Airbyte runs it) and subscriptions.
    last = last_customer_number(store)
    rows = [customer_row(rng, last + i) for i in range(1, NEW_CUSTOMERS_PER_RUN + 1)]
    written["customers"] += write_with_console_script(config, "customers", rows, workdir)["created"]
    new_ids = [find_written(stripe, "customers", row) for row in rows]
    note(f"{len(rows)} new sign-ups", "customers", *(check("customers", cid, is_deleted=False) for cid in new_ids))
    yearly_plans = {p["product"]: p["id"] for p in store.all("plans") if p.get("interval") == "year"}
    sold = [(p["id"], yearly_plans.get(p["product"], p["id"])) for p in monthly]
    subs_before = {s["id"] for s in store.all("subscriptions")}
    for customer_id in new_ids[:NEW_SUBSCRIPTIONS_PER_RUN]:
        subscribe(stripe, rng, customer_id, sold)
        written["subscriptions"] += 1
    new_subs = [s["id"] for s in store.all("subscriptions") if s["id"] not in subs_before]
    billed = bill(emulator)  # their first invoices and payments
    first_invoices = {i["subscription"]: i["id"] for i in store.all("invoices") if i["subscription"] in new_subs}
    note(
        f"{len(new_subs)} new subscriptions, each with its first invoice",
        "subscriptions",
        *(check("subscriptions", sid, "subscription", is_deleted=False, latest_invoice=first_invoices[sid]) for sid in new_subs),
        *(
            check("invoices", first_invoices[sid], "first invoice", billing_reason="subscription_create", subscription=sid)
            for sid in new_subs
        ),
    )
    return written, billed, changes


def last_customer_number(store) -> int:
    """The highest ``crm-NNNNN`` external id ever written, deleted customers included (from their events)."""
    seen = [c.get("metadata") or {} for c in store.all("customers")]
    seen += [(e["data"]["object"].get("metadata") or {}) for e in store.all("events") if e["type"] == "customer.deleted"]
    numbers = [int(m["external_id"][4:]) for m in seen if str(m.get("external_id", "")).startswith("crm-")]
    return max(numbers, default=0)


# -- the run -------------------------------------------------------------------------------------


def trouble_text(emulator: StripeEmulator) -> str:
    """The account's failed payments and dunning, as counted in the stand-in."""
    subs = Counter(s["status"] for s in emulator.store.all("subscriptions"))
    invoices = emulator.store.all("invoices")
    churned = sum(1 for s in emulator.store.all("subscriptions") if s["cancellation_details"]["reason"] == "payment_failed")
    recovered = sum(1 for i in invoices if i["status"] == "paid" and i["attempt_count"] > 1)
    failed = sum(1 for c in emulator.store.all("charges") if c["status"] == "failed")
    return (
        f"{failed} failed payments, {recovered} invoices paid on a retry, {subs['past_due']} subscriptions past due, "
        f"{churned} canceled for failed payment"
    )


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items())) or "nothing"


# The stand-in's resources and the streams they fill (the rest have the same name).
STREAM_OF_RESOURCE = {"invoiceitems": "invoice_items"}
STAND_IN_RESOURCES = (
    "customers",
    "subscriptions",
    "products",
    "plans",
    "prices",
    "balance_transactions",
    "invoices",
    "invoiceitems",
    "charges",
    "refunds",
    "payment_intents",
    "payouts",
    "coupons",
    "promotion_codes",
    "disputes",
    "credit_notes",
    "events",
)


def stand_in_counts(emulator: StripeEmulator) -> dict[str, int]:
    """Objects per stream in the stand-in now (deleted ones are gone from it)."""
    counts = {STREAM_OF_RESOURCE.get(name, name): emulator.store.count(name) for name in STAND_IN_RESOURCES}
    counts["invoice_line_items"] = sum(len(i["lines"]["data"]) for i in emulator.store.all("invoices"))
    counts["subscription_items"] = sum(len(s["items"]["data"]) for s in emulator.store.all("subscriptions"))
    rows = catalog.state(emulator.store).rows
    for stream in PAYMENT_STREAMS:
        counts[stream] = sum(len(group) for group in rows.get(stream, {}).values())
    return counts


def run_sync(args, config_path: Path, db_path: Path, summary_path: Path, changes_path: Path | None, streams: list[str] | None) -> int:
    command = [
        str(args.pyairbyte_python),
        str(REPO / "scripts" / "pyairbyte_sync.py"),
        "--config",
        str(config_path),
        "--executable",
        str(Path(sys.executable).with_name("source-stripe-proxy")),
        "--db",
        str(db_path),
        "--summary",
        str(summary_path),
    ]
    if changes_path is not None:
        command += ["--changes", str(changes_path)]
    if streams:
        command += ["--streams", ",".join(streams)]
    else:
        command += ["--skip-unavailable"]
    env = dict(os.environ, AIRBYTE_LOGGING_ROOT=str(args.out / "logs"))
    return subprocess.run(command, env=env).returncode


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.pyairbyte_python.exists():
        print(f"PyAirbyte's environment is missing ({args.pyairbyte_python}); run: bash scripts/setup_pyairbyte.sh", file=sys.stderr)
        return 2
    use_stand_in = args.stand_in or not args.config.exists()
    db_path = args.out / ("stripe-sample.duckdb" if use_stand_in else "stripe.duckdb")
    store_path = args.out / "stripe-emulator.json"
    summary_path = args.out / "last-sync.json"
    changes_path = args.out / "changes.json"
    changes_path.unlink(missing_ok=True)  # only this run's changes are checked after its sync
    if args.fresh:
        for path in (db_path, db_path.with_name(db_path.name + ".wal"), store_path if use_stand_in else None):
            if path is not None and path.exists():
                path.unlink()
    started = time.monotonic()
    report: dict[str, Any] = {"db": str(db_path), "stand_in": use_stand_in}

    with ExitStack() as stack:
        streams = None  # a real account: every stream (those it can't read are skipped, see run_sync)
        if not use_stand_in:
            print(f"Syncing the Stripe account configured in {args.config} into {db_path}")
            print(
                "  (streams this account can't read, e.g. Issuing when it is not enabled, are skipped with a warning"
                " unless the config sets 'unavailable_streams')"
            )
            config_path = args.config.resolve()
        else:
            emulator = StripeEmulator(api_key=DEMO_KEY, seed=SEED)
            restored = load_from_file(emulator, store_path)
            stack.enter_context(emulator)
            config = {"credentials": {"auth_type": "api_key", "api_key": DEMO_KEY}, "api_base": emulator.url}
            fill_config = dict(config, requests_per_second=LOCAL_BUDGET, endpoint_requests_per_second=LOCAL_BUDGET)
            if restored:
                print(f"Stripe stand-in on {emulator.url}, restored from {store_path} ({emulator.store.count('customers')} customers).")
                billed = bill(emulator)  # what came due since the last run
                if billed:
                    print("  billed since the last run: " + counts_text(billed))
                print("Changing it the way a real account changes between two syncs:")
                changes_since = int(time.time()) - 1
                written, billed_now, changes = change_the_account(emulator, fill_config, args.out)
                print("  billed the new subscriptions: " + counts_text(billed_now))
                billed.update(billed_now)
                changes_path.write_text(json.dumps({"since": changes_since, "changes": changes}, indent=1))
            else:
                if db_path.exists():  # it holds another stand-in's objects and state: start it over too
                    print(f"The stand-in's saved data is gone; starting {db_path.name} over as well.")
                    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
                        path.unlink(missing_ok=True)
                why = "" if args.stand_in else f"No {args.config.name}: "
                print(
                    f"{why}starting a Stripe stand-in (our emulator) on {emulator.url} and filling it "
                    f"with a sample account through our destination and actions..."
                )
                written = fill_sample_account(emulator, fill_config)
                print("  and a launch offer: coupon LAUNCH20 with its promotion code (in the stand-in's store)")
                billed, trouble = bill_with_trouble(emulator)
                print("  billed five months of subscriptions: " + counts_text(billed))
                print("  with trouble: " + trouble_text(emulator))
                report["trouble"] = trouble
            save_to_file(emulator, store_path)  # saved before the sync: the next run sees these objects either way
            print("  written this run through our destination and actions: " + counts_text(written))
            report.update(
                written=dict(written),
                billed=dict(billed),
                stand_in_counts=stand_in_counts(emulator),
                stand_in_ids={name: sorted(o["id"] for o in emulator.store.all(name)) for name in ("customers", "subscriptions")},
            )
            config_path = args.out / "stand-in-config.json"
            config_path.write_text(json.dumps(config, indent=1))
            streams = sorted(stand_in_counts(emulator))
        prepared = time.monotonic() - started
        which = f"the stand-in's {len(streams)} streams" if streams else "every stream"
        print(f"Syncing {which} with PyAirbyte into {db_path} ...", flush=True)
        code = run_sync(args, config_path, db_path, summary_path, changes_path if changes_path.exists() else None, streams)
    report.update(prepare_seconds=round(prepared, 2), total_seconds=round(time.monotonic() - started, 2), exit_code=code)
    if summary_path.exists():
        report["sync"] = json.loads(summary_path.read_text())
    (args.out / "last-run.json").write_text(json.dumps(report, indent=1))
    if code == 0:
        print(f"Done in {report['total_seconds']:.1f}s. Run it again for an incremental sync; `--fresh` starts over.")
    return code


if __name__ == "__main__":
    sys.exit(main())
