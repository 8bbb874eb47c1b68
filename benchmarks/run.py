"""The benchmark suite of issue 6: CPU, throughput at the rate limit, memory, destination writes.

    python benchmarks/run.py [--quick] [--only cpu,throughput,memory,destination] [--out DIR]
    make bench            # the full run: benchmarks/results.md and results.json
    make bench-quick      # --quick: benchmarks/results-quick.md and results-quick.json

Every reader and writer is a subprocess against a Stripe emulator that is a subprocess of
its own (``benchmarks/emulator_server.py``), all on loopback. A child's CPU seconds and peak
RSS come from ``os.wait4`` (its own rusage, nothing of the server's or ours). Records are
counted here, by reading the child's stdout through a pipe (that CPU is ours, not the
child's). Request counts and 429s come from the server's ``/_bench/stats``.

Readers:
  (a) ``source-stripe-proxy read`` (the venv's console script): the connector.
  (b) ``benchmarks/bare_loop.py``: requests + json, one page after another, one RECORD line
      per object: the floor.

Speed and memory are measured and reported here; nothing in this file is a test assertion.
Every loop is bounded in count and time, every child is killed at its deadline, and all
traffic stays on 127.0.0.1. See benchmarks/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(os.path.join(VENV_BIN, "python")) else sys.executable
SOURCE_CMD = os.path.join(VENV_BIN, "source-stripe-proxy")
DEST_CMD = os.path.join(VENV_BIN, "destination-stripe-proxy")
EMULATOR_SCRIPT = os.path.join(HERE, "emulator_server.py")
BARE_SCRIPT = os.path.join(HERE, "bare_loop.py")
READER_C_PYTHON = os.path.join(HERE, ".venv-c", "bin", "python")  # make bench-reader-c-setup
READER_C_SCRIPT = os.path.join(HERE, "reader_c.py")
EMULATOR_ACCOUNT = "acct_1EmulatorPlatfrm"  # the emulator's platform account id
API_KEY = "sk_test_benchmark_key_0000"  # the emulator_server's key; a loopback stand-in, not a secret
STREAMS = ("customers", "subscriptions", "products", "plans", "prices", "balance_transactions")
PAGE = 100  # objects per list request, Stripe's maximum and our default
LATENCY = 0.25  # seconds per request, like the real API over the internet
BUDGETS = (25, 100)  # requests/s: Stripe's test-mode and live-mode read limits
SPAN_DAYS = 3 * 365  # objects are spread evenly over three years, like a real account's
RECORD_PREFIX = b'{"type":"RECORD"'
# Stripe's Search API allows 20 requests/s whatever the key's mode; the destination honours it.
STRIPE_SEARCH_LIMIT = 20.0
# Stripe's documented default per API endpoint (docs.stripe.com/rate-limits), our default too.
STRIPE_ENDPOINT_LIMIT = 25


@dataclass
class Profile:
    cpu_n: int
    cpu_repeats: int
    tp_n: int
    tp_cap: float  # seconds a throughput run may take before it is stopped and measured as is
    tp_burst: bool  # also the single stream with objects one second apart (a burst: hard to split by time)
    mem_sizes: Sequence[int]
    dest_cap: float
    dest_streams: Sequence[str]
    c_cap: float  # reader (c) is CPU-bound at ~150-200 records/s: its runs are stopped at this cap
    c_budgets: Sequence[int]  # budgets of its throughput runs (single stream only)


QUICK = Profile(
    cpu_n=20_000,
    cpu_repeats=2,
    tp_n=50_000,
    tp_cap=15,
    tp_burst=False,
    mem_sizes=(10_000, 100_000),
    dest_cap=10,
    dest_streams=("customers", "products"),
    c_cap=12,
    c_budgets=(25,),
)
FULL = Profile(
    cpu_n=100_000,
    cpu_repeats=3,
    tp_n=200_000,
    tp_cap=120,
    tp_burst=True,
    mem_sizes=(10_000, 1_000_000),
    dest_cap=40,
    dest_streams=("customers", "products"),
    c_cap=30,
    c_budgets=(25, 100),
)


# -- small helpers -----------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_json(path: str, value: Any) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
    return path


def rate_limit_for(budget: float) -> int:
    """The server's limit: 10% above the client's budget, so 429s show only if we exceed it."""
    return math.ceil(budget * 1.1)


# -- other load on the machine -------------------------------------------------------------


def _busy_cpu_seconds() -> float | None:
    """Core-seconds the whole machine has spent busy (from /proc/stat), or None off Linux."""
    try:
        with open("/proc/stat", encoding="utf-8") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # every child reaped so far
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class LoadMeter:
    """How busy the machine was with processes that are not this benchmark's, over a span.

    Benchmarks share the 2 cores with whatever else runs (other people's tests, say). CPU
    seconds of a child are still its own, but rates and wall times suffer; this says by how much.
    """

    def __enter__(self) -> LoadMeter:
        self.t0, self.busy0, self.own0 = time.monotonic(), _busy_cpu_seconds(), _own_cpu_seconds()
        self.result: dict[str, Any] = {}
        return self

    def __exit__(self, *exc: Any) -> None:
        busy1, own1 = _busy_cpu_seconds(), _own_cpu_seconds()
        span = time.monotonic() - self.t0
        if self.busy0 is None or busy1 is None or span <= 0:
            return
        other = max(0.0, (busy1 - self.busy0) - (own1 - self.own0))
        self.result.update(
            {"seconds": round(span, 1), "other_processes_cores": round(other / span, 2), "load_average_1m": round(os.getloadavg()[0], 2)}
        )


# -- which code was measured -------------------------------------------------------------


def code_fingerprint() -> str:
    """sha256 (12 hex) of the connector's Python files: tells whether the code changed mid-run."""
    import hashlib

    digest = hashlib.sha256()
    package = os.path.join(REPO, "source_stripe_proxy")
    for root, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, REPO).encode())
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:12]


