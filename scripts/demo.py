"""The main job, end to end: sync Stripe with source-stripe-proxy and keep the state.

With secrets/config.json it syncs that account. Without it, it starts the embedded Stripe
emulator on loopback, fills it with a sample account through our own action API, and syncs
that. Records land in .demo/records/<stream>.jsonl, state in .demo/state.json; a second run
is incremental from that state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from integration_tests.harness import configured_catalog  # noqa: E402
from source_stripe_proxy.actions import StripeConnection  # noqa: E402
from source_stripe_proxy.streams import STREAM_CLASSES  # noqa: E402

OUT = REPO / ".demo"
SECRETS = REPO / "secrets" / "config.json"


def fill_sample_account(config: dict) -> None:
    """A small, realistic account, created through the same calls an agent would make."""
    stripe = StripeConnection(config)
    products = [
        stripe.run(action="create", entity="product", name=name, description=f"{name} tier")
        for name in ("Starter", "Growth", "Scale")
    ]
    prices = [
        stripe.run(action="create", entity="price", product_id=p["id"], amount=amount, currency="usd", interval="month")
        for p, amount in zip(products, (900, 4900, 19900))
    ]
    for p, amount in zip(products, (9000, 49000, 199000)):
        stripe.run(action="create", entity="plan", product_id=p["id"], amount=amount, currency="usd", interval="year")
    for i in range(60):
        customer = stripe.run(action="create", entity="customer", email=f"buyer{i}@example.com", name=f"Buyer {i}")
        if i % 3 == 0:
            stripe.run(action="create", entity="subscription", customer_id=customer["id"], price_id=prices[i % 3]["id"])


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with ExitStack() as stack:
        if SECRETS.exists():
            config = json.loads(SECRETS.read_text())
            print(f"Syncing the account configured in {SECRETS.relative_to(REPO)}")
        else:
            from stripe_emulator import StripeEmulator

            emulator = stack.enter_context(StripeEmulator(api_key="sk_test_demo"))
            config = {"credentials": {"auth_type": "api_key", "api_key": "sk_test_demo"}, "api_base": emulator.url}
            print(f"No secrets/config.json: syncing a sample account on an embedded Stripe emulator ({emulator.url})")
            fill_sample_account(config)
        config_path = OUT / "config.json"
        config_path.write_text(json.dumps(config))
        catalog_path = OUT / "catalog.json"
        catalog_path.write_text(json.dumps(configured_catalog([s.name for s in STREAM_CLASSES], sync_mode="incremental")))
        command = [sys.executable, "-m", "source_stripe_proxy.run", "read", "--config", str(config_path), "--catalog", str(catalog_path)]
        state_path = OUT / "state.json"
        if state_path.exists() and SECRETS.exists():
            command += ["--state", str(state_path)]
        counts, states = Counter(), {}
        records_dir = OUT / "records"
        records_dir.mkdir(exist_ok=True)
        files = {}
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO) as process:
            for line in process.stdout:
                message = json.loads(line)
                if message["type"] == "RECORD":
                    stream = message["record"]["stream"]
                    if stream not in files:
                        files[stream] = stack.enter_context(open(records_dir / f"{stream}.jsonl", "w"))
                    files[stream].write(json.dumps(message["record"]["data"]) + "\n")
                    counts[stream] += 1
                elif message["type"] == "STATE":
                    states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
                elif message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                    print("error:", message["trace"]["error"]["message"], file=sys.stderr)
        state_path.write_text(json.dumps(list(states.values()), indent=1))
    for stream in sorted(counts):
        print(f"  {stream:22} {counts[stream]:6} records")
    print(f"Records in {records_dir.relative_to(REPO)}/, state in {state_path.relative_to(REPO)}")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
