"""Where the source's CPU per record goes: sampling profile, per-stage costs, and experiments.

    python benchmarks/profile_read.py [--records 200000] [--out benchmarks/profile_results.md]

1. Samples ``source-stripe-proxy read`` (a subprocess, zero latency, the emulator in another
   process) with py-spy (``--gil --threads``: only samples of the thread holding the GIL, so
   the buckets add up to Python CPU) and sorts every sample into a bucket: start-up, HTTP,
   JSON parsing, message building, serialization, output, our code, ...
2. Times each stage of the per-record path alone, in this process, on real pages from the
   emulator (orjson/json parsing, AirbyteMessage building, the CDK's serializer, print).
3. Re-runs the read with other settings (``concurrency``) and reports CPU and peak RSS.

py-spy is a profiling aid, not a dependency of the project: ``.venv/bin/pip install py-spy``
(part 1 is skipped without it). Writes a Markdown report; PROFILE.md explains it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (benchmarks/run.py: the emulator wrapper and child runner)

PY_SPY = os.path.join(bench.VENV_BIN, "py-spy")
SAMPLE_RATE = 500  # Hz


# -- 1. sampling profile -------------------------------------------------------------------


def _line_of(path: str, needle: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if needle in line:
                    return number
    except OSError:
        pass
    return None


def _cdk_file(name: str) -> str:
    out = subprocess.run(
        [bench.PYTHON, "-c", f"import airbyte_cdk, os; print(os.path.join(os.path.dirname(airbyte_cdk.__file__), {name!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def classifier():
    entrypoint = _cdk_file("entrypoint.py")
    dump_line = _line_of(entrypoint, "AirbyteMessageSerializer.dump(airbyte_message)")
    orjson_line = _line_of(entrypoint, "orjson.dumps(serialized_message)")
    print_line = _line_of(entrypoint, 'print(f"{message}\\n", end="")')
    client = os.path.join(bench.REPO, "source_stripe_proxy", "client.py")
    loads_lines = set()
    with open(client, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if "orjson.loads(" in line:
                loads_lines.add(number)

    def leaf_is(frames: list[str], file_part: str, line: int | None) -> bool:
        return line is not None and frames and f"{file_part}:{line})" in frames[-1]

    def classify(frames: list[str]) -> tuple[str, str]:
        """(phase, bucket) of one sampled stack (root first)."""
        stack = ";".join(frames)
        thread = frames[0]
        body = frames[1:]
        if not body:
            return "read", "no Python frame (native code)"
        if any("_find_and_load" in f for f in body) or ("run_source" not in stack and "stripe-read" not in thread):
            return "start-up", "imports (airbyte_cdk: ~0.5 s of it builds serpyco serializers)"
        if any(
            k in stack
            for k in (
                "read_catalog",
                "read_config",
                "read_state",
                ".spec (",
                "set_up_secret_filter",
                "SourceStripeProxy.streams",
                "client_for",
                "get_json_schema",
                "load_schema",
            )
        ):
            return "start-up", "config, catalog, spec and stream set-up"
        if "stripe-read" in thread:
            if any(leaf_is(body, "source_stripe_proxy/client.py", n) for n in loads_lines):
                return "read", "worker: JSON parse (orjson.loads)"
            if any(k in stack for k in ("requests/", "urllib3/", "http/client.py", "socket.py", "encode_form")):
                return "read", "worker: HTTP (requests, urllib3, http.client)"
            if "budget.py" in stack:
                return "read", "worker: request budget"
            if "queue.py" in stack or "threading.py" in stack or "concurrent/futures" in body[-1]:
                return "read", "worker: queue and thread hand-off"
            if "source_stripe_proxy/" in stack:
                return "read", "worker: our code (reader.py, client.py)"
            return "read", "worker: other"
        if "airbyte_message_to_string" in stack:
            if "serpyco" in stack or leaf_is(body, "airbyte_cdk/entrypoint.py", dump_line):
                return "read", "main: CDK serializer (AirbyteMessageSerializer.dump)"
            if leaf_is(body, "airbyte_cdk/entrypoint.py", orjson_line):
                return "read", "main: orjson.dumps + .decode()"
            return "read", "main: airbyte_message_to_string other"
        if "print_buffer.py" in stack or leaf_is(body, "airbyte_cdk/entrypoint.py", print_line):
            return "read", "main: output (print, PrintBuffer, stdout)"
        if "handle_record_counts" in stack or "memory_monitor" in stack or "HashableStreamDescriptor" in stack:
            return "read", "main: CDK per-message bookkeeping (record counts, memory monitor)"
        if "queue.py" in stack or "threading.py" in stack:
            return "read", "main: queue hand-off (consumer side)"
        if "logging/" in stack:
            return "read", "main: logging"
        if "__create_fn__" in stack or "<string>" in body[-1]:
            return "read", "main: building AirbyteMessage / AirbyteRecordMessage"
        if "transform" in stack.lower():
            return "read", "main: schema transforms"
        if "concurrent/futures" in stack and "submit" in stack:
            return "read", "main: submitting partitions"
        if "source_stripe_proxy/" in stack:
            return "read", "main: our code (source.py read loop, reader.py events)"
        return "read", "main: other"

    return classify


def sample_profile(url: str, n: int, work: bench.Workdir, spec: dict[str, Any]) -> dict[str, Any]:
    readers = bench.Readers(work, spec, "auto")
    cmd = readers.source(url, ["customers"], 10_000, 0.0)
    raw = os.path.join(work.path, "py-spy.txt")
    spy = [PY_SPY, "record", "-r", str(SAMPLE_RATE), "--threads", "--gil", "--nonblocking", "--format", "raw", "-o", raw, "--", *cmd]
    result = bench.run_child("py-spy", spy, cap_seconds=600)
    classify = classifier()
    buckets: Counter = Counter()
    phases: Counter = Counter()
    total = 0
    with open(raw, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            frames = stack.split(";")
            phase, bucket = classify(frames)
            buckets[(phase, bucket)] += int(count)
            phases[phase] += int(count)
            total += int(count)
    return {
        "records": result.records,
        "samples": total,
        "phases": dict(phases),
        "buckets": [[phase, bucket, c] for (phase, bucket), c in buckets.most_common()],
        "wall_s": result.wall_s,
    }


# -- 2. per-stage costs ---------------------------------------------------------------------

STAGES_CODE = r'''
import io, json, sys, time, orjson, requests
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type, AirbyteMessageSerializer
from airbyte_cdk.utils.print_buffer import PrintBuffer

url, key, pages_wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = requests.Session()
session.headers["Authorization"] = "Bearer " + key
bodies, params = [], {"limit": 100}
for _ in range(pages_wanted):
    r = session.get(url + "/v1/customers", params=params)
    bodies.append(r.content)
    page = orjson.loads(r.content)
    if not page["has_more"]:
        break
    params["starting_after"] = page["data"][-1]["id"]
pages = [orjson.loads(b) for b in bodies]
records = [o for p in pages for o in p["data"]]
n = len(records)

def timed(fn, items, repeat=5):
    """Median µs per item of fn(item), results dropped at once (as in a real read: keeping
    10k outputs alive would charge page faults of fresh memory to the stage)."""
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        for item in items:
            fn(item)
        runs.append(time.process_time() - t)
    runs.sort()
    return runs[len(runs) // 2] / len(items) * 1e6

out = {}
out["page bytes per record"] = sum(map(len, bodies)) / n
out["orjson.loads (per record)"] = timed(orjson.loads, bodies) * len(bodies) / n
out["json.loads (per record; the bare loop)"] = timed(json.loads, bodies) * len(bodies) / n
now = int(time.time() * 1000)
out["build AirbyteMessage(AirbyteRecordMessage)"] = timed(
    lambda r: AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="customers", data=r, emitted_at=now)), records)
msgs = [AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="customers", data=r, emitted_at=now)) for r in records]
out["AirbyteMessageSerializer.dump"] = timed(AirbyteMessageSerializer.dump, msgs)
dumped = [AirbyteMessageSerializer.dump(m) for m in msgs]
out["orjson.dumps(dumped message).decode()"] = timed(lambda d: orjson.dumps(d).decode(), dumped)
out["AirbyteEntrypoint.airbyte_message_to_string (dump + orjson + decode)"] = timed(AirbyteEntrypoint.airbyte_message_to_string, msgs)
out["alternative: orjson.dumps of a plain message dict (bytes, no decode)"] = timed(
    lambda r: orjson.dumps({"type": "RECORD", "record": {"stream": "customers", "data": r, "emitted_at": now}}), records)
out["json.dumps of a plain message dict (the bare loop)"] = timed(
    lambda r: json.dumps({"type": "RECORD", "record": {"stream": "customers", "data": r, "emitted_at": now}},
                         separators=(",", ":")), records)
strings = [AirbyteEntrypoint.airbyte_message_to_string(m) for m in msgs]
devnull = open("/dev/null", "w")
buf = PrintBuffer()
real_stdout = sys.__stdout__
sys.__stdout__ = devnull  # PrintBuffer.flush writes to sys.__stdout__
try:
    out["print(f\"{message}\\n\", end=\"\") into the CDK's PrintBuffer"] = timed(lambda s: print(f"{s}\n", end="", file=buf), strings)
finally:
    buf.flush()
    sys.__stdout__ = real_stdout
out["alternative: write to a buffered file"] = timed(lambda s: devnull.write(s + "\n"), strings)
print(json.dumps({"n": n, "us": out}))
'''


def stage_costs(url: str, pages: int) -> dict[str, Any]:
    proc = subprocess.run(
        [bench.PYTHON, "-c", STAGES_CODE, url, bench.API_KEY, str(pages)], capture_output=True, text=True, timeout=600, cwd=bench.REPO
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- 3. experiments -------------------------------------------------------------------------


def experiments(
    url: str, empty_url: str, work: bench.Workdir, spec: dict[str, Any], values: list[str], repeats: int
) -> list[dict[str, Any]]:
    """Whole reads per concurrency value; median of ``repeats``; start-up = a read of an empty server."""
    rows = []
    for choice in values:
        readers = bench.Readers(work, spec, choice)
        empties, fulls = [], []
        for _ in range(repeats):
            empties.append(bench.run_child("startup", readers.source(empty_url, ["customers"], 10_000, 0.0), cap_seconds=300))
            fulls.append(bench.run_child(f"concurrency-{choice}", readers.source(url, ["customers"], 10_000, 0.0), cap_seconds=600))
        empty = min(empties, key=lambda r: r.cpu_s)  # least disturbed by other load (see run.py)
        res = min(fulls, key=lambda r: r.cpu_s)
        rows.append(
            {
                "concurrency": choice,
                "records": res.records,
                "cpu_s": round(res.cpu_s, 3),
                "user_s": round(res.cpu_user_s, 3),
                "sys_s": round(res.cpu_sys_s, 3),
                "startup_cpu_s": round(empty.cpu_s, 3),
                "us_per_record": round((res.cpu_s - empty.cpu_s) / max(1, res.records) * 1e6, 2),
                "wall_s": res.wall_s,
                "peak_rss_mb": res.peak_rss_mb,
                "startup_rss_mb": empty.peak_rss_mb,
            }
        )
        bench.log(f"profile: concurrency {choice}: {rows[-1]}")
    return rows


# -- report ---------------------------------------------------------------------------------


def report(n: int, profile: dict[str, Any] | None, stages: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    lines = [
        f"# Profile of `source-stripe-proxy read` ({n:,} customers, zero latency)",
        "",
        (
            f"Generated by `python benchmarks/profile_read.py --records {n}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (git HEAD {bench.git_head()} plus the working "
            f"tree; source_stripe_proxy/*.py fingerprint {bench.code_fingerprint()}). "
            "See PROFILE.md for the reading of it."
        ),
        "",
    ]
    if profile:
        # py-spy gives the shares; the CPU itself comes from rusage of a run without py-spy
        # (section 3, the connector's default concurrency), start-up subtracted.
        base = next((r for r in runs if r["concurrency"] == "connector default"), runs[-1] if runs else None)
        us = base["us_per_record"] if base else None
        read = max(1, profile["phases"].get("read", 0))
        lines += [
            (
                "## 1. Where the read phase's CPU goes (py-spy --gil --threads, "
                f"{SAMPLE_RATE} Hz; {profile['samples']:,} samples, {profile['records']:,} records)"
            ),
            "",
            (
                "Shares are of the read phase's samples (start-up excluded). µs per record = share x the "
                f"marginal CPU per record measured by rusage without the profiler ({us} µs, section 3)."
            ),
            "",
            "| bucket | samples | share of read phase | ≈ µs per record |",
            "|---|---|---|---|",
        ]
        for phase, bucket, count in profile["buckets"]:
            if phase != "read":
                continue
            share = count / read
            lines.append(
                f"| {bucket} | {count:,} | {100 * share:.1f}% | {share * us:.2f} |"
                if us
                else f"| {bucket} | {count:,} | {100 * share:.1f}% | - |"
            )
        startup = {b: c for p, b, c in profile["buckets"] if p == "start-up"}
        total_startup = sum(startup.values()) or 1
        lines += [
            "",
            "Start-up (before the first request; its CPU is in section 3): "
            + "; ".join(f"{b}: {100 * c / total_startup:.0f}%" for b, c in startup.items()),
            "",
        ]
    lines += [
        f"## 2. Per-stage cost, measured alone ({stages['n']:,} records of real pages; median of 5)",
        "",
        "| stage | µs per record |",
        "|---|---|",
    ]
    for name, value in stages["us"].items():
        if name == "page bytes per record":
            lines.append(f"| (size: bytes of JSON per record) | {value:.0f} |")
        else:
            lines.append(f"| {name} | {value:.2f} |")
    if runs:
        lines += [
            "",
            (
                "## 3. Whole runs with other `concurrency` values (CPU and RSS from rusage, best of the runs; start-up = best "
                "read of an empty server)"
            ),
            "",
            "| concurrency | records | CPU s (user + sys) | start-up CPU s | µs per record | wall s | peak RSS MB | start-up RSS MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            lines.append(
                f"| {r['concurrency']} | {r['records']:,} | {r['cpu_s']} ({r['user_s']} + {r['sys_s']}) | {r['startup_cpu_s']} | "
                f"{r['us_per_record']} | {r['wall_s']} | {r['peak_rss_mb']} | {r['startup_rss_mb']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--out", default=os.path.join(HERE, "profile_results.md"))
    ap.add_argument("--repeats", type=int, default=3, help="runs per concurrency value (the median is kept)")
    ap.add_argument(
        "--concurrency", default="1,4,default", help="comma-separated concurrency values to compare ('default': the connector's own)"
    )
    args = ap.parse_args(argv)
    spec = bench.connector_spec(bench.SOURCE_CMD)
    work = bench.Workdir(keep=False)
    try:
        with bench.Emulator({"customers": args.records}, span_days=bench.SPAN_DAYS) as emu, bench.Emulator({}) as empty_emu:
            profile = None
            if os.path.exists(PY_SPY):
                bench.log("profile: sampling with py-spy")
                profile = sample_profile(emu.url, args.records, work, spec)
            else:
                bench.log("profile: py-spy not installed (.venv/bin/pip install py-spy); skipping the sampling part")
            bench.log("profile: per-stage costs")
            stages = stage_costs(emu.url, 100)
            values = [v.strip() for v in args.concurrency.split(",") if v.strip()]
            if "concurrency" not in spec.get("properties", {}):
                values = ["default"]
            runs = experiments(emu.url, empty_emu.url, work, spec, ["none" if v == "default" else v for v in values], args.repeats)
            for r in runs:
                if r["concurrency"] == "none":
                    r["concurrency"] = "connector default"
    finally:
        work.cleanup()
    text = report(args.records, profile, stages, runs)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
