"""What a sync costs in requests (issue 20): a first read of every stream and an idle
incremental sync right after it, by endpoint and by stream, in one run.

    .venv/bin/python benchmarks/read_cost.py [--customers 200] [--out benchmarks/results-read-cost.md]
    make bench-read-cost

The account (``integration_tests/customer_account.py``): ``--customers`` customers and the
objects that hang off them (payment sources with cards, bank accounts and sources, tax ids,
payment methods, balance and cash balance transactions, source transactions), every object
with its creation event; every other stream empty. Our Stripe emulator serves it on loopback
in this process; the reader is the console script (``source-stripe-proxy read``) with every
stream selected, incrementally where it can be. Two accounts alike but for their products:

* *every product enabled*, without a ``start_date`` and with one (``--start-date``);
* *eight products not enabled* (Issuing, Treasury, Terminal, Climate, Identity, Sigma,
  Financial Connections, Vault and Forward: what most accounts have), with
  ``unavailable_streams: skip`` and the ``start_date``.

and a typical selection (``TYPICAL``: the 15 streams of a revenue report) of the first account
with the ``start_date``. ``--quick``: only the first account, without a ``start_date``.

Request counts and bytes are exact (the server's log of the requests it answered); times are
the machine's and only indicative. The *by stream* column is the connector's own account of its
requests (its last log line), which names the reads one request served for several streams.
Nothing here is a test assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from integration_tests.customer_account import seed_customer_account  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.core.endpoints import endpoint_template  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.data import load_generated  # noqa: E402 - after the checkout is put on sys.path
from stripe_emulator import StripeEmulator, catalog  # noqa: E402 - after the checkout is put on sys.path

SOURCE_CMD = os.path.join(REPO, ".venv", "bin", "source-stripe-proxy")
API_KEY = "sk_test_readcost_benchmark_0000"  # a loopback stand-in's key, not a secret
CATALOGUE = load_generated("streams.json")["streams"]
NOT_ENABLED = ("Issuing", "Treasury", "Terminal", "Climate", "Identity", "Sigma", "Financial Connections", "Vault and Forward")
# A typical selection: what a revenue report reads (docs/read_allocation.md).
TYPICAL = (
    "customers",
    "subscriptions",
    "subscription_items",
    "invoices",
    "invoice_line_items",
    "charges",
    "refunds",
    "payment_intents",
    "products",
    "prices",
    "balance_transactions",
    "payouts",
    "disputes",
    "payment_methods",
    "customer_balance_transactions",
)
DEFAULT_START = "2017-01-25T00:00:00Z"  # Airbyte's example start date for Stripe
COST_LOG = "Stripe requests"  # the connector's closing log lines start so


def streams_catalog(names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The streams (every one by default), incremental where they can be (as integration_tests/incremental_catalog.json)."""
    streams = []
    for name, entry in sorted(CATALOGUE.items()):
        if names is not None and name not in names:
            continue
        incremental = "incremental" in entry["sync_modes"]
        streams.append(
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": entry["sync_modes"]},
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append",
            }
        )
    return {"streams": streams}