def git_head() -> str | None:
    """The checked-out commit, read from .git (no git command), or None."""
    try:
        with open(os.path.join(REPO, ".git", "HEAD"), encoding="utf-8") as fh:
            head = fh.read().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        ref_path = os.path.join(REPO, ".git", ref)
        if os.path.exists(ref_path):
            with open(ref_path, encoding="utf-8") as fh:
                return fh.read().strip()[:12]
        with open(os.path.join(REPO, ".git", "packed-refs"), encoding="utf-8") as fh:
            for line in fh:
                if line.strip().endswith(" " + ref):
                    return line.split()[0][:12]
    except OSError:
        pass
    return None


# -- the server --------------------------------------------------------------------------


class Emulator:
    """``emulator_server.py`` as a child process; stopped on exit (stdin closed, then SIGTERM)."""

    def __init__(
        self,
        seed: dict[str, int],
        latency: float = 0.0,
        rate_limit: int | None = None,
        retry_after: int = 1,
        span_days: float = 0.0,
        max_seconds: float = 3600,
        endpoint_rate_limit: int | None = None,
        extra_args: Sequence[str] = (),
    ):
        args = [
            PYTHON,
            EMULATOR_SCRIPT,
            "--seed",
            ",".join(f"{k}={v}" for k, v in seed.items()),
            "--latency",
            str(latency),
            "--retry-after",
            str(retry_after),
            "--span-days",
            str(span_days),
            "--max-seconds",
            str(max_seconds),
            *extra_args,
        ]
        if rate_limit:
            args += ["--rate-limit", str(rate_limit)]
        if endpoint_rate_limit:
            args += ["--endpoint-rate-limit", str(endpoint_rate_limit)]
        self.seed = dict(seed)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        ready: list[bytes] = []
        reader = threading.Thread(target=lambda: ready.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(180)  # seeding a million objects takes a few seconds
        line = ready[0].decode() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the emulator did not start (got {line!r})")
        self.url = line.split()[1]
        self.seeded = json.loads(line.split(" ", 2)[2]) if len(line.split(" ", 2)) > 2 else {}

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_bench/stats", timeout=10) as resp:  # noqa: S310 - our loopback emulator's http URL
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    counts = {k: after["counts"].get(k, 0) - before["counts"].get(k, 0) for k in after["counts"]}
    return {
        "counts": counts,
        "rate_limited": after["rate_limited"] - before["rate_limited"],
        "server_cpu_s": round(after["cpu"] - before["cpu"], 3),
    }


# -- running a child and measuring it ----------------------------------------------------


@dataclass
class ChildResult:
    label: str
    command: list[str]
    exit_code: int | None
    stopped_at_cap: bool
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    records: int
    other_lines: int
    first_record_s: float | None  # seconds after start
    last_record_s: float | None
    steady_records_per_s: float | None  # from the first record to the last
    samples: list[list[float]] = field(default_factory=list, repr=False)  # [t, records] every page
    problems: list[str] = field(default_factory=list)

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


def run_child(label: str, command: list[str], cap_seconds: float, stdin_feed=None, on_tick=None, tick_seconds: float = 0.5) -> ChildResult:
    """Run ``command``, count its RECORD lines, stop it at ``cap_seconds``; rusage from wait4."""
    stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - read and closed once the child is reaped
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE if stdin_feed else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file, cwd=REPO
    )
    started = time.monotonic()
    counter = {"records": 0, "other": 0, "first": None, "last": None}
    samples: list[list[float]] = []
    problems: list[str] = []

    def count_stdout() -> None:
        records = 0
        for line in proc.stdout:
            if line.startswith(RECORD_PREFIX):
                records += 1
                if records % PAGE == 1 or PAGE == 1:
                    now = time.monotonic() - started
                    if counter["first"] is None:
                        counter["first"] = now
                    samples.append([now, records - 1])
                counter["records"] = records
            else:
                counter["other"] += 1
                if (b'"ERROR"' in line or b'"FATAL"' in line or b'"type":"ERROR"' in line or b'"failure_type"' in line) and len(
                    problems
                ) < 5:
                    problems.append(line[:600].decode("utf-8", "replace"))
        counter["last"] = time.monotonic() - started
        if records:
            samples.append([counter["last"], records])

    reader = threading.Thread(target=count_stdout, daemon=True)
    reader.start()
    feeder = None
    if stdin_feed:

        def feed() -> None:
            try:
                stdin_feed(proc.stdin)
            except (BrokenPipeError, OSError, ValueError):
                pass
            finally:
                with contextlib.suppress(OSError):
                    proc.stdin.close()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()

    deadline = started + cap_seconds
    next_tick = started
    stopped = False
    status = rusage = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if on_tick and now >= next_tick:
            on_tick(now - started)
            next_tick = now + tick_seconds
        if now >= deadline and not stopped:
            stopped = True
            proc.send_signal(signal.SIGTERM)
            deadline = now + 5  # then SIGKILL
        elif now >= deadline:
            proc.kill()
            deadline = now + 3600
        time.sleep(0.02)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    reader.join(10)
    if feeder:
        feeder.join(1)
    if on_tick:
        on_tick(wall)
    stderr_file.seek(0)
    stderr_tail = stderr_file.read()[-2000:].decode("utf-8", "replace").strip()
    stderr_file.close()
    if proc.returncode not in (0, None) and not stopped:
        problems.append(f"exit code {proc.returncode}; stderr: {stderr_tail[-800:]}")
    records = counter["records"]
    steady = None
    if counter["first"] is not None and records > PAGE:
        # The first page lands at once at counter["first"]; the rate is what came after it.
        span = samples[-1][0] - counter["first"]
        if span > 0:
            steady = (records - PAGE) / span
    return ChildResult(
        label=label,
        command=command,
        exit_code=proc.returncode,
        stopped_at_cap=stopped,
        wall_s=round(wall, 3),
        cpu_user_s=rusage.ru_utime,
        cpu_sys_s=rusage.ru_stime,
        peak_rss_mb=round(rusage.ru_maxrss / 1024, 1),
        records=records,
        other_lines=counter["other"],
        first_record_s=counter["first"],
        last_record_s=counter["last"],
        steady_records_per_s=steady,
        samples=samples,
        problems=problems,
    )


