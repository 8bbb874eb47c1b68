"""Many Connect accounts in one connection (issue 20): requests, time against the ideal and STATE
bytes of a first read and of an idle sync, at several numbers of accounts, in one run.

    .venv/bin/python benchmarks/connect_accounts.py [--sizes 100,1000,2000] [--budget 100]
                                                    [--latency 0.25] [--out benchmarks/results-connect.md]
    make bench-connect
    .venv/bin/python benchmarks/connect_accounts.py --profile 2000   # where a first read's time goes

The server is ``benchmarks/emulator_server.py --connect accounts=N,customers=2,balance_transactions=1``
(a subprocess, on loopback): N connected accounts, each with its own 2 customers and 1 balance
transaction, a fixed latency per request and a rate limit 10% above the budget. The reader is the
console script (``source-stripe-proxy read``) with ``account_ids: "all"``, the budget as
``requests_per_second`` and ``customers`` + ``balance_transactions`` incremental. Each size gets a
first read, then an idle sync from the first read's last STATE of each stream (nothing changed).

Exact figures (the same on any machine): requests (counted by the server), records, STATE messages
and their bytes (each STATE line of stdout as written). Time figures depend on the machine's load:
*wall* is the read's process from start to exit (the CDK's start-up included), *ideal* is
requests / budget, and the issue's target is wall <= 1.25 x ideal + 3 s for a first read.
The records of the first read are checked against the seeded objects: each, once.

``--profile N`` instead runs one first read of N accounts under ``cProfile`` (the main thread,
where the accounts are listed, the reads planned and the reader's signals turned into messages;
the workers' HTTP is what it waits for) and writes where its time goes to
``results-connect-profile.md``. cProfile slows the profiled code: its shares are indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import run as bench  # noqa: E402  (benchmarks/run.py: the emulator child, rate limits, machine load)
from integration_tests.harness import configured_catalog  # noqa: E402 - after the checkout is put on sys.path

STREAMS = ("customers", "balance_transactions")
PER_ACCOUNT = {"customers": 2, "balance_transactions": 1}
TARGETS = {
    "first_state_bytes_per_account": 1024,
    "largest_state_bytes": 256 * 1024,
    "idle_state_bytes_per_account": 512,
    "idle_requests_per_account": 2.2,
    "first_time_factor": 1.25,
    "first_time_slack_s": 3.0,
}


def catalog() -> dict[str, Any]:
    made = configured_catalog(STREAMS, sync_mode="incremental", destination_sync_mode="append_dedup")
    for entry in made["streams"]:
        entry["cursor_field"] = ["updated"] if entry["stream"]["name"] == "customers" else ["created"]
    return made


def read_once(
    server: bench.Emulator,
    work: bench.Workdir,
    budget: float,
    state: list[dict[str, Any]] | None,
    label: str,
    cap_seconds: float,
    wrap: Sequence[str] = (),
) -> dict[str, Any]:
    """One ``read``: its STATE messages, records by account and stream, requests and wall time.
    ``wrap``: a command the source runs under (a profiler)."""
    config = {
        "credentials": {"auth_type": "api_key", "api_key": bench.API_KEY},
        "api_base": server.url,
        "requests_per_second": budget,
        "account_ids": "all",
    }
    args = [
        *wrap,
        bench.SOURCE_CMD,
        "read",
        "--config",
        work.file("config.json", config),
        "--catalog",
        work.file("catalog.json", catalog()),
    ]
    if state is not None:
        args += ["--state", work.file(f"state-{label}.json", state)]
    before = server.stats()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=bench.REPO)
        try:
            exit_code = proc.wait(cap_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            exit_code = proc.wait()
        wall = time.monotonic() - started
        after = server.stats()
        out.seek(0)
        lines = out.read().splitlines()
        err.seek(0)
        stderr_tail = err.read()[-1500:].decode("utf-8", "replace")
    delta = bench.stats_delta(before, after)
    return {
        "exit_code": exit_code,
        "wall_s": round(wall, 2),
        "stderr_tail": stderr_tail if exit_code else "",
        **summarize(lines),
        "requests": delta["counts"].get("requests", 0),
        "rate_limited": delta["rate_limited"],
        "requests_by_endpoint": {k[len("endpoint ") :]: v for k, v in delta["counts"].items() if k.startswith("endpoint ")},
    }


def summarize(lines: list[bytes]) -> dict[str, Any]:
    """Records by (stream, account), each id's count, and the STATE messages' sizes, from stdout."""
    records: Counter = Counter()
    ids: Counter = Counter()
    states: dict[str, dict[str, Any]] = {}
    sizes: list[int] = []
    problems: list[str] = []
    for line in lines:
        if line.startswith(b'{"type":"RECORD"'):
            record = json.loads(line)["record"]
            records[record["stream"]] += 1
            ids[(record["stream"], record["data"]["account_id"], record["data"]["id"])] += 1
        elif line.startswith(b'{"type":"STATE"'):
            sizes.append(len(line))
            state = json.loads(line)["state"]
            states[state["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": state["stream"]}
        elif b'"failure_type"' in line and len(problems) < 3:
            problems.append(line[:500].decode("utf-8", "replace"))
    return {
        "records": dict(records),
        "ids": ids,
        "state_messages": len(sizes),
        "state_bytes": sum(sizes),
        "largest_state_bytes": max(sizes, default=0),
        "last_states": list(states.values()),
        "problems": problems,
    }


def exact(read: dict[str, Any], accounts: int) -> bool:
    """Every seeded object of every account read once, nothing else."""
    ids: Counter = read["ids"]
    per_stream: Counter = Counter()
    per_account: Counter = Counter()
    for (stream, account, _), count in ids.items():
        if count != 1:
            return False
        per_stream[stream] += 1
        per_account[(stream, account)] += 1
    return all(per_stream[s] == n * accounts for s, n in PER_ACCOUNT.items()) and all(
        per_account[(s, a)] == PER_ACCOUNT[s] for s, a in per_account
    )


def measure(accounts: int, budget: float, latency: float, work: bench.Workdir) -> dict[str, Any]:
    spec = f"accounts={accounts}," + ",".join(f"{k}={v}" for k, v in PER_ACCOUNT.items())
    cap = 120 + 20 * accounts * 4 / budget
    # the load meter around the server too: its CPU is ours once it is reaped
    with (
        bench.LoadMeter() as load,
        bench.Emulator(
            {}, latency=latency, rate_limit=bench.rate_limit_for(budget), max_seconds=3 * cap + 60, extra_args=["--connect", spec]
        ) as server,
    ):
        first = read_once(server, work, budget, None, "first", cap)
        idle = read_once(server, work, budget, first["last_states"], "idle", cap)
    row = {"accounts": accounts, "budget": budget, "latency": latency, "other_load_cores": load.result.get("other_processes_cores")}
    for name, read in (("first", first), ("idle", idle)):
        ideal = read["requests"] / budget
        row[name] = {
            "exit_code": read["exit_code"],
            "records": read["records"],
            "requests": read["requests"],
            "requests_per_account": round(read["requests"] / accounts, 3),
            "requests_by_endpoint": read["requests_by_endpoint"],
            "rate_limited": read["rate_limited"],
            "wall_s": read["wall_s"],
            "ideal_s": round(ideal, 2),
            "wall_vs_ideal": round(read["wall_s"] / ideal, 3) if ideal else None,
            "state_messages": read["state_messages"],
            "state_bytes": read["state_bytes"],
            "state_bytes_per_account": round(read["state_bytes"] / accounts, 1),
            "largest_state_bytes": read["largest_state_bytes"],
            "problems": read["problems"],
            "stderr_tail": read["stderr_tail"],
        }
    row["first"]["exact"] = exact(first, accounts)
    row["first"]["time_target_s"] = round(TARGETS["first_time_factor"] * row["first"]["ideal_s"] + TARGETS["first_time_slack_s"], 2)
    return row


def verdicts(row: dict[str, Any]) -> dict[str, bool]:
    first, idle = row["first"], row["idle"]
    return {
        "first read exact": first["exact"] and first["exit_code"] == 0,
        "first STATE <= 1 KB/account": first["state_bytes_per_account"] <= TARGETS["first_state_bytes_per_account"],
        "no STATE over 256 KB": max(first["largest_state_bytes"], idle["largest_state_bytes"]) <= TARGETS["largest_state_bytes"],
        "idle STATE <= 0.5 KB/account": idle["state_bytes_per_account"] <= TARGETS["idle_state_bytes_per_account"],
        "idle <= 2.2 requests/account": idle["requests_per_account"] <= TARGETS["idle_requests_per_account"] and idle["exit_code"] == 0,
        "first read <= 1.25x ideal + 3 s (time: indicative on a busy machine)": first["wall_s"] <= first["time_target_s"],
    }


def markdown(rows: list[dict[str, Any]], budget: float, latency: float, command: str) -> str:
    lines = [
        "# Many Connect accounts in one connection (issue 20)",
        "",
        (
            f'`{command}`: `account_ids: "all"`, customers + balance_transactions incremental, each account with '
            f"{PER_ACCOUNT['customers']} customers and {PER_ACCOUNT['balance_transactions']} balance transaction; {budget:g} requests/s "
            f"(the server limits at {bench.rate_limit_for(budget)}), {latency * 1000:g} ms per request. Requests, records and STATE "
            "bytes are exact; wall times depend on the machine's load (*other load*: cores busy with other processes)."
        ),
        "",
        (
            "| accounts | read | requests | per account | records | STATE messages | STATE bytes | per account | largest | "
            "wall | ideal | wall / ideal | 429s | other load | exit |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        for name in ("first", "idle"):
            r = row[name]
            records = sum(r["records"].values())
            lines.append(
                f"| {row['accounts']} | {name} | {r['requests']} | {r['requests_per_account']} | {records} | {r['state_messages']} | "
                f"{r['state_bytes']:,} | {r['state_bytes_per_account']:,} | {r['largest_state_bytes']:,} | {r['wall_s']} s | "
                f"{r['ideal_s']} s | {r['wall_vs_ideal']} | {r['rate_limited']} | {bench.fmt(row['other_load_cores'], 2)} | "
                f"{r['exit_code']} |"
            )
    lines += ["", "| accounts | " + " | ".join(verdicts(rows[0])) + " |", "| --- |" + " --- |" * len(verdicts(rows[0]))]
    for row in rows:
        lines.append(f"| {row['accounts']} | " + " | ".join("yes" if ok else "**no**" for ok in verdicts(row).values()) + " |")
    problems = [
        f"{row['accounts']} accounts, {name}: {p}"
        for row in rows
        for name in ("first", "idle")
        for p in row[name]["problems"] + ([row[name]["stderr_tail"]] if row[name]["stderr_tail"] else [])
    ]
    if problems:
        lines += ["", "Problems:", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"


# -- where a first read's time goes (--profile) ---------------------------------------------

PHASES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    # (phase, what it is, the functions whose cumulative time it is: (file ending, name))
    ("listing the accounts", "`/v1/accounts`, its pages in parallel ranges", (("source/accounts.py", "connected_accounts"),)),
    (
        "planning",
        "a read per stream and account, then one events read per account",
        (("source/sync.py", "plan"), ("source/events_read.py", "share_events_read"), ("source/connector.py", "sample_events")),
    ),
    ("reading", "the reader's signals into messages, first request to last", (("source/sync.py", "run"),)),
    ("reading: STATE", "packing the per-account state, STATE messages", (("source/sync.py", "_state_message"),)),
    ("reading: checkpoints", "each read's progress into its account's checkpoint", (("source/streams.py", "apply"),)),
    ("reading: records", "RECORD messages", (("source/sync.py", "_records"),)),
    (
        "output",
        "the CDK's serializer and stdout, between the reader's signals",
        (("airbyte_cdk/entrypoint.py", "airbyte_message_to_string"), ("airbyte_cdk/utils/print_buffer.py", "write")),
    ),
)


def cumulative_seconds(stats: pstats.Stats, functions: Sequence[tuple[str, str]]) -> float:
    """The cumulative time of the functions (file ending, name) in a profile."""
    times = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    return sum(entry[3] for (path, _, name), entry in times.items() if any(path.endswith(f) and name == n for f, n in functions))


def profile_first_read(accounts: int, budget: float, latency: float, work: bench.Workdir) -> dict[str, Any]:
    """One first read under cProfile: the seconds of each phase, against its wall and ideal."""
    spec = f"accounts={accounts}," + ",".join(f"{k}={v}" for k, v in PER_ACCOUNT.items())
    cap = 120 + 20 * accounts * 4 / budget
    out = os.path.join(work.path, "first.prof")
    with (
        bench.LoadMeter() as load,
        bench.Emulator(
            {}, latency=latency, rate_limit=bench.rate_limit_for(budget), max_seconds=cap + 60, extra_args=["--connect", spec]
        ) as server,
    ):
        read = read_once(server, work, budget, None, "profile", cap, wrap=[bench.PYTHON, "-m", "cProfile", "-o", out])
    stats = pstats.Stats(out)
    phases = {name: round(cumulative_seconds(stats, functions), 2) for name, _, functions in PHASES}
    in_read = cumulative_seconds(stats, (("source/connector.py", "read"),))  # a generator: the output is not in it
    reading = phases["reading"]
    return {
        "accounts": accounts,
        "budget": budget,
        "latency": latency,
        "exit_code": read["exit_code"],
        "requests": read["requests"],
        "wall_s": read["wall_s"],
        "ideal_s": round(read["requests"] / budget, 2),
        "start_up_s": round(read["wall_s"] - in_read - phases["output"], 2),
        "phases": phases,
        "waiting_s": round(reading - sum(v for k, v in phases.items() if k.startswith("reading: ")), 2),
        "other_load_cores": load.result.get("other_processes_cores"),
    }


def profile_markdown(row: dict[str, Any], command: str) -> str:
    lines = [
        f"# Where the time of a first read of {row['accounts']:,} Connect accounts goes (issue 20)",
        "",
        (
            f"`{command}`: the main thread of `source-stripe-proxy read` under cProfile (which slows what it profiles: shares "
            f'are indicative); `account_ids: "all"`, customers + balance_transactions, {row["budget"]:g} requests/s, '
            f"{row['latency'] * 1000:g} ms per request; other processes used {bench.fmt(row['other_load_cores'], 2)} cores."
        ),
        "",
        f"{row['requests']:,} requests, wall {row['wall_s']} s, requests / budget {row['ideal_s']} s, exit {row['exit_code']}.",
        "",
        "| phase | seconds | what |",
        "| --- | ---: | --- |",
        (
            f"| start-up and exit | {row['start_up_s']} | the interpreter, imports (the CDK), config and catalog before "
            "`read`; the exit after it |"
        ),
    ]
    for name, what, _ in PHASES:
        if name == "output":  # after the reading's own parts
            lines.append(f"| reading: waiting for the workers | {row['waiting_s']} | the budget's pace: the requests in flight |")
        lines.append(f"| {name} | {row['phases'][name]} | {what} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,2000", help="numbers of connected accounts")
    ap.add_argument("--budget", type=float, default=100.0, help="requests_per_second (100: a live key's default)")
    ap.add_argument("--latency", type=float, default=0.25, help="seconds per request")
    ap.add_argument("--out", default=os.path.join(HERE, "results-connect.md"))
    ap.add_argument("--profile", type=int, metavar="N", help="profile a first read of N accounts instead (results-connect-profile.md)")
    args = ap.parse_args(argv)
    command = "python benchmarks/connect_accounts.py " + " ".join(argv if argv is not None else sys.argv[1:])
    work = bench.Workdir(keep=False)
    if args.profile:
        try:
            row = profile_first_read(args.profile, args.budget, args.latency, work)
        finally:
            work.cleanup()
        text = profile_markdown(row, command.strip())
        with open(os.path.join(HERE, "results-connect-profile.md"), "w", encoding="utf-8") as out:
            out.write(text)
        print(text)
        return row["exit_code"]
    try:
        rows = [measure(int(size), args.budget, args.latency, work) for size in args.sizes.split(",")]
    finally:
        work.cleanup()
    text = markdown(rows, args.budget, args.latency, command.strip())
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as out:
        json.dump(rows, out, indent=1)
    print(text)
    return 0 if all(row[name]["exit_code"] == 0 for row in rows for name in ("first", "idle")) else 1


if __name__ == "__main__":
    sys.exit(main())
