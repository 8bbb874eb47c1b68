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

    .venv/bin/python benchmarks/mcp_overhead.py [--calls 300] [--mode api_key|paragon]

Writes benchmarks/results-mcp.md (results-mcp-<mode>[-paced].md for the other runs).
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
from typing import Dict, List

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


def percentile(values: List[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


async def measure(args: argparse.Namespace, base: str, env: Dict[str, str], auth: str, customer: str) -> Dict[str, List[float]]:
    """``env`` is written as the server's --config file (with the budget raised unless --paced)."""
    url = f"{base}/v1/customers/{customer}"
    headers = {"Authorization": auth, "Stripe-Version": "2024-06-20"}
    http = requests.Session()
    config = Path(args.workdir, "config.json")
    params = StdioServerParameters(command=str(BIN / "stripe-connection"), args=["mcp", "--config", str(config)], env=env)
    times: Dict[str, List[float]] = {"tool_call": [], "session_get": [], "bare_get": []}
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params, errlog=devnull) as (read, write):
            async with ClientSession(read, write) as session:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mode", choices=("api_key", "paragon"), default="api_key")
    parser.add_argument("--paced", action="store_true", help="keep the default request budget (25/s for a test key)")
    args = parser.parse_args()
    args.workdir = tempfile.mkdtemp(prefix="mcp-bench-")

    port, paragon_port = free_port(), free_port()
    command = [sys.executable, "-m", "stripe_emulator", "--port", str(port), "--api-key", API_KEY, "--seed-customers", "5"]
    if args.mode == "paragon":
        command += ["--paragon-port", str(paragon_port), "--paragon-project", PARAGON_PROJECT, "--paragon-token", PARAGON_TOKEN]
    emulator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(port, emulator)
        if args.mode == "paragon":
            wait_for(paragon_port, emulator)
            base = f"http://127.0.0.1:{paragon_port}/projects/{PARAGON_PROJECT}/sdk/proxy/stripe"
            auth = f"Bearer {PARAGON_TOKEN}"
            config = {"credentials": {"auth_type": "paragon", "project_id": PARAGON_PROJECT, "user_token": PARAGON_TOKEN,
                                      "proxy_host": f"http://127.0.0.1:{paragon_port}"}}
        else:
            base, auth = f"http://127.0.0.1:{port}", f"Bearer {API_KEY}"
            config = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": base}
        if not args.paced:
            config.update(requests_per_second=10_000, endpoint_requests_per_second=10_000)
        Path(args.workdir, "config.json").write_text(json.dumps(config))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
        customer = requests.get(f"{base}/v1/customers", params={"limit": 1}, headers={"Authorization": auth},
                                timeout=30).json()["data"][0]["id"]
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
        f"{args.calls} rounds after {args.warmup} warm-up rounds, interleaved; {args.mode} mode against the loopback "
        f"emulator (own process); the server's request budget "
        f"{'at its default (25/s for a test key)' if args.paced else 'raised to 10000/s (pacing is not overhead)'}; "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| call | median | p90 |",
        "|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(f"| {labels[name]} | {median[name] * 1000:.2f} ms | {percentile(values, 0.9) * 1000:.2f} ms |")
    lines += [
        "",
        f"Tool call / keep-alive GET: **{median['tool_call'] / median['session_get']:.2f}x**; "
        f"tool call / bare `requests.get`: **{median['tool_call'] / median['bare_get']:.2f}x**.",
        f"Overhead per call beyond the round trip: **{overhead_ms:.2f} ms** (median tool call - median keep-alive GET).",
    ]
    text = "\n".join(lines) + "\n"
    suffix = ("" if args.mode == "api_key" else f"-{args.mode}") + ("-paced" if args.paced else "")
    (HERE / f"results-mcp{suffix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