# -- the connector's spec, configs and catalogs ------------------------------------------


def connector_spec(command: str) -> dict[str, Any]:
    out = subprocess.run([command, "spec"], capture_output=True, timeout=120, cwd=REPO)
    for line in out.stdout.splitlines():
        if line.startswith(b'{"type":"SPEC"'):
            return json.loads(line)["spec"]["connectionSpecification"]
    raise RuntimeError(f"{command} spec printed no SPEC message: {out.stderr[-500:]!r}")


def concurrency_value(spec: dict[str, Any], budget: float, latency: float, choice: str) -> int | None:
    """The ``concurrency`` to pass, or None when the spec has no such key (or --concurrency none)."""
    prop = spec.get("properties", {}).get("concurrency")
    if prop is None or choice == "none":
        return None
    if choice != "auto":
        value = int(choice)
    elif latency <= 0:
        return None  # zero latency: nothing to overlap; the connector's own default applies
    else:
        # Enough requests in flight to fill the budget at this latency, with headroom.
        value = max(1, math.ceil(budget * latency * 1.5))
    if isinstance(prop.get("maximum"), (int, float)):
        value = min(value, int(prop["maximum"]))
    if isinstance(prop.get("minimum"), (int, float)):
        value = max(value, int(prop["minimum"]))
    return value


class Workdir:
    def __init__(self, keep: bool):
        self.path = tempfile.mkdtemp(prefix="stripe-bench-")
        self.keep = keep
        self._n = 0

    def file(self, name: str, value: Any) -> str:
        self._n += 1
        return write_json(os.path.join(self.path, f"{self._n:03d}-{name}"), value)

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def source_catalog(streams: Sequence[str]) -> dict[str, Any]:
    with open(os.path.join(REPO, "integration_tests", "configured_catalog.json"), encoding="utf-8") as fh:
        catalog = json.load(fh)
    chosen = [s for s in catalog["streams"] if s["stream"]["name"] in streams]
    missing = set(streams) - {s["stream"]["name"] for s in chosen}
    if missing:
        raise RuntimeError(f"integration_tests/configured_catalog.json lacks {sorted(missing)}")
    for s in chosen:
        s["sync_mode"] = "full_refresh"
    return {"streams": chosen}


def destination_catalog(stream: str) -> dict[str, Any]:
    entry = source_catalog([stream])["streams"][0]
    entry["destination_sync_mode"] = "append"
    return {"streams": [entry]}


class Readers:
    """Builds the command lines of readers (a) and (b) for a server and a budget."""

    def __init__(self, work: Workdir, source_spec: dict[str, Any], concurrency_choice: str):
        self.work = work
        self.spec = source_spec
        self.concurrency_choice = concurrency_choice
        self.passed_concurrency: dict[str, int | None] = {}
        self.with_other = False  # reader (c), set by main() when its venv is there

    def source(self, url: str, streams: Sequence[str], budget: float, latency: float, endpoint_limit: float | None = None) -> list[str]:
        """``endpoint_limit`` None: the per-endpoint limit is raised to the whole budget (as Stripe
        does for some accounts), so one stream can use all of it."""
        config: dict[str, Any] = {
            "credentials": {"auth_type": "api_key", "api_key": API_KEY},
            "api_base": url,
            "requests_per_second": budget,
            "endpoint_requests_per_second": endpoint_limit or budget,
        }
        concurrency = concurrency_value(self.spec, budget, latency, self.concurrency_choice)
        if concurrency is not None:
            config["concurrency"] = concurrency
        self.passed_concurrency[f"{budget:g} req/s, {latency * 1000:g} ms"] = "connector default" if concurrency is None else concurrency
        cfg = self.work.file("source-config.json", config)
        cat = self.work.file("source-catalog.json", source_catalog(streams))
        return [SOURCE_CMD, "read", "--config", cfg, "--catalog", cat]

    def bare(self, url: str, streams: Sequence[str]) -> list[str]:
        cmd = [PYTHON, BARE_SCRIPT, "--api-base", url, "--api-key", API_KEY]
        for s in streams:
            cmd += ["--stream", s]
        return cmd

    # -- reader (c): airbyte-source-stripe from PyPI, in its own venv ------------------

    _c_streams: dict[str, Any] | None = None

    def other_available(self) -> bool:
        if not os.path.exists(READER_C_PYTHON):
            return False
        probe = subprocess.run([READER_C_PYTHON, "-c", "import source_stripe"], capture_output=True, timeout=120)
        return probe.returncode == 0

    def other(self, url: str, streams: Sequence[str], budget: float, latency: float) -> list[str]:
        """airbyte-source-stripe: its own knobs are num_workers (1-20) and call_rate_limit."""
        workers = 10 if latency <= 0 else max(1, min(20, math.ceil(budget * latency * 1.5)))
        config = {
            "client_secret": API_KEY,
            "account_id": EMULATOR_ACCOUNT,
            "start_date": "2017-01-25T00:00:00Z",
            "num_workers": workers,
            "call_rate_limit": int(budget),
        }
        self.passed_concurrency[f"(c) {budget:g} req/s, {latency * 1000:g} ms"] = f"num_workers {workers}"
        cfg = self.work.file("c-config.json", config)
        if self._c_streams is None:
            out = subprocess.run(
                [READER_C_PYTHON, READER_C_SCRIPT, "--api-base", url, "discover", "--config", cfg],
                capture_output=True,
                timeout=300,
                cwd=REPO,
            )
            for line in out.stdout.splitlines():
                if line.startswith(b'{"type":"CATALOG"'):
                    self._c_streams = {s["name"]: s for s in json.loads(line)["catalog"]["streams"]}
            if self._c_streams is None:
                raise RuntimeError(f"reader (c) discover failed: {out.stderr[-500:]!r}")
        catalog = {
            "streams": [
                {"stream": self._c_streams[name], "sync_mode": "full_refresh", "destination_sync_mode": "append"} for name in streams
            ]
        }
        cat = self.work.file("c-catalog.json", catalog)
        return [READER_C_PYTHON, READER_C_SCRIPT, "--api-base", url, "read", "--config", cfg, "--catalog", cat]


