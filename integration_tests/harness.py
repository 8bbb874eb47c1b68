"""Helpers for integration tests (the fixtures themselves are all in ``conftest.py``).

* servers: free ports, localstripe as a subprocess, a stepped clock;
* the one set of fake secrets and a connection config per mode;
* the connectors: run the real console scripts (stdout, stderr and exit code exactly as
  Airbyte or a user's shell sees them), catalogs and state;
* the destination: input messages, an in-process ``write`` and its summary;
* the actions: the CLI in-process or as the console script, with a mode's environment.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer

from source_stripe_proxy.actions.cli import main
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.destination.connector import accepted_catalog as destination_catalog  # noqa: F401 (re-exported)
from stripe_emulator import ParagonEmulator, PinkConnectEmulator

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTORS = {
    "source": "source_stripe_proxy.airbyte.entrypoints:run_source",
    "destination": "source_stripe_proxy.airbyte.entrypoints:run_destination",
}


class SteppedClock:
    """A monotonic clock that moves only when someone sleeps on it (or a test steps it).

    Give it to the client's budgets (``clock=now, sleep=sleep``) and to the emulator's rate
    limits (``monotonic=now``): both then see the same seconds, spent only by the client's own
    waits, so what they decide depends on what was sent, never on how busy the machine is.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class LocalStripe:
    """localstripe (PyPI) as a subprocess on a free loopback port, starting empty.

    localstripe pickles its store to /tmp/localstripe.pickle and reloads it on start;
    --from-scratch and a working directory of its own keep runs (and parallel instances) apart.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="localstripe-")

    def __enter__(self) -> LocalStripe:
        executable = Path(sys.executable).with_name("localstripe")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "localstripe"]
        self._process = subprocess.Popen(
            [*command, "--port", str(self.port), "--from-scratch"],
            cwd=self._workdir.name,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._workdir.cleanup()


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m["record"] for m in self.of_type("RECORD")]

    def records_of(self, stream: str) -> list[dict[str, Any]]:
        return [r["data"] for r in self.records if r["stream"] == stream]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    def errors(self) -> list[dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    def assert_read_exactly(self, stream: str, expected_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The stream's records are exactly ``expected_ids``, each once, each valid against the
        stream's generated schema; returns them."""
        records = self.records_of(stream)
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), f"{stream}: a record emitted twice"
        assert set(ids) == set(expected_ids), stream
        validator = jsonschema.Draft7Validator(load_schema(stream))
        for record in records:
            validator.validate(record)
        return records

    def statuses(self, stream: str) -> list[str]:
        return [
            m["trace"]["stream_status"]["status"]
            for m in self.of_type("TRACE")
            if m["trace"]["type"] == "STREAM_STATUS" and m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
        ]


def run_connector(
    which: str,
    command: str,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    stdin: str = "",
    extra_args: Iterable[str] = (),
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``source`` or ``destination`` with ``command`` (spec/check/discover/read/write)."""
    module, function = CONNECTORS[which].split(":")
    bootstrap = f"import {module} as m; m.{function}()"
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-c", bootstrap, command]
        for flag, content in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if content is not None:
                path = Path(tmp) / f"{flag[2:]}.json"
                path.write_text(json.dumps(content))
                args += [flag, str(path)]
        args += list(extra_args)
        completed = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
        )
    messages = []
    for line in completed.stdout.splitlines():
        text = line.strip()
        if text.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                messages.append(json.loads(text))
    return RunResult(completed.returncode, completed.stdout, completed.stderr, messages)


def configured_catalog(streams: Iterable[str], sync_mode: str = "full_refresh", destination_sync_mode: str = "append") -> dict[str, Any]:
    """A configured catalog built from the source's own discover output shape."""
    from source_stripe_proxy.data import load_schema

    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": load_schema(name),
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": ["created"],
                    "source_defined_primary_key": [["id"]],
                },
                "sync_mode": sync_mode,
                "destination_sync_mode": destination_sync_mode,
                "cursor_field": ["created"] if sync_mode == "incremental" else [],
                "primary_key": [["id"]],
            }
            for name in streams
        ]
    }


