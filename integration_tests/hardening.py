"""Hardening scenarios shared by ``integration_tests/test_hardening_*.py`` and
``scripts/reliability_report.py``: each builds its own loopback Stripe emulator (and proxy),
runs the real console scripts, and returns measured numbers. The tests assert on them;
the report script renders them as docs/reliability.md.

Every scenario returns a dict with at least: scenario, requests, faults, expected,
delivered, duplicated, lost, outcome ("pass" / "FAIL: ...") and seconds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from integration_tests.harness import REPO_ROOT, configured_catalog, destination_catalog, run_connector
from stripe_emulator import ParagonEmulator, PinkConnectEmulator, StripeEmulator

ALL_STREAMS = ["customers", "subscriptions", "products", "plans", "prices", "balance_transactions"]
DAY = 86_400
SPAN_DAYS = 400  # objects are spread over the last 400 days

# Recognisable fake secrets, unique per process so any hit in output is a real leak.
_RUN = uuid.uuid4().hex[:10]
UPSTREAM_KEY = f"sk_test_HARDENkey{_RUN}"
PARAGON_TOKEN = f"paragon-HARDEN-token-{_RUN}"
PINK_TOKEN = f"pink-HARDEN-token-{_RUN}"
PINK_HEADERS = {"X-Pink-Connection": f"conn-HARDEN-{_RUN}"}
SECRETS = (UPSTREAM_KEY, PARAGON_TOKEN, PINK_TOKEN, *PINK_HEADERS.values())

# ~10% of requests fail, spread over every healing fault kind the proxy can inject.
# (A proxy's own 401 and a revoked key do not heal; they have their own scenarios.)
FAULT_MIX = {
    "429": 0.015,
    "429_no_retry_after": 0.01,
    "500": 0.015,
    "502": 0.01,
    "503": 0.01,
    "html_502": 0.01,
    "reset": 0.01,
    "drop": 0.005,
    "truncate": 0.01,
    "slow": 0.005,
}
SLOW_SECONDS = 1.6  # longer than the client's timeout below
CLIENT_TIMEOUT = 1


def scaled_mix(rate: float) -> dict[str, float]:
    total = sum(FAULT_MIX.values())
    return {kind: share * rate / total for kind, share in FAULT_MIX.items()}


# -- the account ---------------------------------------------------------------------------


def seed_account(emulator: StripeEmulator, total: int, now: int) -> dict[str, set]:
    """``total`` objects over the six streams, created over the last SPAN_DAYS; returns ids per stream."""
    emulator.set_time(now)
    store = emulator.store
    shares = {"balance_transactions": 0.25, "prices": 0.13, "products": 0.10, "plans": 0.07}
    n_subs = max(3, min(400, total // 20))
    counts = {resource: max(3, int(total * share)) for resource, share in shares.items()}
    counts["customers"] = max(3, total - n_subs - sum(counts.values()))  # the rest: exactly `total` in all
    expected: dict[str, set] = {}
    span = SPAN_DAYS * DAY
    for resource, n in counts.items():
        step = max(1, span // n)
        expected[resource] = set(store.bulk_add(resource, n, created_start=now - n * step, created_step=step))
    product = store.add("products", {"name": "Subscribed", "created": now - span - DAY})
    expected["products"].add(product["id"])
    price = store.add(
        "prices",
        {"product": product["id"], "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month"}, "created": now - span - DAY},
    )
    expected["prices"].add(price["id"])
    customer_ids = sorted(expected["customers"])
    subs = set()
    step = max(1, span // n_subs)
    for i in range(n_subs):
        sub = store.add(
            "subscriptions",
            {"customer": customer_ids[i % len(customer_ids)], "items": [{"price": price["id"]}], "created": now - span + i * step},
        )
        subs.add(sub["id"])
    expected["subscriptions"] = subs
    return expected


def expected_total(expected: dict[str, set]) -> int:
    return sum(len(ids) for ids in expected.values())


def source_config(proxy: Any, mode: str, **extra: Any) -> dict[str, Any]:
    if mode == "paragon":
        credentials = {"auth_type": "paragon", "project_id": proxy.project_id, "user_token": PARAGON_TOKEN, "proxy_host": proxy.url}
    elif mode == "pinkconnect":
        credentials = {"auth_type": "pinkconnect", "proxy_url": proxy.url, "token": PINK_TOKEN, "extra_headers": dict(PINK_HEADERS)}
    else:
        return {"credentials": {"auth_type": "api_key", "api_key": UPSTREAM_KEY}, "api_base": proxy.url, **extra}
    return {"credentials": credentials, **extra}


def start_proxy(mode: str, emulator: StripeEmulator, seed: int = 0):
    if mode == "paragon":
        return ParagonEmulator(emulator.url, UPSTREAM_KEY, project_id="proj_harden", user_token=PARAGON_TOKEN).start()
    return PinkConnectEmulator(emulator.url, UPSTREAM_KEY, token=PINK_TOKEN, required_headers=PINK_HEADERS).start()


def _ids(result, streams=ALL_STREAMS) -> dict[str, list[str]]:
    return {s: [r["id"] for r in result.records_of(s)] for s in streams}


def _compare(expected: dict[str, set], delivered: dict[str, list[str]]) -> dict[str, int]:
    all_expected = set().union(*expected.values())
    flat = [i for ids in delivered.values() for i in ids]
    unique = set(flat)
    return {
        "expected": len(all_expected),
        "delivered": len(unique & all_expected),
        "duplicated": len(flat) - len(unique),
        "lost": len(all_expected - unique),
        "unexpected": len(unique - all_expected),
    }


def _outcome(problems: list[str]) -> str:
    return "pass" if not problems else "FAIL: " + "; ".join(problems)


# -- 1. the source's full read under ~10% faults ---------------------------------------------


def source_under_faults(
    total: int, fault_rate: float = 0.10, mode: str = "pinkconnect", seed: int = 7, page_size: int = 50
) -> dict[str, Any]:
    started = time.monotonic()
    now = int(time.time()) - 60
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed) as emulator:
        expected = seed_account(emulator, total, now)
        proxy = start_proxy(mode, emulator)
        try:
            config = source_config(
                proxy,
                mode,
                requests_per_second=300,
                endpoint_requests_per_second=300,
                max_retries=8,
                request_timeout_seconds=CLIENT_TIMEOUT,
                concurrency=8,
                page_size=page_size,
            )
            catalog = configured_catalog(ALL_STREAMS)
            clean = run_connector("source", "read", config, catalog, timeout=900)
            clean_requests = len(proxy.requests)
            proxy.requests.clear()
            proxy.faults = type(proxy.faults)(seed=seed + len(mode), retry_after=1, slow_seconds=SLOW_SECONDS)
            proxy.faults.set_rates(scaled_mix(fault_rate))
            faulty = run_connector("source", "read", config, catalog, timeout=900)
            requests = len(proxy.requests)
            injected = dict(proxy.faults.injected)
        finally:
            proxy.stop()
    clean_ids, faulty_ids = _ids(clean), _ids(faulty)
    numbers = _compare(expected, faulty_ids)
    problems = []
    if clean.returncode != 0:
        problems.append(f"clean read exit {clean.returncode}")
    if faulty.returncode != 0:
        problems.append(f"faulty read exit {faulty.returncode}: {[e['message'][:200] for e in faulty.errors()]}")
    if {s: sorted(v) for s, v in clean_ids.items()} != {s: sorted(v) for s, v in faulty_ids.items()}:
        problems.append("the faulty read's records differ from the clean read's")
    if numbers["duplicated"] or numbers["lost"] or numbers["unexpected"]:
        problems.append("duplicates, losses or unexpected records")
    if "Traceback" in faulty.stdout + faulty.stderr:
        problems.append("a traceback in the output")
    secrets_seen = sum((faulty.stdout + faulty.stderr).count(s) for s in SECRETS)
    if secrets_seen:
        problems.append(f"{secrets_seen} secrets in the output")
    return {
        "scenario": f"source full read, {mode}, {fault_rate:.0%} faults",
        "objects": numbers["expected"],
        "requests": requests,
        "clean_requests": clean_requests,
        "faults": sum(injected.values()),
        "fault_kinds": injected,
        **numbers,
        "clean_records": sum(len(v) for v in clean_ids.values()),
        "returncode": faulty.returncode,
        "outcome": _outcome(problems),
        "seconds": round(time.monotonic() - started, 1),
    }


# -- 2. SIGKILL the source during a long incremental read, resume from the last STATE ----------


def _popen_source(args: list[str], tmp: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    bootstrap = "import source_stripe_proxy.airbyte.entrypoints as m; m.run_source()"
    return subprocess.Popen(
        [sys.executable, "-c", bootstrap, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env, text=True
    )


def source_kill_resume(total: int, kills: int = 4, seed: int = 11, mode: str = "api_key") -> dict[str, Any]:
    """Kill the source with SIGKILL after a random number of records, ``kills`` times, resuming
    each time from the last STATE per stream it emitted; then run to completion."""
    rng = random.Random(seed)
    started = time.monotonic()
    now = int(time.time()) - 60
    runs: list[dict[str, Any]] = []
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed, latency=0.002) as emulator, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        expected = seed_account(emulator, total, now)
        target = emulator if mode == "api_key" else start_proxy(mode, emulator)
        config = source_config(
            target,
            mode,
            start_date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (SPAN_DAYS + 5) * DAY)),
            slice_range_days=7,
            page_size=50,
            requests_per_second=300,
            endpoint_requests_per_second=300,
            concurrency=6,
        )
        (tmp / "config.json").write_text(json.dumps(config))
        (tmp / "catalog.json").write_text(json.dumps(configured_catalog(ALL_STREAMS, sync_mode="incremental")))
        state: list[dict[str, Any]] | None = None
        total_objects = expected_total(expected)
        for attempt in range(kills + 1):
            args = ["read", "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
            if state is not None:
                (tmp / "state.json").write_text(json.dumps(state))
                args += ["--state", str(tmp / "state.json")]
            delivered_ids = {m["record"]["data"]["id"] for run in runs for m in run["messages"] if m["type"] == "RECORD"}
            remaining = total_objects - len(delivered_ids)
            # a random point in what is left to read (this run re-reads a little after the cursor, too)
            kill_after = rng.randint(1, max(1, int(remaining * 0.6))) if attempt < kills else None
            run = _run_source_until(args, tmp, kill_after)
            messages, killed = run["messages"], run["killed"]
            runs.append({**run, "state_in": state})
            latest = _latest_states(messages)
            if latest:
                merged = {s["stream"]["stream_descriptor"]["name"]: s for s in (state or [])}
                merged.update(latest)
                state = list(merged.values())
            if not killed:
                break
        requests = len(emulator.requests)
        if mode != "api_key":
            target.stop()
    return _resume_report(expected, runs, requests, kills, started)


def bunched_customers(emulator: StripeEmulator, total: int, now: int) -> set:
    """``total`` customers created the way a real account grows: sparse years ago, denser
    every quarter since, plus an import of many customers within the same few seconds."""
    store = emulator.store
    ids: set = set()
    quarters = 12
    imported = total // 10
    weights = [2 ** (q / 2) for q in range(quarters)]  # sign-ups double every two quarters
    counts = [int((total - imported) * w / sum(weights)) for w in weights]
    counts[-1] += total - imported - sum(counts)
    quarter = 91 * DAY
    for q, n in enumerate(counts):
        start = now - (quarters - q) * quarter
        ids.update(store.bulk_add("customers", n, created_start=start, created_step=max(1, quarter // max(1, n))))
    # the import: a tenth of the account, 20 a second for a few minutes, half a year ago
    per_second = 20
    for second in range(0, imported, per_second):
        n = min(per_second, imported - second)
        ids.update(store.bulk_add("customers", n, created_start=now - 183 * DAY + second // per_second, created_step=0))
    return ids


def _run_source_until(args: list[str], tmp: Path, kill_after: int | None) -> dict[str, Any]:
    """Run a source read; SIGKILL it once ``kill_after`` records have been read from its stdout."""
    process = _popen_source(args, tmp)
    messages, killed, records = [], False, 0
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:  # the line the kill cut in half: the platform drops it too
            continue
        if killed and message["type"] != "RECORD" and message["type"] != "STATE":
            continue
        messages.append(message)
        if message["type"] == "RECORD":
            records += 1
            if kill_after is not None and records >= kill_after and not killed:
                os.kill(process.pid, signal.SIGKILL)
                killed = True  # keep reading: what was already written reached "the platform"
    process.wait(timeout=60)
    return {"messages": messages, "killed": killed, "returncode": process.returncode, "stderr": process.stderr.read()}


def first_read_kill_points(
    total: int = 30_000, points=(0.3, 0.7, 0.9), latency: float = 0.05, page_size: int = 100, concurrency: int = 8
) -> list[dict[str, Any]]:
    """A first incremental read of one stream (``customers``, ``total`` objects, bunched in time),
    killed with SIGKILL once ``point`` of its records were emitted, then resumed from the last
    STATE it emitted. One row per kill point: records emitted before the kill, STATE messages
    before the kill, records read again by the resumed run, and any lost or duplicated."""
    now = int(time.time()) - 60
    rows = []
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=5, latency=latency) as emulator, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        expected = bunched_customers(emulator, total, now)
        config = source_config(
            emulator, "api_key", page_size=page_size, concurrency=concurrency, requests_per_second=1000, endpoint_requests_per_second=1000
        )
        (tmp / "config.json").write_text(json.dumps(config))
        (tmp / "catalog.json").write_text(json.dumps(configured_catalog(["customers"], sync_mode="incremental")))
        base = ["read", "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
        for point in points:
            started = time.monotonic()
            killed_run = _run_source_until(base, tmp, kill_after=int(total * point))
            state = list(_latest_states(killed_run["messages"]).values())
            args = list(base)
            if state:
                (tmp / "state.json").write_text(json.dumps(state))
                args += ["--state", str(tmp / "state.json")]
            resumed = _run_source_until(args, tmp, kill_after=None)
            before = [m["record"]["data"]["id"] for m in killed_run["messages"] if m["type"] == "RECORD"]
            after = [m["record"]["data"]["id"] for m in resumed["messages"] if m["type"] == "RECORD"]
            before_set = set(before)
            problems = []
            if not killed_run["killed"]:
                problems.append("the kill did not happen")
            if resumed["returncode"] != 0:
                problems.append(f"the resumed run failed (exit {resumed['returncode']})")
            lost = len(expected - before_set - set(after))
            if lost or set(before) | set(after) != expected:
                problems.append(f"{lost} records lost")
            rows.append(
                {
                    "scenario": f"first read of {total} customers SIGKILLed at {point:.0%}, resumed",
                    "kill_point": point,
                    "objects": total,
                    "emitted_before_kill": len(before),
                    "states_before_kill": sum(1 for m in killed_run["messages"] if m["type"] == "STATE"),
                    "resumed_records": len(after),
                    "reread": sum(1 for i in after if i in before_set),
                    "reread_bound": concurrency * page_size,
                    "duplicated_in_resumed_run": len(after) - len(set(after)),
                    "duplicated_in_killed_run": len(before) - len(before_set),
                    "lost": lost,
                    "outcome": _outcome(problems),
                    "seconds": round(time.monotonic() - started, 1),
                }
            )
    return rows


def connect_kill_resume(accounts: int = 400, kills: int = 2, seed: int = 7) -> dict[str, Any]:
    """A first read of many Connect accounts (``account_ids: "all"``, customers and balance
    transactions, each account with its own few objects), SIGKILLed ``kills`` times after about
    half of what is left to read, each time resumed from the last STATE per stream; then run to
    the end. Nothing may be lost: every (stream, account, id) seeded is delivered by some run."""
    started = time.monotonic()
    now = int(time.time()) - 3600
    streams = ["customers", "balance_transactions"]
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed, latency=0.01) as emulator, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        expected = set()
        for i, account in enumerate(emulator.add_connected_accounts(accounts, created_start=now - accounts * 3600)):
            store = emulator.store_for(account)
            for stream, n in (("customers", i % 7), ("balance_transactions", i % 4)):
                ids = store.bulk_add(stream, n, created_start=now - 60 * n - 13 * i, created_step=60) if n else []
                expected.update((stream, account, oid) for oid in ids)
        config = source_config(
            emulator, "api_key", account_ids="all", requests_per_second=150, endpoint_requests_per_second=150, concurrency=8
        )
        (tmp / "config.json").write_text(json.dumps(config))
        catalog = configured_catalog(streams, sync_mode="incremental")
        (tmp / "catalog.json").write_text(json.dumps(catalog))
        state: list[dict[str, Any]] = []
        runs = []
        for attempt in range(kills + 1):
            args = ["read", "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
            if state:
                (tmp / "state.json").write_text(json.dumps(state))
                args += ["--state", str(tmp / "state.json")]
            delivered = {_triple(m) for run in runs for m in run["messages"] if m["type"] == "RECORD"}
            kill_after = max(1, (len(expected) - len(delivered)) // 2) if attempt < kills else None
            run = _run_source_until(args, tmp, kill_after)
            runs.append(run)
            merged = {s["stream"]["stream_descriptor"]["name"]: s for s in state}
            merged.update(_latest_states(run["messages"]))
            state = list(merged.values())
        delivered = {_triple(m) for run in runs for m in run["messages"] if m["type"] == "RECORD"}
        requests = len(emulator.requests)
    problems = []
    killed = sum(1 for run in runs if run["killed"])
    if killed != kills:
        problems.append(f"{killed} kills happened, not {kills}")
    if runs[-1]["returncode"] != 0:
        problems.append(f"the last run failed (exit {runs[-1]['returncode']}): {runs[-1]['stderr'][-500:]}")
    lost = len(expected - delivered)
    if lost or delivered != expected:
        problems.append(f"{lost} objects lost, {len(delivered - expected)} unexpected")
    emitted = sum(1 for run in runs for m in run["messages"] if m["type"] == "RECORD")
    return {
        "scenario": f"first read of {accounts} Connect accounts SIGKILLed {kills}x, resumed from the last STATE",
        "accounts": accounts,
        "kills": killed,
        "requests": requests,
        "expected": len(expected),
        "delivered": len(delivered),
        "emitted": emitted,
        "reread": emitted - len(delivered),
        "lost": lost,
        "states_before_first_kill": sum(1 for m in runs[0]["messages"] if m["type"] == "STATE"),
        "state_bytes": sum(len(json.dumps(m)) for run in runs for m in run["messages"] if m["type"] == "STATE"),
        "outcome": _outcome(problems),
        "seconds": round(time.monotonic() - started, 1),
    }


def _triple(message: dict[str, Any]) -> tuple:
    record = message["record"]
    return record["stream"], record["data"]["account_id"], record["data"]["id"]


def _latest_states(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest = {}
    for m in messages:
        if m["type"] == "STATE":
            latest[m["state"]["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": m["state"]["stream"]}
    return latest


def _stream_state(state: list[dict[str, Any]] | None, stream: str) -> dict[str, Any]:
    for s in state or []:
        if s["stream"]["stream_descriptor"]["name"] == stream:
            return s["stream"].get("stream_state") or {}
    return {}


def _resumable(state: dict[str, Any], created: int) -> bool:
    """Whether a resumed read may read an object created at ``created`` again: it is inside an
    interval the state says is left (``to_read``), or, in the old shape, at or after ``created``."""
    if "to_read" in state:
        return any((lo is None or lo <= created) and (hi is None or created < hi) for lo, hi in state["to_read"])
    return state.get("created") is not None and created >= state["created"]


def _resume_report(expected, runs, requests, kills, started) -> dict[str, Any]:
    problems = []
    seen: dict[str, dict[str, int]] = {s: {} for s in ALL_STREAMS}  # stream -> id -> created
    delivered_flat = []
    reread = 0
    bad_duplicates = 0
    after_last_state = 0
    for run in runs:
        # everything re-emitted here that an earlier run already delivered must be in what the
        # state this run resumed from says is left: the state never covers a record read again
        last_state_index = {}
        for index, m in enumerate(run["messages"]):
            if m["type"] == "STATE":
                last_state_index[m["state"]["stream"]["stream_descriptor"]["name"]] = index
        for m in run["messages"]:
            if m["type"] != "RECORD":
                continue
            stream, data = m["record"]["stream"], m["record"]["data"]
            delivered_flat.append((stream, data["id"]))
            if data["id"] in seen[stream]:
                reread += 1
                if not _resumable(_stream_state(run["state_in"], stream), data["created"]):
                    bad_duplicates += 1
            seen[stream].setdefault(data["id"], data["created"])
        killed_run_tail = 0
        if run["killed"]:
            for index, m in enumerate(run["messages"]):
                if m["type"] == "RECORD" and index > last_state_index.get(m["record"]["stream"], -1):
                    killed_run_tail += 1
        after_last_state += killed_run_tail
    delivered = {s: list(ids) for s, ids in seen.items()}
    numbers = _compare(expected, delivered)
    numbers["duplicated"] = len(delivered_flat) - len(set(delivered_flat))
    final = runs[-1]
    if final["killed"] or final["returncode"] != 0:
        problems.append(f"the final run did not complete (exit {final['returncode']})")
    if numbers["lost"] or numbers["unexpected"]:
        problems.append(f"{numbers['lost']} records lost")
    if bad_duplicates:
        problems.append(f"{bad_duplicates} records read again outside what the resumed state left to read")
    killed_runs = sum(1 for r in runs if r["killed"])
    if killed_runs != kills:
        problems.append(f"only {killed_runs} of {kills} kills happened")
    for run in runs:
        if any(s in run["stderr"] for s in SECRETS) or any(s in json.dumps(run["messages"]) for s in SECRETS):
            problems.append("a secret in the output")
    return {
        "scenario": f"source SIGKILLed {kills}x mid incremental read, resumed from last STATE",
        "objects": numbers["expected"],
        "requests": requests,
        "faults": killed_runs,
        "fault_kinds": {"SIGKILL": killed_runs},
        **numbers,
        "reread": reread,
        "reread_overhead": round(reread / max(1, numbers["expected"]), 4),
        "records_after_last_state_in_killed_runs": after_last_state,
        "rereads_outside_state": bad_duplicates,
        "runs": len(runs),
        "outcome": _outcome(problems),
        "seconds": round(time.monotonic() - started, 1),
    }


# -- 3. the destination under the same faults, plus lost responses after commit -------------


def customer_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"crm-{i:05d}",
            "email": f"user{i}@example.com",
            "name": f"User {i}",
            "description": f"Customer {i}",
            "address": {"line1": f"{i} Main St", "city": "Springfield", "country": "US"},
            "metadata": {"tier": "gold" if i % 2 else "silver"},
        }
        for i in range(n)
    ]


def product_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"SKU-{i:05d}",
            "name": f"Product {i}",
            "description": f"Widget {i}",
            "active": i % 7 != 0,
            "metadata": {"line": "widgets"},
        }
        for i in range(n)
    ]


def destination_input(n_customers: int, n_products: int, state_every: int = 25) -> str:
    lines, count = [], 0
    for stream, rows in (("customers", customer_rows(n_customers)), ("products", product_rows(n_products))):
        for row in rows:
            lines.append({"type": "RECORD", "record": {"stream": stream, "data": row, "emitted_at": 1_700_000_000_000}})
            count += 1
            if count % state_every == 0:
                lines.append({"type": "STATE", "state": {"type": "LEGACY", "data": {"marker": count}}})
    lines.append({"type": "STATE", "state": {"type": "LEGACY", "data": {"marker": "end"}}})
    return "".join(json.dumps(m) + "\n" for m in lines)


def stripe_snapshot(emulator: StripeEmulator) -> dict[str, Any]:
    """What the destination wrote, keyed by external id; lists so duplicates show."""
    out: dict[str, list[Any]] = {}
    for resource, fields in (("customers", ("email", "name", "description")), ("products", ("id", "name", "description", "active"))):
        for obj in emulator.store.all(resource):
            key = f"{resource}:{(obj.get('metadata') or {}).get('external_id')}"
            address = {k: v for k, v in (obj.get("address") or {}).items() if v is not None}
            out.setdefault(key, []).append([[f, obj.get(f)] for f in fields] + [["metadata", obj.get("metadata")], ["address", address]])
    return out


def _count_objects(snapshot: dict[str, list[Any]], expected_keys: set) -> dict[str, int]:
    return {
        "expected": len(expected_keys),
        "delivered": len(expected_keys & set(snapshot)),
        "duplicated": sum(len(v) - 1 for v in snapshot.values()),
        "lost": len(expected_keys - set(snapshot)),
        "unexpected": len(set(snapshot) - expected_keys),
    }


def _expected_keys(n_customers: int, n_products: int) -> set:
    return {f"customers:{r['external_id']}" for r in customer_rows(n_customers)} | {
        f"products:{r['external_id']}" for r in product_rows(n_products)
    }


def destination_under_faults(
    n_customers: int, n_products: int, fault_rate: float = 0.10, lost_after_commit: float = 0.03, mode: str = "pinkconnect", seed: int = 5
) -> dict[str, Any]:
    """The same input into a clean account and into one behind a faulty proxy (and a Stripe
    that commits a write and then loses its response); the two accounts must end up equal."""
    started = time.monotonic()
    stdin = destination_input(n_customers, n_products)
    catalog = destination_catalog()
    snapshots, results, measured = {}, {}, {}
    for label in ("clean", "faulty"):
        with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed) as emulator:
            proxy = start_proxy(mode, emulator)
            try:
                config = source_config(
                    proxy,
                    mode,
                    requests_per_second=500,
                    endpoint_requests_per_second=500,
                    max_retries=8,
                    request_timeout_seconds=CLIENT_TIMEOUT,
                )
                if label == "faulty":
                    proxy.faults = type(proxy.faults)(seed=seed, retry_after=0, slow_seconds=SLOW_SECONDS)
                    proxy.faults.set_rates(scaled_mix(fault_rate))
                    emulator.faults.set_rates({"commit_then_reset": lost_after_commit})
                result = run_connector("destination", "write", config, catalog, stdin=stdin, timeout=1800)
                snapshots[label] = stripe_snapshot(emulator)
                results[label] = result
                if label == "faulty":
                    lost_posts = [r for r in emulator.requests.snapshot() if r["fault"] == "commit_then_reset" and r["method"] == "POST"]
                    measured = {
                        "requests": len(proxy.requests),
                        "fault_kinds": {**dict(proxy.faults.injected), **{f"stripe {k}": v for k, v in emulator.faults.injected.items()}},
                        "lost_after_commit_posts": len(lost_posts),
                        "idempotent_replays": emulator.idempotent_replays,
                    }
            finally:
                proxy.stop()
    expected_keys = _expected_keys(n_customers, n_products)
    numbers = _count_objects(snapshots["faulty"], expected_keys)
    problems = []
    for label, result in results.items():
        if result.returncode != 0:
            problems.append(f"{label} write exit {result.returncode}: {[e['message'][:200] for e in result.errors()]}")
        if any(s in result.stdout + result.stderr for s in SECRETS):
            problems.append(f"a secret in the {label} output")
    if snapshots["clean"] != snapshots["faulty"]:
        differing = [
            k for k in set(snapshots["clean"]) | set(snapshots["faulty"]) if snapshots["clean"].get(k) != snapshots["faulty"].get(k)
        ]
        problems.append(f"Stripe differs from the clean run for {len(differing)} keys, e.g. {sorted(differing)[:3]}")
    if numbers["duplicated"] or numbers["lost"] or numbers["unexpected"]:
        problems.append("duplicates or losses in Stripe")
    if measured["lost_after_commit_posts"] == 0:
        problems.append("no create lost its response after commit: the idempotency case was not exercised")
    if measured["idempotent_replays"] < measured["lost_after_commit_posts"]:
        problems.append("fewer idempotent replays than lost responses")
    faults = sum(measured["fault_kinds"].values())
    return {
        "scenario": f"destination write, {mode}, {fault_rate:.0%} proxy faults + {lost_after_commit:.0%} lost-after-commit",
        "objects": numbers["expected"],
        "requests": measured["requests"],
        "faults": faults,
        **measured,
        **numbers,
        "returncode": results["faulty"].returncode,
        "outcome": _outcome(problems),
        "seconds": round(time.monotonic() - started, 1),
    }


# -- 4. SIGKILL the destination mid-write, re-run the same input ----------------------------


def destination_kill_rerun(n_customers: int, n_products: int, kills: int = 3, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    stdin = destination_input(n_customers, n_products)
    n_records = n_customers + n_products
    killed_runs, runs = 0, 0
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed, latency=0.002) as emulator, tempfile.TemporaryDirectory() as tmp_name:
        emulator.search_lag_seconds = 600  # search can't see earlier runs' customers: only idempotency keys protect
        tmp = Path(tmp_name)
        config = source_config(emulator, "api_key", requests_per_second=500, endpoint_requests_per_second=500)
        (tmp / "config.json").write_text(json.dumps(config))
        (tmp / "catalog.json").write_text(json.dumps(destination_catalog()))
        bootstrap = "import source_stripe_proxy.airbyte.entrypoints as m; m.run_destination()"
        returncode = None
        for attempt in range(kills + 1):
            runs += 1
            process = subprocess.Popen(
                [sys.executable, "-c", bootstrap, "write", "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=REPO_ROOT,
            )
            process.stdin.write(stdin.encode())
            process.stdin.close()
            if attempt < kills:
                posts_before = sum(1 for r in emulator.requests.snapshot() if r["method"] == "POST")
                target = posts_before + rng.randint(1, max(2, n_records // (kills + 1)))
                deadline = time.monotonic() + 120
                while process.poll() is None and time.monotonic() < deadline:
                    if sum(1 for r in emulator.requests.snapshot() if r["method"] == "POST") >= target:
                        os.kill(process.pid, signal.SIGKILL)
                        killed_runs += 1
                        break
                    time.sleep(0.003)
            process.stdin = None  # already written and closed
            out, err = process.communicate(timeout=600)
            returncode = process.returncode
            if any(s.encode() in out + err for s in SECRETS):
                returncode = "secret leaked"
        snapshot = stripe_snapshot(emulator)
        requests = len(emulator.requests)
        replays = emulator.idempotent_replays
    numbers = _count_objects(snapshot, _expected_keys(n_customers, n_products))
    problems = []
    if returncode != 0:
        problems.append(f"the final run ended with {returncode}")
    if killed_runs != kills:
        problems.append(f"only {killed_runs} of {kills} kills happened")
    if numbers["duplicated"] or numbers["lost"] or numbers["unexpected"]:
        problems.append("duplicates or losses in Stripe")
    wanted = {f"customers:{r['external_id']}": r for r in customer_rows(n_customers)}
    for key, versions in snapshot.items():
        if key in wanted and dict(versions[0][:3]) != {f: wanted[key][f] for f in ("email", "name", "description")}:
            problems.append(f"{key} holds other values than its record")
            break
    return {
        "scenario": f"destination SIGKILLed {kills}x mid-write (search lagging), same input re-run",
        "objects": numbers["expected"],
        "requests": requests,
        "faults": killed_runs,
        "fault_kinds": {"SIGKILL": killed_runs},
        **numbers,
        "idempotent_replays": replays,
        "runs": runs,
        "outcome": _outcome(problems),
        "seconds": round(time.monotonic() - started, 1),
    }


# -- 5. errors that do not heal -------------------------------------------------------------


def non_healing_errors(seed: int = 13) -> list[dict[str, Any]]:
    """Revoked key, expired proxy token, restricted key missing a permission: each ends the sync
    with a config_error naming what to fix; the forbidden stream is never read as empty."""
    rows = []
    now = int(time.time()) - 60
    with StripeEmulator(api_key=UPSTREAM_KEY, seed=seed) as emulator:
        expected = seed_account(emulator, 300, now)
        catalog = configured_catalog(["customers", "plans"])

        def row(name, result, requests, want_field, stream_checks=True):
            errors = result.errors()
            problems = []
            if result.returncode == 0:
                problems.append("the sync did not fail")
            if not errors or any(e["failure_type"] != "config_error" for e in errors):
                problems.append(f"not a config_error: {[e['failure_type'] for e in errors]}")
            if not any(want_field in e["message"] for e in errors):
                problems.append(f"no error names {want_field!r}")
            if any("Traceback" in e["message"] for e in errors):
                problems.append("a stack trace in the message")
            if any(s in result.stdout + result.stderr for s in SECRETS):
                problems.append("a secret in the output")
            delivered = {s: [r["id"] for r in result.records_of(s)] for s in ("customers", "plans")}
            return {
                "scenario": name,
                "objects": 0,
                "requests": requests,
                "faults": 1,
                "expected": 0,
                "delivered": sum(len(v) for v in delivered.values()),
                "duplicated": 0,
                "lost": 0,
                "error": errors[0]["message"][:160] if errors else "",
                "outcome": _outcome(problems),
            }

        # revoked API key
        config = source_config(emulator, "api_key")
        config["credentials"]["api_key"] = f"sk_test_REVOKED{_RUN}"
        before = len(emulator.requests)
        result = run_connector("source", "read", config, catalog)
        rows.append(row("source: revoked API key (401)", result, len(emulator.requests) - before, "credentials.api_key"))
        # expired proxy token, every request
        proxy = start_proxy("pinkconnect", emulator)
        try:
            proxy.faults.set_rates({"401_proxy": 1.0})
            result = run_connector("source", "read", source_config(proxy, "pinkconnect"), catalog)
            rows.append(row("source: proxy token expired (PinkConnect 401)", result, len(proxy.requests), "credentials.token"))
        finally:
            proxy.stop()
        # restricted key without the plans permission
        restricted = f"rk_test_LIMITED{_RUN}"
        emulator.add_restricted_key(restricted, {"customers": "read"})
        config = source_config(emulator, "api_key")
        config["credentials"]["api_key"] = restricted
        before = len(emulator.requests)
        result = run_connector("source", "read", config, catalog)
        r = row("source: restricted key lacks plans permission (403)", result, len(emulator.requests) - before, "permission")
        got_customers = {x["id"] for x in result.records_of("customers")}
        r["expected"] = len(expected["customers"]) + len(expected["plans"])
        r["delivered"] = len(got_customers)
        r["lost"] = 0  # plans are not lost silently: the stream is reported INCOMPLETE
        if got_customers != expected["customers"]:
            r["outcome"] = _outcome(["the permitted stream was not read completely"])
        if result.statuses("plans")[-1:] != ["INCOMPLETE"] or result.records_of("plans"):
            r["outcome"] = _outcome(["the forbidden stream was not reported INCOMPLETE"])
        r["note"] = "plans reported INCOMPLETE with a config_error; customers complete"
        rows.append(r)
        # the destination with a revoked key
        config = source_config(emulator, "api_key")
        config["credentials"]["api_key"] = f"sk_test_REVOKED{_RUN}"
        before = len(emulator.requests)
        result = run_connector("destination", "write", config, destination_catalog(), stdin=destination_input(3, 0))
        rows.append(row("destination: revoked API key (401)", result, len(emulator.requests) - before, "credentials.api_key"))
        if emulator.store.count("customers") != len(expected["customers"]):
            rows[-1]["outcome"] = _outcome(["something was written with a revoked key"])
    return rows