# -- scenarios ---------------------------------------------------------------------------


def scenario_cpu(profile: Profile, readers: Readers) -> dict[str, Any]:
    """(1) CPU per record at zero latency, budget 10000 req/s: (a) vs (b) on the same data."""
    n = profile.cpu_n
    log(f"cpu: {n} customers, zero latency, {profile.cpu_repeats} repeat(s) of each reader")
    out: dict[str, Any] = {"n": n, "repeats": profile.cpu_repeats, "readers": {}}
    # Start-up cost: the same reader against a server with no objects (one request, no records).
    names = ("a", "b", "c") if readers.with_other else ("a", "b")
    with Emulator({"customers": n}, span_days=SPAN_DAYS) as emu, Emulator({}) as empty_emu:
        for name in names:
            runs, empties = [], []
            # Reader (c) needs ~5 ms of CPU per record: one capped run, per record from what it read.
            repeats, cap = (1, profile.c_cap) if name == "c" else (profile.cpu_repeats, 600)
            for _ in range(repeats):
                for empty in (True, False):
                    url = empty_emu.url if empty else emu.url
                    if name == "a":
                        cmd = readers.source(url, ["customers"], 10_000, 0.0)
                    elif name == "b":
                        cmd = readers.bare(url, ["customers"])
                    else:
                        cmd = readers.other(url, ["customers"], 10_000, 0.0)
                    res = run_child(f"cpu-{name}{'-startup' if empty else ''}", cmd, cap_seconds=cap)
                    (empties if empty else runs).append(res)
                    expected = 0 if empty else n
                    if res.records != expected and not (name == "c" and res.stopped_at_cap):
                        res.problems.append(f"read {res.records} records, expected {expected}")
            # The least-disturbed run of each: other load on a shared machine only ever adds CPU
            # (cache and core contention), so the minimum is the best estimate of the reader's own cost.
            cpu_total = min(r.cpu_s for r in runs)
            cpu_startup = min(r.cpu_s for r in empties)
            read = max(1, min(r.records for r in runs))  # n, unless a capped run stopped early
            out["readers"][name] = {
                "records": read,
                "stopped_at_cap_s": cap if any(r.stopped_at_cap for r in runs) else None,
                "cpu_total_s": round(cpu_total, 3),
                "cpu_startup_s": round(cpu_startup, 3),
                "cpu_per_10k_total_s": round(cpu_total / read * 10_000, 4),
                "cpu_per_10k_marginal_s": round((cpu_total - cpu_startup) / read * 10_000, 4),
                "us_per_record_marginal": round((cpu_total - cpu_startup) / read * 1e6, 2),
                "wall_s": round(min(r.wall_s for r in runs), 3),
                "records_per_s": round(read / min(r.wall_s for r in runs), 1),
                "peak_rss_mb": max(r.peak_rss_mb for r in runs),
                "problems": [p for r in runs + empties for p in r.problems],
                "all_cpu_s": [round(r.cpu_s, 3) for r in runs],
                "all_startup_cpu_s": [round(r.cpu_s, 3) for r in empties],
            }
            log(
                f"cpu: reader ({name}) {out['readers'][name]['cpu_per_10k_marginal_s']} s/10k marginal, "
                f"{out['readers'][name]['cpu_per_10k_total_s']} s/10k with startup"
            )
    a, b = out["readers"]["a"], out["readers"]["b"]
    out["ratio_marginal"] = round(a["cpu_per_10k_marginal_s"] / b["cpu_per_10k_marginal_s"], 2)
    out["ratio_total"] = round(a["cpu_per_10k_total_s"] / b["cpu_per_10k_total_s"], 2)
    if "c" in out["readers"]:
        c = out["readers"]["c"]
        out["ratio_c_marginal"] = round(c["cpu_per_10k_marginal_s"] / b["cpu_per_10k_marginal_s"], 2)
        out["ratio_c_total"] = round(c["cpu_per_10k_total_s"] / b["cpu_per_10k_total_s"], 2)
    return out


