#!/usr/bin/env python3
"""Per-call overhead of the MCP server: a tool call against a bare HTTP request to the same endpoint.

The server (`stripe-connection mcp`, stdio, the console script) and the Stripe emulator each run in
their own process on loopback. Each round makes, interleaved so a busy machine slows all alike:

    tool_call     `get_customer` through the MCP SDK's ClientSession: JSON-RPC over stdio, argument
                  checks, the shared client's GET, the result back as JSON
    session_get   requests.Session().get of the same customer (keep-alive, as the server's client)
    bare_get      requests.get of the same customer (a new connection each time)

The figures are medians and their ratios; the overhead is median(tool_call) - median(session_get):
what a call costs beyond the round trip to Stripe. `--mode paragon` puts the Paragon emulator in
front of the emulator for all three.

The server's request budget is raised (`requests_per_second` in its --config) for the measure:
at a test key's 25 requests/s the shared budget spaces back-to-back calls 40 ms apart by design,
which is pacing, not overhead. `--paced` keeps the default budget to show it.

`--guarded` measures what the agents' guardrails add to a write instead: three servers side by
side, interleaved, each making `create_price` (a write with an amount):

    unguarded     `stripe-connection mcp`
    capped        `stripe-connection mcp --max-amount 100000 --audit-log FILE`
    guarded       `stripe-connection mcp --max-amount 100000 --confirm writes --audit-log FILE`:
                  the amount checked against the cap, the person asked through MCP elicitation
                  (the client's callback accepts at once: the round trip, not a person's time),
                  one audit line appended

It checks, exactly, that both sent one Stripe request per call (the prices made) and that the
guarded one wrote one audit line and asked once per call.

    .venv/bin/python benchmarks/mcp_overhead.py [--calls 300] [--mode api_key|paragon] [--guarded]

Writes benchmarks/results-mcp.md (results-mcp-<mode>[-paced|-guarded].md for the other runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mcp_types as types
import requests
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
API_KEY = "sk_test_mcp_benchmark_0000"
PARAGON_PROJECT, PARAGON_TOKEN = "proj_bench", "paragon-bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the emulator exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the emulator did not listen within 30 s")


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


async def measure(args: argparse.Namespace, base: str, env: dict[str, str], auth: str, customer: str) -> dict[str, list[float]]:
    """``env`` is written as the server's --config file (with the budget raised unless --paced)."""
    url = f"{base}/v1/customers/{customer}"
    headers = {"Authorization": auth, "Stripe-Version": "2024-06-20"}
    http = requests.Session()
    config = Path(args.workdir, "config.json")
    params = StdioServerParameters(command=str(BIN / "stripe-connection"), args=["mcp", "--config", str(config)], env=env)
    times: dict[str, list[float]] = {"tool_call": [], "session_get": [], "bare_get": []}
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params, errlog=devnull) as (read, write), ClientSession(read, write) as session:
            await session.initialize()

            async def tool_call() -> None:
                result = await session.call_tool("get_customer", {"customer_id": customer})
                assert not result.is_error and result.structured_content["id"] == customer, result

            def session_get() -> None:
                response = http.get(url, headers=headers, timeout=30)
                assert response.status_code == 200 and response.json()["id"] == customer

            def bare_get() -> None:
                response = requests.get(url, headers=headers, timeout=30)
                assert response.status_code == 200 and response.json()["id"] == customer

            for _ in range(args.warmup):
                await tool_call()
                session_get()
                bare_get()
            for _ in range(args.calls):
                started = time.perf_counter()
                await tool_call()
                times["tool_call"].append(time.perf_counter() - started)
                started = time.perf_counter()
                session_get()
                times["session_get"].append(time.perf_counter() - started)
                started = time.perf_counter()
                bare_get()
                times["bare_get"].append(time.perf_counter() - started)
    return times


