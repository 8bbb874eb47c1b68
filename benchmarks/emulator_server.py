"""The benchmark's Stripe server: our loopback ``StripeEmulator`` in its own process.

Run as a subprocess by ``benchmarks/run.py`` so the server's CPU is never counted against
a reader. It seeds N generated objects per stream (newest first, one second apart, real
``starting_after`` pagination and ``created`` filters), can add a fixed latency to every
request and enforce rate limits (overall and per endpoint) with 429 + ``Retry-After``.

    python benchmarks/emulator_server.py --seed customers=200000 --latency 0.25 \
        --rate-limit 28 --retry-after 1

It prints one line ``READY <url>`` on stdout once it listens, then serves until its stdin
closes or it gets SIGTERM (and at most ``--max-seconds``, so it can never outlive a run).

``--connect accounts=2000,customers=2,balance_transactions=1`` adds connected accounts, each
with its own objects (``benchmarks/connect_accounts.py``).

Besides Stripe's API it answers ``GET /_bench/stats`` (no latency, no rate limit, no auth):
request counts by kind and status since start, for request rates and 429 counts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repo root: stripe_emulator is not installed

from stripe_emulator import StripeEmulator  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator import store as emulator_store  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator.httpbase import Response  # noqa: E402 - after the checkout is put on sys.path

API_KEY = "sk_test_benchmark_key_0000"
STREAM_RESOURCES = ("customers", "subscriptions", "products", "plans", "prices", "balance_transactions")
# bulk_add() has no generator for subscriptions; give it one in this process only (the
# emulator rebuilds each bulk row from subscription_defaults plus these fields on read).
BULK_SUBSCRIPTION_FIELDS = lambda seq: {"customer": f"cus_bulk{seq % 1000}"}  # noqa: E731 - a hook named as the constant it stands for


def endpoint_of(path: str) -> str:
    """A path with its ids as {id}: requests by endpoint show which streams are being read."""
    return "/".join("{id}" if "_" in part and any(c.isdigit() for c in part) else part for part in path.split("/"))


class BenchEmulator(StripeEmulator):
    """The Stripe emulator plus request counters and a stats endpoint for the benchmark."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stats_lock = threading.Lock()
        self._counts: Counter = Counter()
        self._started = time.monotonic()

    def handle(self, req):
        if req.path == "/_bench/stats":
            with self._stats_lock:
                counts = dict(self._counts)
            body = {
                "counts": counts,
                "rate_limited": self.rate_limited + self.endpoint_rate_limited,
                "uptime": time.monotonic() - self._started,
                "cpu": time.process_time(),
            }
            return Response.json(200, body)
        resp = super().handle(req)
        kind = "search" if req.path.endswith("/search") else req.method
        with self._stats_lock:
            self._counts["requests"] += 1
            self._counts[kind] += 1
            self._counts[f"status_{resp.status}"] += 1
            self._counts["endpoint " + endpoint_of(req.path)] += 1
            if resp.status == 200 and req.method == "POST":
                self._counts["writes_ok"] += 1
        return resp


def seed(emulator: BenchEmulator, spec: str, span_days: float) -> dict:
    counts = {}
    for item in filter(None, spec.split(",")):
        resource, _, n = item.partition("=")
        n = int(n)
        if resource not in STREAM_RESOURCES:
            raise SystemExit(f"unknown resource {resource!r}")
        if resource == "subscriptions" and "subscriptions" not in emulator_store.BULK_FIELDS:
            emulator_store.BULK_FIELDS["subscriptions"] = BULK_SUBSCRIPTION_FIELDS
        # Evenly spread over span_days (at least one second apart), the newest a day ago.
        step = max(1, int(span_days * 86_400 / n)) if n else 1
        start = int(time.time()) - 86_400 - n * step
        emulator.store.bulk_add(resource, n, created_start=start, created_step=step)
        counts[resource] = n
    return counts


def seed_connected(emulator: BenchEmulator, spec: str) -> dict:
    """``accounts=N,customers=K,balance_transactions=M``: N connected accounts (an hour apart),
    each with K customers and M balance transactions (a minute apart; each account's newest at its
    own time, a day ago or more, as accounts are: their cursors differ)."""
    sizes = {key: int(value) for key, _, value in (item.partition("=") for item in spec.split(",") if item)}
    accounts = emulator.add_connected_accounts(sizes.pop("accounts"))
    for index, account in enumerate(accounts):
        newest = int(time.time()) - 86_400 - 61 * index
        store = emulator.store_for(account)
        for resource, n in sizes.items():
            if n:
                store.bulk_add(resource, n, created_start=newest - 60 * n, created_step=60)
    return {"accounts": len(accounts), **{resource: n * len(accounts) for resource, n in sizes.items()}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    ap.add_argument("--rate-limit", type=int, default=None, help="requests per second before 429s")
    ap.add_argument(
        "--endpoint-rate-limit", type=int, default=None, help="requests per second of each endpoint before 429s (Stripe's default is 25)"
    )
    ap.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on rate-limit 429s")
    ap.add_argument("--seed", default="", help="resource=N[,resource=N...]")
    ap.add_argument(
        "--span-days", type=float, default=0.0, help="spread each resource's objects evenly over this many days (0: one second apart)"
    )
    ap.add_argument(
        "--all-streams",
        default="",
        help="customers=N,per_parent=K,parents=P: objects in every stream of the catalogue "
        "(integration_tests/all_streams.py), a second apart from five days ago",
    )
    ap.add_argument(
        "--connect", default="", help="accounts=N,customers=K,balance_transactions=M: N connected accounts with K and M objects each"
    )
    ap.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long, whatever happens")
    args = ap.parse_args(argv)

    emulator = BenchEmulator(
        API_KEY,
        latency=args.latency,
        rate_limit=args.rate_limit,
        port=args.port,
        seed=1,
        rate_limit_retry_after=args.retry_after,
        log_limit=64,
        endpoint_rate_limit=args.endpoint_rate_limit,
    )
    seeded = seed(emulator, args.seed, args.span_days)
    if args.all_streams:
        from integration_tests.all_streams import expected_ids, seed_every_stream

        sizes = {key: int(value) for key, _, value in (item.partition("=") for item in args.all_streams.split(","))}
        # Objects a second apart (events too, as in a real account), the newest before now.
        seed_every_stream(emulator, int(time.time()) - 5 * 86_400, step_seconds=1, **sizes)
        emulator.clock.unfreeze()
        seeded = {name: len(ids) for name, ids in expected_ids(emulator).items()}
    if args.connect:
        seeded.update(seed_connected(emulator, args.connect))
    emulator.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin():  # the parent closing our stdin (or dying) ends the server
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"READY {emulator.url} {json.dumps(seeded)}", flush=True)
    stop.wait(args.max_seconds)
    emulator.stop()


if __name__ == "__main__":
    main()