def scenario_throughput(profile: Profile, readers: Readers) -> list[dict[str, Any]]:
    """(2) records/s at 250 ms latency and a 25 or 100 req/s budget, one big stream and all six."""
    results = []
    n = profile.tp_n
    per_stream = math.ceil(n / len(STREAMS))
    datasets = [
        ("single stream (customers)", {"customers": n}, SPAN_DAYS),
        ("all six streams", dict.fromkeys(STREAMS, per_stream), SPAN_DAYS),
    ]
    if profile.tp_burst:
        datasets.append(("single stream, 1 s apart", {"customers": n}, 0.0))
    # Endpoint limit None: raised to the budget, so one stream may use all of it (the targets'
    # rows). Then the same data under Stripe's documented default of 25 requests/s per endpoint,
    # enforced by the server too: one stream is bound by it, six streams are not.
    runs = [("a", d, b, None) for d in datasets for b in BUDGETS]
    runs += [("a", d, max(BUDGETS), STRIPE_ENDPOINT_LIMIT) for d in datasets[:2]]
    if readers.with_other:  # reader (c): the single stream only, capped (it is CPU-bound)
        runs += [("c", datasets[0], b, None) for b in profile.c_budgets]
    for reader, (dataset, seed, span_days), budget, endpoint_limit in runs:
        cap = profile.tp_cap if reader == "a" else profile.c_cap
        limit = rate_limit_for(budget)
        server_endpoint_limit = rate_limit_for(endpoint_limit) if endpoint_limit else None
        log(
            f"throughput: ({reader}) {dataset}, {sum(seed.values())} objects, {LATENCY * 1000:.0f} ms latency, "
            f"budget {budget} req/s (server limit {limit}/s), endpoint limit {endpoint_limit or budget} req/s "
            f"(server {server_endpoint_limit or 'none'}), cap {cap:g} s"
        )
        with Emulator(
            seed, latency=LATENCY, rate_limit=limit, retry_after=1, span_days=span_days, endpoint_rate_limit=server_endpoint_limit
        ) as emu:
            before = emu.stats()
            ticks: list[list[float]] = []

            def tick(t: float, emu=emu, before=before, ticks=ticks) -> None:
                d = stats_delta(before, emu.stats())
                ticks.append([t, d["counts"].get("GET", 0), d["rate_limited"]])

            if reader == "a":
                cmd = readers.source(emu.url, list(seed), budget, LATENCY, endpoint_limit)
            else:
                cmd = readers.other(emu.url, list(seed), budget, LATENCY)
            res = run_child(f"throughput-{reader}-{budget}", cmd, cap_seconds=cap, on_tick=tick)
            delta = stats_delta(before, emu.stats())
        total = sum(seed.values())
        # What the limits allow: the budget, or each stream's endpoint limit times the streams.
        ceiling = int(min(budget, (endpoint_limit or budget) * len(seed)) * PAGE)
        rps = res.steady_records_per_s or 0.0
        span = (res.samples[-1][0] - res.first_record_s) if res.samples and res.first_record_s is not None else 0
        # GET requests/s over the same window (from the first record on), from the server's counts.
        req_s = None
        if res.first_record_s is not None and ticks:
            start_tick = next((t for t in ticks if t[0] >= res.first_record_s), ticks[-1])
            if ticks[-1][0] > start_tick[0]:
                req_s = (ticks[-1][1] - start_tick[1]) / (ticks[-1][0] - start_tick[0])
        gets = delta["counts"].get("GET", 0)
        mid = mid_run_rate(res.samples, res.records)
        results.append(
            {
                "reader": reader,
                "dataset": dataset,
                "span_days": span_days,
                "budget": budget,
                "server_rate_limit": limit,
                "endpoint_limit": endpoint_limit or budget,
                "server_endpoint_rate_limit": server_endpoint_limit,
                "objects": total,
                "records": res.records,
                "complete": res.records == total and not res.stopped_at_cap,
                "stopped_at_cap_s": cap if res.stopped_at_cap else None,
                "records_per_s": round(rps, 1),
                "ceiling_records_per_s": ceiling,
                "pct_of_ceiling": round(100 * rps / ceiling, 1),
                "overall_records_per_s": round(res.records / res.wall_s, 1) if res.wall_s else None,
                "mid_run_records_per_s": round(mid, 1) if mid else None,
                "requests": gets,
                "pages_needed": sum(math.ceil(v / PAGE) for v in seed.values()),
                "requests_per_s": round(req_s, 1) if req_s is not None else None,
                "records_per_request": round(res.records / gets, 1) if gets else None,
                "http_429": delta["rate_limited"],
                "wall_s": res.wall_s,
                "time_to_first_record_s": round(res.first_record_s or 0, 3),
                "measured_span_s": round(span, 2),
                "reader_cpu_s": round(res.cpu_s, 2),
                "reader_peak_rss_mb": res.peak_rss_mb,
                "server_cpu_s": delta["server_cpu_s"],
                "problems": res.problems,
            }
        )
        r = results[-1]
        log(
            f"throughput: {r['records']} records, {r['records_per_s']} rec/s = {r['pct_of_ceiling']}% of "
            f"{ceiling}, {r['requests_per_s']} GET/s, {r['requests']} requests, {r['http_429']} x 429"
        )
    return results


def mid_run_rate(samples: list[list[float]], records: int) -> float | None:
    """Records/s between the 10% and the 90% marks: the steady state, without ramp-up and tail."""
    if records < 10 * PAGE or len(samples) < 4:
        return None
    lo = next((s for s in samples if s[1] >= records * 0.1), None)
    hi = next((s for s in samples if s[1] >= records * 0.9), None)
    if not lo or not hi or hi[0] <= lo[0]:
        return None
    return (hi[1] - lo[1]) / (hi[0] - lo[0])


def scenario_memory(profile: Profile, readers: Readers) -> list[dict[str, Any]]:
    """(3) peak RSS of reader (a) (and of (b), for reference) at a small and a large stream."""
    results = []
    for n in profile.mem_sizes:
        log(f"memory: {n} customers, zero latency")
        with Emulator({"customers": n}, span_days=SPAN_DAYS) as emu:
            for name in ("a", "b"):
                cmd = readers.source(emu.url, ["customers"], 10_000, 0.0) if name == "a" else readers.bare(emu.url, ["customers"])
                res = run_child(f"memory-{name}-{n}", cmd, cap_seconds=900)
                if res.records != n:
                    res.problems.append(f"read {res.records} records, expected {n}")
                results.append(
                    {
                        "reader": name,
                        "records": res.records,
                        "objects": n,
                        "peak_rss_mb": res.peak_rss_mb,
                        "wall_s": res.wall_s,
                        "cpu_s": round(res.cpu_s, 2),
                        "problems": res.problems,
                    }
                )
                log(f"memory: ({name}) {n} records, peak RSS {res.peak_rss_mb} MB")
    return results


def destination_record(stream: str, i: int) -> dict[str, Any]:
    if stream == "customers":
        return {"external_id": f"bench-{i}", "email": f"bench{i}@example.com", "name": f"Bench customer {i}"}
    return {"external_id": f"bench-product-{i}", "name": f"Bench product {i}"}