def state_from(result: RunResult) -> list[dict[str, Any]]:
    """The latest per-stream STATE messages of a run, as the platform would pass them back."""
    latest: dict[str, dict[str, Any]] = {}
    for state in result.states:
        latest[state["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": state["stream"]}
    return list(latest.values())


# -- the one set of fake secrets, and a config per connection mode ---------------------
# Recognisable values: any of them in any output is a leak. In the proxy modes only the
# proxy emulators hold the Stripe key, as in production.

API_KEY = "sk_test_upstreamSECRETkey1"
PARAGON_PROJECT_ID = "proj_test"
PARAGON_TOKEN = "paragon-user-token-SECRET-2"
PINK_TOKEN = "pink-token-SECRET-3"
PINK_HEADERS = {"X-Pink-Connection": "conn-SECRET-4"}
SECRETS = (API_KEY, PARAGON_TOKEN, PINK_TOKEN, *PINK_HEADERS.values())
MODES = ("api_key", "paragon", "pinkconnect")
SUMMARY_TRACE_TYPE = "stripe_destination_summary"


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a secret leaked into the output"


def api_key_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": url, **extra}


def paragon_config(proxy: ParagonEmulator, **extra: Any) -> dict[str, Any]:
    credentials = {"auth_type": "paragon", "project_id": proxy.project_id, "user_token": PARAGON_TOKEN, "proxy_host": proxy.url}
    return {"credentials": credentials, **extra}


def pinkconnect_config(proxy: PinkConnectEmulator, **extra: Any) -> dict[str, Any]:
    credentials = {"auth_type": "pinkconnect", "proxy_url": proxy.base_url(), "token": PINK_TOKEN, "extra_headers": dict(PINK_HEADERS)}
    return {"credentials": credentials, **extra}


def paragon_in_front_of(upstream_url: str) -> ParagonEmulator:
    return ParagonEmulator(upstream_url, API_KEY, project_id=PARAGON_PROJECT_ID, user_token=PARAGON_TOKEN)


def pinkconnect_in_front_of(upstream_url: str) -> PinkConnectEmulator:
    return PinkConnectEmulator(upstream_url, API_KEY, token=PINK_TOKEN, required_headers=PINK_HEADERS)


# -- the destination: input messages and an in-process write ---------------------------


def catalog_dict(streams: Sequence[str], mode: str = "append") -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": mode,
                "primary_key": [["external_id"]],
            }
            for name in streams
        ]
    }


def catalog(streams: Sequence[str], mode: str = "append"):
    return ConfiguredAirbyteCatalogSerializer.load(catalog_dict(streams, mode))


def record(stream: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "record": {"stream": stream, "data": dict(data), "emitted_at": 1_700_000_000_000}}


def state(marker: Any) -> dict[str, Any]:
    return {"type": "STATE", "state": {"type": "LEGACY", "data": {"marker": marker}}}


def customers(count: int, *, start: int = 0, **overrides: Any) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"crm-{i:04d}",
            "email": f"user{i}@example.com",
            "name": f"User {i}",
            "description": f"Customer number {i}",
            "phone": f"+1555000{i:04d}",
            "address": {"line1": f"{i} Main St", "city": "Springfield", "country": "US"},
            "metadata": {"plan": "gold" if i % 2 else "silver"},
            **overrides,
        }
        for i in range(start, start + count)
    ]


def products(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"SKU {i:03d}/blue",
            "name": f"Product {i}",
            "description": f"A fine product #{i}",
            "active": i % 5 != 4,
            "metadata": {"category": "widgets"},
        }
        for i in range(start, start + count)
    ]


def input_messages(batches: Iterable[tuple[str, Iterable[Mapping[str, Any]]]], state_every: int = 10) -> list[dict[str, Any]]:
    """Records of each (stream, rows) in order, with a STATE after every ``state_every`` records."""
    out: list[dict[str, Any]] = []
    count = 0
    for stream, rows in batches:
        for row in rows:
            out.append(record(stream, row))
            count += 1
            if count % state_every == 0:
                out.append(state(count))
    out.append(state("end"))
    return out