async def measure_guarded(args: argparse.Namespace, env: dict[str, str], product: str) -> dict[str, list[float]]:
    """``create_price`` through an unguarded and a guarded server, interleaved."""
    config = Path(args.workdir, "config.json")
    audit = Path(args.workdir, "audit.jsonl")
    asked: list[str] = []

    async def accept(context, params):  # the person says yes at once: the cost is the round trip
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    plain = StdioServerParameters(command=str(BIN / "stripe-connection"), args=["mcp", "--config", str(config)], env=env)
    capped = StdioServerParameters(
        command=str(BIN / "stripe-connection"),
        env=env,
        args=["mcp", "--config", str(config), "--max-amount", "100000", "--audit-log", str(audit) + ".capped"],
    )
    guarded = StdioServerParameters(
        command=str(BIN / "stripe-connection"),
        env=env,
        args=["mcp", "--config", str(config), "--max-amount", "100000", "--confirm", "writes", "--audit-log", str(audit)],
    )
    times: dict[str, list[float]] = {"unguarded": [], "capped": [], "guarded": []}
    arguments = {"product_id": product, "amount": 1000, "currency": "usd"}
    with open(os.devnull, "w") as devnull:
        async with (
            stdio_client(plain, errlog=devnull) as (read, write),
            stdio_client(capped, errlog=devnull) as (cread, cwrite),
            stdio_client(guarded, errlog=devnull) as (gread, gwrite),
            ClientSession(read, write) as unguarded,
            ClientSession(cread, cwrite) as capped_session,
            ClientSession(gread, gwrite, elicitation_callback=accept) as guarded_session,
        ):
            for session in (unguarded, capped_session, guarded_session):
                await session.initialize()
            sessions = {"unguarded": unguarded, "capped": capped_session, "guarded": guarded_session}
            for round_number in range(args.warmup + args.calls):
                for name, session in sessions.items():
                    started = time.perf_counter()
                    result = await session.call_tool("create_price", arguments)
                    elapsed = time.perf_counter() - started
                    assert not result.is_error, result.content[0].text
                    if round_number >= args.warmup:
                        times[name].append(elapsed)
    rounds = args.warmup + args.calls
    lines = audit.read_text().splitlines()
    assert len(asked) == rounds and len(lines) == rounds, (len(asked), len(lines))
    assert all(json.loads(line)["outcome"] == "sent" for line in lines)
    args.counts = {"rounds": rounds, "asked": len(asked), "audit_lines": len(lines)}
    return times


def count_prices(base: str, auth: str, product: str) -> int:
    count, query = 0, {"limit": 100, "product": product}
    while True:
        page = requests.get(f"{base}/v1/prices", params=query, headers={"Authorization": auth}, timeout=30).json()
        count += len(page["data"])
        if not page["has_more"]:
            return count
        query["starting_after"] = page["data"][-1]["id"]