def scenario_destination(profile: Profile, work: Workdir, dest_spec: dict[str, Any], concurrency_choice: str) -> list[dict[str, Any]]:
    """(4) destination-stripe-proxy write: new records at 250 ms latency, budgets 25 and 100."""
    results = []
    for stream in profile.dest_streams:
        for budget in BUDGETS:
            limit = rate_limit_for(budget)
            # Enough input that even a writer at the full budget is still busy at the cap.
            n = min(20_000, math.ceil(budget / 2 * profile.dest_cap * 1.5) + 50)
            config: dict[str, Any] = {
                "credentials": {"auth_type": "api_key", "api_key": API_KEY},
                "api_base": "",
                "requests_per_second": budget,
                "endpoint_requests_per_second": budget,
            }
            concurrency = concurrency_value(dest_spec, budget, LATENCY, concurrency_choice)
            if concurrency is not None:
                config["concurrency"] = concurrency
            log(
                f"destination: {n} new {stream}, {LATENCY * 1000:.0f} ms latency, budget {budget} req/s "
                f"(server limit {limit}/s), cap {profile.dest_cap:g} s"
            )
            with Emulator({}, latency=LATENCY, rate_limit=limit, retry_after=1) as emu:
                config["api_base"] = emu.url
                cfg = work.file("dest-config.json", config)
                cat = work.file("dest-catalog.json", destination_catalog(stream))
                lines = [
                    json.dumps(
                        {"type": "RECORD", "record": {"stream": stream, "data": destination_record(stream, i), "emitted_at": 0}},
                        separators=(",", ":"),
                    ).encode()
                    + b"\n"
                    for i in range(n)
                ]

                def feed(pipe, lines=lines):
                    for i in range(0, len(lines), 200):
                        pipe.write(b"".join(lines[i : i + 200]))
                    pipe.flush()

                ticks: list[list[float]] = []
                before = emu.stats()

                def tick(t: float, ticks: list[list[float]] = ticks, before: dict[str, Any] = before) -> None:
                    s = emu.stats()["counts"]
                    ticks.append(
                        [
                            t,
                            s.get("writes_ok", 0) - before["counts"].get("writes_ok", 0),
                            s.get("requests", 0) - before["counts"].get("requests", 0),
                            s.get("search", 0) - before["counts"].get("search", 0),
                        ]
                    )

                res = run_child(
                    f"destination-{stream}-{budget}",
                    [DEST_CMD, "write", "--config", cfg, "--catalog", cat],
                    cap_seconds=profile.dest_cap,
                    stdin_feed=feed,
                    on_tick=tick,
                )
                delta = stats_delta(before, emu.stats())
            # Steady window: from the first completed write to the last tick (start-up excluded).
            first = next((t for t in ticks if t[1] > 0), None)
            last = ticks[-1] if ticks else None
            rec_s = req_s = search_s = None
            if first and last and last[0] > first[0]:
                span = last[0] - first[0]
                rec_s = (last[1] - first[1]) / span
                req_s = (last[2] - first[2]) / span
                search_s = (last[3] - first[3]) / span
            writes = delta["counts"].get("writes_ok", 0)
            requests_total = delta["counts"].get("requests", 0)
            per_record = requests_total / writes if writes else None
            # What the budget allows: all of it, unless each record needs a search (20/s at most).
            searches = delta["counts"].get("search", 0)
            bound = float(budget)
            bound_reason = "the budget"
            if searches and requests_total:
                # Searches are this share of all requests and can't exceed 20/s, so neither can the rest.
                search_bound = STRIPE_SEARCH_LIMIT * requests_total / searches
                if search_bound < bound:
                    bound, bound_reason = search_bound, f"Stripe's search limit, {STRIPE_SEARCH_LIMIT:g}/s"
            results.append(
                {
                    "stream": stream,
                    "budget": budget,
                    "server_rate_limit": limit,
                    "input_records": n,
                    "records_written": writes,
                    "complete": writes == n and not res.stopped_at_cap,
                    "stopped_at_cap_s": profile.dest_cap if res.stopped_at_cap else None,
                    "records_per_s": round(rec_s, 2) if rec_s is not None else None,
                    "requests_per_s": round(req_s, 2) if req_s is not None else None,
                    "search_requests_per_s": round(search_s, 2) if search_s is not None else None,
                    "requests_per_record": round(per_record, 2) if per_record else None,
                    "pct_of_budget": round(100 * req_s / budget, 1) if req_s is not None else None,
                    "bound_requests_per_s": round(bound, 1),
                    "bound_by": bound_reason,
                    "pct_of_bound": round(100 * req_s / bound, 1) if req_s is not None else None,
                    "requests": requests_total,
                    "http_429": delta["rate_limited"],
                    "requests_by_kind": {k: v for k, v in delta["counts"].items() if k in ("GET", "POST", "search")},
                    "concurrency_passed": concurrency,
                    "wall_s": res.wall_s,
                    "writer_cpu_s": round(res.cpu_s, 2),
                    "writer_peak_rss_mb": res.peak_rss_mb,
                    "problems": res.problems,
                }
            )
            r = results[-1]
            log(
                f"destination: {writes} {stream} written, {r['records_per_s']} rec/s, {r['requests_per_s']} req/s "
                f"({r['pct_of_budget']}% of budget), {r['requests_per_record']} requests/record, {r['http_429']} x 429"
            )
    return results