def run_read(config: dict[str, Any], streams: tuple[str, ...] | None, state: list[dict[str, Any]] | None, work: str) -> dict[str, Any]:
    paths = {}
    for name, value in (("config", config), ("catalog", streams_catalog(streams)), ("state", state)):
        if value is not None:
            paths[name] = os.path.join(work, f"{name}.json")
            with open(paths[name], "w", encoding="utf-8") as out:
                json.dump(value, out)
    command = [SOURCE_CMD, "read", "--config", paths["config"], "--catalog", paths["catalog"]]
    if "state" in paths:
        command += ["--state", paths["state"]]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO)
    wall = time.monotonic() - started
    records: Counter = Counter()
    last_state: dict[str, Any] = {}
    state_bytes, logs = 0, []
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message["type"] == "RECORD":
            records[message["record"]["stream"]] += 1
        elif message["type"] == "STATE":
            state_bytes += len(line)
            last_state[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        elif message["type"] == "LOG" and message["log"]["message"].startswith(COST_LOG):
            logs.append(message["log"]["message"])
    return {
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        "records": dict(records),
        "state": list(last_state.values()),
        "state_bytes": state_bytes,
        "cost_log": logs,
        "stderr_tail": done.stderr[-2000:] if done.returncode else "",
    }


def by_endpoint(requests: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['method']} {endpoint_template(r['path'])}" for r in requests).most_common())


def measure(
    customers: int, disabled: tuple[str, ...], start_date: str | None, streams: tuple[str, ...] | None, work: str
) -> dict[str, Any]:
    with StripeEmulator(api_key=API_KEY) as emulator:
        seed_customer_account(emulator, int(time.time()) - 5 * 86_400, customers=customers)
        for product in disabled:
            catalog.disable_product(emulator.store, product)
        emulator.clock.unfreeze()  # Stripe's clock from here on is the machine's, as the connector's
        config = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": emulator.url}
        if disabled:
            config["unavailable_streams"] = "skip"
        if start_date:
            config["start_date"] = start_date
        rows = {}
        state = None
        for label in ("first read", "idle sync"):
            before = len(emulator.requests.snapshot())
            run = run_read(config, streams, state, work)
            sent = emulator.requests.snapshot()[before:]
            run["requests"] = len(sent)
            run["by_endpoint"] = by_endpoint(sent)
            state = run.pop("state")
            rows[label] = run
        return {
            "customers": customers,
            "not_enabled": list(disabled),
            "start_date": start_date,
            "streams": list(streams) if streams else None,
            "runs": rows,
        }


def describe(result: dict[str, Any]) -> str:
    products = f"{len(result['not_enabled'])} products not enabled (skip)" if result["not_enabled"] else "every product enabled"
    start = f"start_date {result['start_date'][:10]}" if result["start_date"] else "no start_date"
    selection = f"the {len(result['streams'])} streams of a revenue report" if result.get("streams") else "every stream"
    return f"{selection}, {result['customers']} customers, {products}, {start}"


def markdown(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# What a sync costs in requests (issue 20)",
        "",
        f"`{command}`: a first read and then an idle incremental sync (nothing changed) of an account of",
        "customers and the objects that hang off them; the streams selected incrementally where they can be.",
        "Requests and bytes are exact; times are indicative (the machine is shared).",
        "",
        "| account | sync | requests | records | STATE bytes | wall | exit |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        account = describe(result)
        for label, run in result["runs"].items():
            lines.append(
                f"| {account} | {label} | {run['requests']:,} | {sum(run['records'].values()):,} | {run['state_bytes']:,} | "
                f"{run['wall_s']} s | {run['exit_code']} |"
            )
    for result in results:
        for label, run in result["runs"].items():
            title = f"{label}, {describe(result)}"
            lines += ["", f"## {title}: requests by endpoint", "", "| requests | endpoint |", "| --- | --- |"]
            lines += [f"| {count:,} | `{endpoint}` |" for endpoint, count in run["by_endpoint"].items()]
            if run["records"]:
                lines += ["", "Records: " + ", ".join(f"{name} {count}" for name, count in sorted(run["records"].items()))]
            if run["cost_log"]:
                lines += ["", "The connector's account of it (its closing log lines):", ""]
                lines += [f"> {line}" for line in run["cost_log"]]
            if run["stderr_tail"]:
                lines += ["", "```", run["stderr_tail"], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200)
    ap.add_argument(
        "--start-date", default=DEFAULT_START, help=f"the config's start_date of the runs that set one (default {DEFAULT_START})"
    )
    ap.add_argument("--quick", action="store_true", help="only the account with every product enabled, without a start_date")
    ap.add_argument("--out", default=os.path.join(HERE, "results-read-cost.md"))
    args = ap.parse_args(argv)
    if not os.path.exists(SOURCE_CMD):
        ap.error(f"{SOURCE_CMD} is missing: run `pip install -e .` in .venv first")
    scenarios = [((), None, None)]
    if not args.quick:
        scenarios += [((), args.start_date, None), (NOT_ENABLED, args.start_date, None), ((), args.start_date, TYPICAL)]
    with tempfile.TemporaryDirectory(prefix="stripe-read-cost-") as work:
        results = [measure(args.customers, disabled, start, streams, work) for disabled, start, streams in scenarios]
    command = "make bench-read-cost" if argv is None and len(sys.argv) == 1 else "benchmarks/read_cost.py " + " ".join(sys.argv[1:])
    text = markdown(results, command)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as out:
        json.dump(results, out, indent=1)
    print(text)
    return 0 if all(run["exit_code"] == 0 for result in results for run in result["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