def fast_destination() -> DestinationStripeProxy:
    return DestinationStripeProxy(
        # the emulator has no search limit to honour
        client_factory=lambda settings: StripeClient(settings, backoff_base_seconds=0.01, endpoint_limits={}),
    )


class WriteResult:
    def __init__(self, messages: list[dict[str, Any]], summary: dict[str, Any] | None, error: BaseException | None = None):
        self.messages = messages
        self.summary = summary
        self.error = error

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def logs(self, level: str | None = None) -> list[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if level is None or m["log"]["level"] == level]

    def rejections(self) -> list[dict[str, Any]]:
        """The JSON details of every rejection report."""
        return [json.loads(text.rsplit(" | ", 1)[1]) for text in self.logs("ERROR") if text.startswith("Rejected ")]

    def total(self, kind: str) -> int:
        return self.summary["total"][kind]

    def stream(self, name: str) -> dict[str, int]:
        return self.summary["streams"][name]


def write(
    config: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    streams: Sequence[str] = ("customers", "products"),
    mode: str = "append",
    destination: DestinationStripeProxy | None = None,
) -> WriteResult:
    """Run ``write`` in-process; the summary comes from its ANALYTICS trace."""
    destination = destination or fast_destination()
    loaded = [AirbyteMessageSerializer.load(m) for m in messages]
    out: list[dict[str, Any]] = []
    error = None
    try:
        for message in destination.write(config, catalog(streams, mode), iter(loaded)):
            out.append(AirbyteMessageSerializer.dump(message))
    except Exception as exc:  # noqa: BLE001 - the test decides
        error = exc
    summary = None
    for message in out:
        if message["type"] == "TRACE" and message["trace"]["type"] == "ANALYTICS":
            analytics = message["trace"]["analytics"]
            if analytics["type"] == SUMMARY_TRACE_TYPE:
                summary = json.loads(analytics["value"])
    assert_no_secrets(json.dumps(out) + (str(error) if error else ""))
    return WriteResult(out, summary, error)


def posts(server) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["method"] == "POST"]


def by_external_id(objects: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for obj in objects:
        key = (obj.get("metadata") or {}).get("external_id")
        if key:
            out.setdefault(key, []).append(obj)
    return out


def message_json(message: AirbyteMessage) -> dict[str, Any]:
    return AirbyteMessageSerializer.dump(message)


# -- the actions: the CLI in-process or as the console script ---------------------------


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def cli(env: Mapping[str, str], *args: str, block: str = "") -> tuple[int, Any, str]:
    """Run ``stripe-connection`` in-process; returns (exit code, parsed stdout JSON, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=_Stdin(block), stdout=out, stderr=err, environ=dict(env))
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text and secret not in err.getvalue(), "a secret reached the output"
    return code, json.loads(text), err.getvalue()


def ok(env: Mapping[str, str], *args: str, block: str = "") -> Any:
    code, data, err = cli(env, *args, block=block)
    assert code == 0, f"exit {code}: {data} {err}"
    return data


class Upstream:
    """One upstream Stripe (localstripe or the emulator) with both proxies in front of it."""

    def __init__(self, name: str, url: str):
        self.name, self.url = name, url
        self.paragon = paragon_in_front_of(url).start()
        self.pink = pinkconnect_in_front_of(url).start()

    def env(self, mode: str) -> dict[str, str]:
        """The environment variables a user sets for this connection mode (see docs/actions.md)."""
        if mode == "api_key":
            return {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": self.url}
        if mode == "paragon":
            return {"PARAGON_PROJECT_ID": PARAGON_PROJECT_ID, "PARAGON_USER_TOKEN": PARAGON_TOKEN, "PARAGON_PROXY_HOST": self.paragon.url}
        return {
            "PINKCONNECT_PROXY_URL": self.pink.url,
            "PINKCONNECT_TOKEN": PINK_TOKEN,
            "PINKCONNECT_EXTRA_HEADERS": json.dumps(PINK_HEADERS),
        }

    def stop(self) -> None:
        self.paragon.stop()
        self.pink.stop()


def subprocess_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for the real console script: no inherited Stripe/proxy variables."""
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(extra)
    return env


CONSOLE_SCRIPT = str(Path(sys.executable).with_name("stripe-connection"))