# -- report ------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem_gb = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for pkg in ("airbyte-cdk", "orjson", "requests"):
        try:
            out = subprocess.run(
                [PYTHON, "-c", f"from importlib.metadata import version; print(version({pkg!r}))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            versions[pkg] = out.stdout.strip() or None
        except Exception:  # noqa: BLE001 - informational only
            versions[pkg] = None
    py = subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": py.stdout.strip(),
        "packages": versions,
    }


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    cpu = results.get("cpu")
    if cpu:
        rows.append(
            {
                "target": "CPU per record within 2x of the bare loop",
                "measured": f"{cpu['ratio_marginal']}x per record (startup excluded); {cpu['ratio_total']}x with startup",
                "ok": cpu["ratio_marginal"] <= 2.0,
            }
        )
    ours = [r for r in results.get("throughput", []) if r.get("reader", "a") == "a"]
    raised = [r for r in ours if r.get("endpoint_limit", r["budget"]) >= r["budget"]]
    tp = [r for r in raised if r["dataset"].startswith("single") and r["span_days"]]
    burst = [r for r in raised if r["dataset"].startswith("single") and not r["span_days"]]
    capped = [r for r in ours if r.get("endpoint_limit", r["budget"]) < r["budget"]]
    if tp:
        worst = min(tp, key=lambda r: r["pct_of_ceiling"])
        measured = ", ".join(f"{r['pct_of_ceiling']}% at {r['budget']} req/s" for r in tp)
        if burst:
            measured += " (objects 1 s apart: " + ", ".join(f"{r['pct_of_ceiling']}% at {r['budget']}" for r in burst) + ")"
        if capped:
            measured += "; under Stripe's default 25 req/s per endpoint at a 100 req/s budget: " + ", ".join(
                f"{r['dataset'].split(',')[0]} {r['pct_of_ceiling']}% of {r['ceiling_records_per_s']:,} rec/s" for r in capped
            )
        rows.append(
            {
                "target": ">= 90% of the budget ceiling on a single large stream at 250 ms",
                "measured": measured,
                "ok": worst["pct_of_ceiling"] >= 90,
            }
        )
    mem = [r for r in results.get("memory", []) if r["reader"] == "a"]
    if len(mem) >= 2:
        small, large = mem[0], mem[-1]
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        rows.append(
            {
                "target": f"peak memory at {large['objects']:,} records within 1.2x of {small['objects']:,}",
                "measured": f"{ratio:.2f}x ({large['peak_rss_mb']} MB vs {small['peak_rss_mb']} MB)",
                "ok": ratio <= 1.2,
            }
        )
    dest = [r for r in results.get("destination", []) if r.get("pct_of_budget") is not None]
    if dest:
        parts = []
        for r in dest:
            part = f"{r['stream']} {r['pct_of_budget']}% at {r['budget']}"
            if r["bound_by"] != "the budget":
                part += f" (bounded by {r['bound_by']} to {r['bound_requests_per_s']:g} req/s: {r['pct_of_bound']}% of that)"
            parts.append(part)
        free = [r for r in dest if r["bound_by"] == "the budget"]
        rows.append(
            {
                "target": "destination writes at >= 90% of the write budget",
                "measured": "; ".join(parts),
                "ok": all(r["pct_of_bound"] >= 90 for r in dest) and bool(free) and all(r["pct_of_budget"] >= 90 for r in free),
            }
        )
    return rows


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark results ({results['mode']})",
        "",
        f"- Date: {results['started']} (took {results['duration_s']:.0f} s)",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- Source `concurrency` key in spec: {'yes' if results['source_has_concurrency'] else 'no'}"
        + (f" (passed: {results['concurrency_passed']})" if results["source_has_concurrency"] else ""),
        f"- Code: git HEAD {results['code']['git_head']} plus the working tree; source_stripe_proxy/*.py "
        f"fingerprint {results['code']['fingerprint_at_start']}"
        + (
            f" (**changed during: {', '.join(results['code']['changed_during'])}**; those numbers mix two versions)"
            if results["code"]["changed_during"]
            else " (unchanged during the run)"
        ),
        "- Other processes on the machine during each scenario (cores busy on average, not ours): "
        + ", ".join(f"{k} {v.get('other_processes_cores', '?')}" for k, v in results.get("background_load", {}).items()),
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {verdict(t['ok'])} |")
    cpu = results.get("cpu")
    if cpu:
        lines += [
            "",
            (
                f"## 1. CPU at zero latency ({cpu['n']:,} customers, best of {cpu['repeats']} runs, "
                "start-up = best of as many reads of an empty server)"
            ),
            "",
            (
                "| reader | CPU s per 10k records (startup excluded) | CPU s per 10k (with startup) | startup CPU s "
                "| µs per record | wall s | records/s | peak RSS MB |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        names = {
            "a": "(a) source-stripe-proxy read",
            "b": "(b) bare loop (requests + json)",
            "c": "(c) airbyte-source-stripe 5.14.1 (PyPI)",
        }
        for key, r in cpu["readers"].items():
            if r.get("stopped_at_cap_s"):
                names[key] += f" ({r['records']:,} records, stopped at {r['stopped_at_cap_s']:g} s)"
            lines.append(
                f"| {names[key]} | {r['cpu_per_10k_marginal_s']:.3f} | {r['cpu_per_10k_total_s']:.3f} | "
                f"{r['cpu_startup_s']:.2f} | {r['us_per_record_marginal']:.1f} | {r['wall_s']:.2f} | "
                f"{fmt(r['records_per_s'], 0)} | {r['peak_rss_mb']} |"
            )
        lines.append(f"| **ratio (a)/(b)** | **{cpu['ratio_marginal']}x** | {cpu['ratio_total']}x | | | | | |")
        if "ratio_c_marginal" in cpu:
            lines.append(f"| ratio (c)/(b) | {cpu['ratio_c_marginal']}x | {cpu['ratio_c_total']}x | | | | | |")
    tp = results.get("throughput")
    if tp:
        lines += [
            "",
            f"## 2. Throughput at {LATENCY * 1000:.0f} ms latency",
            "",
            (
                "Records/s and GET/s are measured from the first record on (start-up excluded; "
                "'overall' includes it). Objects spread evenly over three years unless marked 1 s apart. "
                "Endpoint limit: the connector's `endpoint_requests_per_second`; raised to the budget unless "
                "it says 25, Stripe's documented default, which the server then enforces too (at 28/s). "
                "Ceiling: what the limits allow, min(budget, endpoint limit x streams) x 100 records."
            ),
            "",
            (
                "| reader | data | budget req/s | endpoint limit req/s | ceiling rec/s | records/s | % of ceiling "
                "| mid-run rec/s (10%→90%) | overall rec/s | GET req/s | requests (pages) | 429s | records read | wall s | reader CPU s |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in tp:
            read = f"{r['records']:,} of {r['objects']:,}" + ("" if r["complete"] else f" (stopped at {r['stopped_at_cap_s']:g} s)")
            lines.append(
                f"| ({r.get('reader', 'a')}) | {r['dataset']} | {r['budget']} | "
                f"{r.get('endpoint_limit', r['budget'])} | {r['ceiling_records_per_s']:,} | "
                f"{fmt(r['records_per_s'], 0)} | "
                f"{r['pct_of_ceiling']}% | {fmt(r['mid_run_records_per_s'], 0)} | "
                f"{fmt(r['overall_records_per_s'], 0)} | {fmt(r['requests_per_s'])} | "
                f"{r['requests']:,} ({r['pages_needed']:,}) | {r['http_429']} | {read} | "
                f"{r['wall_s']:.1f} | {r['reader_cpu_s']} |"
            )
    mem = results.get("memory")
    if mem:
        lines += [
            "",
            "## 3. Peak memory (RSS) at zero latency",
            "",
            "| reader | records | peak RSS MB | wall s | CPU s |",
            "|---|---|---|---|---|",
        ]
        for r in mem:
            lines.append(f"| ({r['reader']}) | {r['records']:,} | {r['peak_rss_mb']} | {r['wall_s']:.1f} | {r['cpu_s']} |")
    dest = results.get("destination")
    if dest:
        lines += [
            "",
            f"## 4. Destination writes at {LATENCY * 1000:.0f} ms latency (new records, matched by external id)",
            "",
            (
                "| stream | budget req/s | records/s | requests/s | % of budget | bound req/s (by) | % of bound "
                "| requests per record | search req/s | written | 429s |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in dest:
            written = f"{r['records_written']:,} of {r['input_records']:,}" + (
                "" if r["complete"] else f" (stopped at {r['stopped_at_cap_s']:g} s)"
            )
            lines.append(
                f"| {r['stream']} | {r['budget']} | {fmt(r['records_per_s'], 2)} | {fmt(r['requests_per_s'])} | "
                f"{fmt(r['pct_of_budget'])}% | {r['bound_requests_per_s']:g} ({r['bound_by']}) | "
                f"{fmt(r['pct_of_bound'])}% | {fmt(r['requests_per_record'], 2)} | {fmt(r['search_requests_per_s'])} | "
                f"{written} | {r['http_429']} |"
            )
    problems = [(k, p) for k, section in results.items() if isinstance(section, (list, dict)) for k, p in _problems(k, section)]
    if problems:
        lines += ["", "## Problems seen", ""] + [f"- {k}: {p[:400]}" for k, p in problems[:20]]
    return "\n".join(lines) + "\n"


def _problems(key: str, section: Any):
    if isinstance(section, dict):
        for sub_key, sub in section.items():
            if sub_key == "problems" and isinstance(sub, list):
                for p in sub:
                    yield key, p
            elif isinstance(sub, (dict, list)):
                yield from _problems(f"{key}.{sub_key}", sub)
    elif isinstance(section, list):
        for i, item in enumerate(section):
            yield from _problems(f"{key}[{i}]", item)


# -- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller data and shorter caps (about 3 minutes)")
    ap.add_argument("--only", default="cpu,throughput,memory,destination", help="comma-separated scenarios")
    ap.add_argument("--out", default=HERE, help="where the results go (default: benchmarks/)")
    ap.add_argument(
        "--concurrency",
        default="auto",
        help="'auto': if the connector's spec has a 'concurrency' key, pass ceil(budget x latency x 1.5) "
        "at 250 ms and nothing (its default) at zero latency; 'none': never pass it; or a number",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary configs and catalogs")
    ap.add_argument(
        "--no-reader-c", action="store_true", help="leave out reader (c), airbyte-source-stripe, even if benchmarks/.venv-c exists"
    )
    args = ap.parse_args(argv)
    profile = QUICK if args.quick else FULL
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {"cpu", "throughput", "memory", "destination"}
    if unknown:
        ap.error(f"unknown scenarios: {sorted(unknown)}")
    for path in (SOURCE_CMD, DEST_CMD):
        if not os.path.exists(path):
            ap.error(f"{path} is missing: run `pip install -e .` in .venv first")

    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python benchmarks/run.py"] + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])]),
        "machine": machine_info(),
        "profile": asdict(profile),
    }
    source_spec = connector_spec(SOURCE_CMD)
    results["source_has_concurrency"] = "concurrency" in source_spec.get("properties", {})
    work = Workdir(args.keep)
    readers = Readers(work, source_spec, args.concurrency)
    readers.with_other = not args.no_reader_c and readers.other_available()
    results["reader_c"] = readers.with_other
    log(
        "reader (c) airbyte-source-stripe: "
        + (
            "included"
            if readers.with_other
            else "not included (make bench-reader-c-setup installs it)"
            if not args.no_reader_c
            else "left out (--no-reader-c)"
        )
    )
    results["background_load"] = {}

    results["code"] = {"git_head": git_head(), "fingerprint_at_start": code_fingerprint(), "changed_during": []}

    def measured(name: str, fn):
        before = code_fingerprint()
        with LoadMeter() as meter:
            value = fn()
        results["background_load"][name] = meter.result
        if code_fingerprint() != before:
            results["code"]["changed_during"].append(name)
            log(f"{name}: source_stripe_proxy/ changed while this scenario ran; its numbers mix two versions")
        if meter.result.get("other_processes_cores", 0) >= 0.25:
            log(f"{name}: other processes kept {meter.result['other_processes_cores']} cores busy meanwhile")
        return value

    def destination() -> list[dict[str, Any]]:
        try:
            dest_spec = connector_spec(DEST_CMD)
        except Exception as exc:  # noqa: BLE001 - the destination may be mid-change
            log(f"destination: spec failed ({exc}); using an empty spec")
            dest_spec = {}
        return scenario_destination(profile, work, dest_spec, args.concurrency)

    try:
        if "cpu" in only:
            results["cpu"] = measured("cpu", lambda: scenario_cpu(profile, readers))
        if "throughput" in only:
            results["throughput"] = measured("throughput", lambda: scenario_throughput(profile, readers))
        if "memory" in only:
            results["memory"] = measured("memory", lambda: scenario_memory(profile, readers))
        if "destination" in only:
            results["destination"] = measured("destination", destination)
    finally:
        work.cleanup()
    results["concurrency_passed"] = readers.passed_concurrency
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["targets"] = targets(results)
    text = markdown(results)
    os.makedirs(args.out, exist_ok=True)
    # --quick writes results-quick.*, so a quick check never replaces the full run's results.
    stem = os.path.join(args.out, "results-quick" if args.quick else "results")
    with open(stem + ".md", "w", encoding="utf-8") as fh:
        fh.write(text)
    write_json(stem + ".json", results)
    print(text)
    log(f"done in {results['duration_s']:.0f} s; wrote {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
