"""A full read of every stream of the catalogue (issue 14): requests per record, time against
the ideal (requests / budget), how much of the budget the sync holds, and peak memory at two sizes.

    .venv/bin/python benchmarks/all_streams.py [--budget 25] [--latency 0.25] [--sizes 1,4]
                                               [--out benchmarks/results-all-streams.md]

The server is ``benchmarks/emulator_server.py --all-streams`` (a subprocess, on loopback): objects
in every one of the 110 streams (``integration_tests/all_streams.py``: the billing objects,
Connect, and every other stream with children for a few parents each; objects and their events a
second apart, as in an account's history), a fixed latency per request and a rate limit 10% above
the budget. The reader is the console script
(``source-stripe-proxy read``) with the budget as ``requests_per_second``. Size 1 is
``customers=100, per_parent=20, parents=5`` (a few thousand objects); size k multiplies each.

Child streams cost one request per parent (and endpoint) whether the parent has children or not:
that is Stripe's API, so the ideal is the requests made divided by the budget, and *budget held*
is requests / (budget x the seconds from the first request to the last), sampled from the server.
Nothing here is a test assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import run as bench  # noqa: E402  (benchmarks/run.py: the emulator child, run_child, rate limits)
from integration_tests.harness import configured_catalog  # noqa: E402 - after the checkout is put on sys.path
from source_stripe_proxy.data import load_generated  # noqa: E402 - after the checkout is put on sys.path

STREAMS = sorted(load_generated("streams.json")["streams"])
BASE_SIZE = {"customers": 100, "per_parent": 20, "parents": 5}


def measure(
    size: int, budget: float, latency: float, work: bench.Workdir, concurrency: int | None = None, timeline: bool = False
) -> dict[str, Any]:
    sizes = {key: value * size for key, value in BASE_SIZE.items()}
    spec = ",".join(f"{k}={v}" for k, v in sizes.items())
    with bench.Emulator(
        {}, latency=latency, rate_limit=bench.rate_limit_for(budget), max_seconds=3600, extra_args=["--all-streams", spec]
    ) as server:
        seeded = sum(server.seeded.values())
        config = {
            "credentials": {"auth_type": "api_key", "api_key": bench.API_KEY},
            "api_base": server.url,
            "requests_per_second": budget,
            "endpoint_requests_per_second": budget,
        }
        if concurrency:
            config["concurrency"] = concurrency
        cfg = work.file("config.json", config)
        cat = work.file("catalog.json", configured_catalog(STREAMS))
        ticks: list[list[float]] = []
        lock = threading.Lock()

        endpoints: list[dict[str, int]] = []  # requests by endpoint at each tick (for --timeline)

        def on_tick(seconds: float) -> None:
            counts = server.stats()["counts"]
            with lock:
                ticks.append([seconds, counts.get("requests", 0)])
                endpoints.append({k[len("endpoint ") :]: v for k, v in counts.items() if k.startswith("endpoint ")})

        before = server.stats()
        child = bench.run_child(
            f"all streams x{size}",
            [bench.SOURCE_CMD, "read", "--config", cfg, "--catalog", cat],
            cap_seconds=3000,
            on_tick=on_tick,
            tick_seconds=0.5,
        )
        after = server.stats()
    delta = bench.stats_delta(before, after)
    requests = delta["counts"].get("requests", 0)
    busy = [t for t, count in ticks if count > ticks[0][1]]
    first = next((t for t, count in ticks if count > 0), None)
    last = next((t for t, count in ticks if count >= requests + ticks[0][1]), ticks[-1][0] if ticks else None)
    window = (last - first) if first is not None and last is not None and last > first else None
    ideal = requests / budget
    return {
        "size": size,
        "sizes": sizes,
        "objects_seeded": seeded,
        "records": child.records,
        "requests": requests,
        "requests_per_record": round(requests / child.records, 3) if child.records else None,
        "rate_limited": delta["rate_limited"],
        "wall_s": child.wall_s,
        "requests_window_s": round(window, 1) if window else None,
        "ideal_s": round(ideal, 1),
        "time_vs_ideal": round(window / ideal, 3) if window else None,
        "budget_held": round(requests / (budget * window), 3) if window else None,
        "peak_rss_mb": child.peak_rss_mb,
        "server_cpu_s": delta["server_cpu_s"],
        "cpu_s": round(child.cpu_s, 1),
        "exit_code": child.exit_code,
        "problems": child.problems,
        "busy_ticks": len(busy),
        **({"timeline": [[round(t, 1), count - ticks[0][1]] for t, count in ticks], "endpoint_timeline": endpoints} if timeline else {}),
    }


def markdown(rows: list[dict[str, Any]], budget: float, latency: float) -> str:
    lines = [
        "# A full read of every stream (issue 14)",
        "",
        f"`.venv/bin/python benchmarks/all_streams.py --budget {budget:g} --latency {latency:g}`: all {len(STREAMS)} streams,",
        f"full refresh, {budget:g} requests/s (the server limits at {bench.rate_limit_for(budget)}), {latency * 1000:g} ms per request.",
        "*Requests window*: from the sync's first request to its last, sampled from the server every 0.5 s;",
        "*ideal*: requests / budget; *budget held*: requests / (budget x window).",
        "",
        (
            "| size | objects seeded | records | requests | requests / record | requests window | ideal | window / ideal | "
            "budget held | 429s | peak RSS | CPU | server CPU | exit |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| x{row['size']} ({', '.join(f'{k} {v}' for k, v in row['sizes'].items())}) | {row['objects_seeded']} | {row['records']} | "
            f"{row['requests']} | {row['requests_per_record']} | {row['requests_window_s']} s | {row['ideal_s']} s | "
            f"{row['time_vs_ideal']} | {bench.fmt(100 * row['budget_held']) + '%' if row['budget_held'] else '-'} | "
            f"{row['rate_limited']} | {row['peak_rss_mb']} MB | "
            f"{row['cpu_s']} s | {row['server_cpu_s']} s | {row['exit_code']} |"
        )
    if len(rows) > 1:
        lines += [
            "",
            (
                f"Peak memory x{rows[-1]['size']} / x{rows[0]['size']}: {rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f}"
                f" for {rows[-1]['records'] / max(1, rows[0]['records']):.1f}x the records."
            ),
        ]
    problems = [p for row in rows for p in row["problems"]]
    if problems:
        lines += ["", "Problems:", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=25.0)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--sizes", default="1,4")
    ap.add_argument("--concurrency", type=int, default=None, help="the config's concurrency (default: unset, the connector's own)")
    ap.add_argument("--timeline", action="store_true", help="keep the requests at each tick, in all and by endpoint, in the .json")
    ap.add_argument("--out", default=os.path.join(HERE, "results-all-streams.md"))
    args = ap.parse_args(argv)
    work = bench.Workdir(keep=False)
    try:
        rows = [measure(int(size), args.budget, args.latency, work, args.concurrency, args.timeline) for size in args.sizes.split(",")]
    finally:
        work.cleanup()
    text = markdown(rows, args.budget, args.latency)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as out:
        json.dump(rows, out, indent=1)
    print(text)
    return 0 if all(row["exit_code"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
