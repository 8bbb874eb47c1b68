"""How many ``/v1/events`` requests an incremental sync makes for 1, 20 and all streams over the
same events (issue 14): the number must follow the number of events, not of streams.

    .venv/bin/python benchmarks/events_pass.py [--events 3000] [--out benchmarks/results-events-pass.md]

The emulator (in this process, on loopback) gets objects in every stream, then ``--events``
events spread round-robin over every stream that follows events (each a change of one of its
objects). Each sync is the real console script (``source-stripe-proxy read``) with a state
that puts every selected stream after its first read, so it reads changes from the events;
the requests are counted from the emulator's log. The two strategies for more than 20 types
are compared on the same events: reading every event once and routing each to its streams
(what the source does), and grouping the types 20 to a request filter (one pass per group),
computed exactly from the emulator's events and Stripe's page size of 100.

Nothing here is a test assertion; the figures go to the markdown file given by ``--out``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repo root: stripe_emulator and integration_tests

from integration_tests.all_streams import ALL_STREAMS, seed_every_stream  # noqa: E402 - after the checkout is put on sys.path
from integration_tests.harness import configured_catalog, run_connector  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.core.stripe_facts import MAX_EVENT_TYPES, MAX_PAGE_SIZE  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.source.stream_specs import STREAM_SPECS  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator import StripeEmulator, catalog  # noqa: E402 - after the checkout is put on sys.path

API_KEY = "sk_test_events_pass_bench"
DAY = 86_400


def evented_streams() -> list[str]:
    """Streams whose later syncs read events, with the events they read."""
    return sorted(name for name, spec in STREAM_SPECS.items() if spec.change_event_types)


# The streams the source read before issue 14: on a billing account most events are theirs.
FIRST_STREAMS = (
    "balance_transactions",
    "charges",
    "coupons",
    "credit_notes",
    "customers",
    "disputes",
    "events",
    "invoice_items",
    "invoice_line_items",
    "invoices",
    "payment_intents",
    "payouts",
    "plans",
    "prices",
    "products",
    "promotion_codes",
    "refunds",
    "subscription_items",
    "subscriptions",
)
BILLING_TWENTY = [*(name for name in FIRST_STREAMS if name != "events"), "checkout_sessions", "setup_intents"]
BILLING_SHARE = 0.8  # "billing": this share of the events are the first streams' types


def event_kinds() -> list[tuple]:
    kinds = []
    for name in evented_streams():
        spec = STREAM_SPECS[name]
        owner = spec if spec.event_types else STREAM_SPECS[spec.parent.stream]
        for event_type in spec.event_types or owner.event_types:
            kinds.append((owner.name, event_type))
    return sorted(set(kinds))


def make_events(emulator: StripeEmulator, count: int, spread: str) -> None:
    """``count`` events, each carrying an object of its stream: round-robin over every event
    type a stream reads (``uniform``), or ``billing``: 80% over the types of the first 19
    streams (charges, invoices, customers, ...) and 20% over all the others."""
    store = emulator.store
    kinds = event_kinds()
    billing = [k for k in kinds if k[0] in FIRST_STREAMS]
    others = [k for k in kinds if k[0] not in FIRST_STREAMS]
    examples = catalog.EXAMPLES
    for i in range(count):
        if spread == "uniform":
            stream, event_type = kinds[i % len(kinds)]
        else:
            pool = billing if (i % 10) < BILLING_SHARE * 10 else others
            stream, event_type = pool[(i * 7) % len(pool)]
        obj = dict(examples[stream][0], id=f"{stream[:4]}_ev{i}", created=emulator.clock.now())
        if STREAM_SPECS[stream].objects:
            obj["object"] = STREAM_SPECS[stream].objects[0]
        store.record_event(event_type, obj)
        if i % 50 == 49:
            emulator.advance(1)


def state_after_first_read(streams: Sequence[str], since: int) -> list[dict]:
    states = []
    for name in streams:
        spec = STREAM_SPECS[name]
        value = {"created": since, "events_since": since} if spec.change_event_types else {"created": since}
        states.append({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}})
    return states


def incremental(streams: Sequence[str]) -> dict:
    made = configured_catalog(streams, sync_mode="incremental")
    for entry in made["streams"]:
        if not STREAM_SPECS[entry["stream"]["name"]].incremental:
            entry["sync_mode"] = "full_refresh"
    return made


def grouped_requests(types: Sequence[str], events: list[dict]) -> int:
    """Requests if the types were split into groups of 20, one filtered pass per group."""
    ordered = sorted(types)
    total = 0
    for start in range(0, len(ordered), MAX_EVENT_TYPES):
        group = set(ordered[start : start + MAX_EVENT_TYPES])
        total += max(1, math.ceil(sum(1 for e in events if e["type"] in group) / MAX_PAGE_SIZE))
    return total


def measure(emulator: StripeEmulator, label: str, streams: Sequence[str], since: int, config: dict) -> dict[str, object]:
    before = len(emulator.requests.snapshot())
    started = time.monotonic()
    result = run_connector("source", "read", config, incremental(streams), state=state_after_first_read(streams, since), timeout=900)
    seconds = time.monotonic() - started
    sent = emulator.requests.snapshot()[before:]
    events = [e for e in emulator.store.all("events") if e["created"] >= since]
    types = sorted({t for name in streams for t in STREAM_SPECS[name].change_event_types})
    wanted = sum(1 for e in events if e["type"] in set(types))
    return {
        "label": label,
        "streams": len(streams),
        "with_events_stream": "events" in streams,
        "types": len(types),
        "ok": result.returncode == 0,
        "events_requests": sum(1 for r in sent if r["path"] == "/v1/events"),
        "typed": any("types[]" in r["query"] for r in sent if r["path"] == "/v1/events"),
        "passes": len(
            {tuple(r["query"].get("types[]", [])) for r in sent if r["path"] == "/v1/events" and "starting_after" not in r["query"]}
        ),
        "events_listed": len(events),
        "events_wanted": wanted,
        "records": len(result.records),
        "read_all_pages": max(1, math.ceil(len(events) / MAX_PAGE_SIZE)),
        "filtered_pages": max(1, math.ceil(wanted / MAX_PAGE_SIZE)) if len(types) <= MAX_EVENT_TYPES else None,
        "grouped_requests": grouped_requests(types, events),
        "separate_requests": sum(
            max(1, math.ceil(sum(1 for e in events if e["type"] in set(STREAM_SPECS[n].change_event_types)) / MAX_PAGE_SIZE))
            for n in streams
            if STREAM_SPECS[n].change_event_types
        ),
        "seconds": round(seconds, 1),
    }


def how(row: dict[str, object]) -> str:
    if row["types"] <= MAX_EVENT_TYPES:
        return "one read, `types[]`"
    if row["typed"]:
        return f"sample + {row['passes'] - 1} reads by group"
    if row["with_events_stream"]:
        return "one read of every event (the `events` stream is selected)"
    return "sample + one read of every event"


def markdown(rows: list[dict[str, object]], events: int) -> str:
    lines = [
        "# One events pass for every stream (issue 14)",
        "",
        f"`.venv/bin/python benchmarks/events_pass.py --events {events}`: an incremental sync of 1, 20 and all",
        "streams over the same events (the emulator, on loopback). `/v1/events` requests are counted by the",
        "emulator. *separate* is what one events read per stream would cost (the source before issue 14);",
        "*grouped* what grouping the types 20 to a `types[]` filter would cost; *read all* one pass over every event.",
        "Events *uniform*: round-robin over every type a stream reads; *billing*: 80% over the types of the first",
        "19 streams (charges, invoices, customers, ...), 20% over the rest. *20 streams (a-z)*: the first 20 streams",
        "that follow events by name; *20 streams (billing)*: the first 19 but `events`, checkout and setup intents.",
        "With the `events` stream selected (*all streams*) every event is read for it anyway: no sample, one read.",
        "",
        (
            "| events | streams | event types | events since the cursor | of their types | `/v1/events` requests | how | "
            "separate | grouped | read all | records | exit |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['spread']} | {row['label']} ({row['streams']}) | {row['types']} | {row['events_listed']} | {row['events_wanted']} | "
            f"**{row['events_requests']}** | {how(row)} | {row['separate_requests']} | "
            f"{row['grouped_requests']} | {row['read_all_pages']} | {row['records']} | {'ok' if row['ok'] else 'FAILED'} |"
        )
    lines += [
        "",
        "Up to 20 types the read asks Stripe for them (`types[]`): the pages of the wanted events. Beyond 20,",
        "reading every event once costs the pages of all events however many streams read them, and grouping",
        "the types 20 to a filter costs the pages of the wanted events plus up to one request per group: fewer",
        "when the selected streams' events are a small share of all, more when most events are wanted (every",
        "stream selected). So the source measures: one request for the newest page of every event since the",
        "oldest cursor gives the event rate and each group's share, and the cheaper estimate wins (the *how*",
        "column; the sample is counted in the requests). Either way each event page is read once per read.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--out", default=os.path.join(HERE, "results-events-pass.md"))
    args = ap.parse_args(argv)
    rows = []
    for spread in ("uniform", "billing"):
        with StripeEmulator(api_key=API_KEY, log_limit=1_000_000) as emulator:
            seed_every_stream(emulator, int(time.time()) - 3 * DAY)
            emulator.advance(DAY)
            since = emulator.clock.now()
            make_events(emulator, args.events, spread)
            config = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": emulator.url, "requests_per_second": 1000}
            subsets = [
                ("customers", ["customers"]),
                ("20 streams (a-z)", evented_streams()[:20]),
                ("20 streams (billing)", BILLING_TWENTY),
                ("all but `events`", [n for n in ALL_STREAMS if n != "events"]),
                ("all streams", ALL_STREAMS),
            ]
            for label, streams in subsets:
                rows.append(dict(measure(emulator, label, streams, since, config), spread=spread))
    text = markdown(rows, args.events)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)
    print(text)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
