"""Reader (b): the bare minimum that reads a Stripe list and speaks Airbyte.

``requests`` + ``json``, one page after another (``limit=100``, ``starting_after``), one
Airbyte RECORD line per object on stdout. No retries, no budget, no schema, no state:
the floor any Python reader pays per record, against which the connector is compared.

    python benchmarks/bare_loop.py --api-base http://127.0.0.1:PORT --api-key sk_test_... \
        --stream customers [--stream products ...] [--created-gte EPOCH]
"""

import argparse
import json
import sys
import time

import requests


def read_stream(session, api_base, stream, created_gte, out):
    params = {"limit": 100}
    if stream == "subscriptions":
        params["status"] = "all"
    if created_gte is not None:
        params["created[gte]"] = created_gte
    count = 0
    while True:
        response = session.get(f"{api_base}/v1/{stream}", params=params, timeout=60)
        response.raise_for_status()
        page = json.loads(response.text)
        emitted_at = int(time.time() * 1000)
        for obj in page["data"]:
            record = {"type": "RECORD", "record": {"stream": stream, "data": obj, "emitted_at": emitted_at}}
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")
        count += len(page["data"])
        if not page["has_more"] or not page["data"]:
            return count
        params["starting_after"] = page["data"][-1]["id"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--api-base", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--stream", action="append", required=True)
    ap.add_argument("--created-gte", type=int, default=None)
    args = ap.parse_args(argv)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {args.api_key}"
    session.headers["Stripe-Version"] = "2024-06-20"
    out = sys.stdout
    for stream in args.stream:
        read_stream(session, args.api_base, stream, args.created_gte, out)
    out.flush()


if __name__ == "__main__":
    main()