def guarded_report(args: argparse.Namespace, times: dict[str, list[float]], prices: int) -> str:
    median = {name: statistics.median(values) for name, values in times.items()}
    counts = args.counts
    lines = [
        "# What the guardrails add to a write (benchmarks/mcp_overhead.py --guarded)",
        "",
        (
            f"{args.calls} rounds after {args.warmup} warm-up rounds, interleaved; `create_price` (amount 1000 usd) through "
            f"three `stripe-connection mcp` servers over stdio, {args.mode} mode, the loopback emulator in its own process, "
            f"budgets raised to 10000/s; {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
        ),
        "",
        "| server | median | p90 |",
        "|---|---|---|",
        f"| unguarded | {median['unguarded'] * 1000:.2f} ms | {percentile(times['unguarded'], 0.9) * 1000:.2f} ms |",
        (
            f"| `--max-amount 100000 --audit-log FILE` | {median['capped'] * 1000:.2f} ms | "
            f"{percentile(times['capped'], 0.9) * 1000:.2f} ms |"
        ),
        (
            f"| guarded: `--max-amount 100000 --confirm writes --audit-log FILE`, the elicitation accepted at once | "
            f"{median['guarded'] * 1000:.2f} ms | {percentile(times['guarded'], 0.9) * 1000:.2f} ms |"
        ),
        "",
        (
            f"Guarded / unguarded: **{median['guarded'] / median['unguarded']:.2f}x**; the guardrails add "
            f"**{(median['guarded'] - median['unguarded']) * 1000:.2f} ms** per write, of which the cap and the audit line "
            f"**{(median['capped'] - median['unguarded']) * 1000:.2f} ms** and the confirmation (one elicitation round trip "
            f"over stdio) the rest."
        ),
        "",
        (
            f"Exact counts: {counts['rounds']} guarded calls asked the person {counts['asked']} times and wrote "
            f"{counts['audit_lines']} audit lines; the emulator holds {prices} prices for {3 * counts['rounds']} calls: "
            "one Stripe request per call either way."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mode", choices=("api_key", "paragon"), default="api_key")
    parser.add_argument("--paced", action="store_true", help="keep the default request budget (25/s for a test key)")
    parser.add_argument("--guarded", action="store_true", help="a guarded write beside an unguarded one")
    args = parser.parse_args()
    args.workdir = tempfile.mkdtemp(prefix="mcp-bench-")

    port, paragon_port = free_port(), free_port()
    command = [sys.executable, "-m", "stripe_emulator", "--port", str(port), "--api-key", API_KEY, "--seed-customers", "5"]
    if args.mode == "paragon":
        command += ["--paragon-port", str(paragon_port), "--paragon-project", PARAGON_PROJECT, "--paragon-token", PARAGON_TOKEN]
    emulator = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        wait_for(port, emulator)
        if args.mode == "paragon":
            wait_for(paragon_port, emulator)
            base = f"http://127.0.0.1:{paragon_port}/projects/{PARAGON_PROJECT}/sdk/proxy/stripe"
            auth = f"Bearer {PARAGON_TOKEN}"
            config = {
                "credentials": {
                    "auth_type": "paragon",
                    "project_id": PARAGON_PROJECT,
                    "user_token": PARAGON_TOKEN,
                    "proxy_host": f"http://127.0.0.1:{paragon_port}",
                }
            }
        else:
            base, auth = f"http://127.0.0.1:{port}", f"Bearer {API_KEY}"
            config = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": base}
        if not args.paced:
            config.update(requests_per_second=10_000, endpoint_requests_per_second=10_000)
        Path(args.workdir, "config.json").write_text(json.dumps(config))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
        if args.guarded:
            product = requests.post(
                f"{base}/v1/products",
                data={"name": "Bench"},
                timeout=30,
                headers={"Authorization": auth, "Idempotency-Key": os.urandom(8).hex()},
            ).json()["id"]
            times = asyncio.run(measure_guarded(args, env, product))
            text = guarded_report(args, times, count_prices(base, auth, product))
            (HERE / f"results-mcp{'' if args.mode == 'api_key' else '-' + args.mode}-guarded.md").write_text(text)
            print(text)
            return
        customer = requests.get(f"{base}/v1/customers", params={"limit": 1}, headers={"Authorization": auth}, timeout=30).json()["data"][0][
            "id"
        ]
        times = asyncio.run(measure(args, base, env, auth, customer))
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(args.workdir, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in times.items()}
    overhead_ms = (median["tool_call"] - median["session_get"]) * 1000
    labels = {
        "tool_call": "MCP tool call `get_customer` (ClientSession over stdio)",
        "session_get": "`requests.Session().get` (keep-alive)",
        "bare_get": "`requests.get` (new connection)",
    }
    lines = [
        "# Per-call overhead of `stripe-connection mcp` (benchmarks/mcp_overhead.py)",
        "",
        (
            f"{args.calls} rounds after {args.warmup} warm-up rounds, interleaved; {args.mode} mode against the loopback "
            f"emulator (own process); the server's request budget "
            f"{'at its default (25/s for a test key)' if args.paced else 'raised to 10000/s (pacing is not overhead)'}; "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
        ),
        "",
        "| call | median | p90 |",
        "|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(f"| {labels[name]} | {median[name] * 1000:.2f} ms | {percentile(values, 0.9) * 1000:.2f} ms |")
    lines += [
        "",
        (
            f"Tool call / keep-alive GET: **{median['tool_call'] / median['session_get']:.2f}x**; "
            f"tool call / bare `requests.get`: **{median['tool_call'] / median['bare_get']:.2f}x**."
        ),
        f"Overhead per call beyond the round trip: **{overhead_ms:.2f} ms** (median tool call - median keep-alive GET).",
    ]
    text = "\n".join(lines) + "\n"
    suffix = ("" if args.mode == "api_key" else f"-{args.mode}") + ("-paced" if args.paced else "")
    (HERE / f"results-mcp{suffix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
