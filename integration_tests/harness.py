"""Helpers for integration tests: run the real console scripts, start localstripe, build catalogs.

Every run goes through a subprocess so stdout, stderr and the exit code are exactly what
Airbyte (or a user's shell) would see.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from source_stripe_proxy.destination.connector import accepted_catalog as destination_catalog  # noqa: F401 (re-exported)

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
        self.slept: List[float] = []

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
    --from-scratch keeps runs (and parallel instances) independent.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "LocalStripe":
        executable = Path(sys.executable).with_name("localstripe")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "localstripe"]
        self._process = subprocess.Popen(
            [*command, "--port", str(self.port), "--from-scratch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._process:
            self._process.terminate()
            self._process.wait(timeout=10)


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    messages: List[Dict[str, Any]]

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def records(self) -> List[Dict[str, Any]]:
        return [m["record"] for m in self.of_type("RECORD")]

    def records_of(self, stream: str) -> List[Dict[str, Any]]:
        return [r["data"] for r in self.records if r["stream"] == stream]

    @property
    def states(self) -> List[Dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    def statuses(self, stream: str) -> List[str]:
        return [
            m["trace"]["stream_status"]["status"]
            for m in self.of_type("TRACE")
            if m["trace"]["type"] == "STREAM_STATUS" and m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
        ]


def run_connector(
    which: str,
    command: str,
    config: Optional[Dict[str, Any]] = None,
    catalog: Optional[Dict[str, Any]] = None,
    state: Optional[List[Dict[str, Any]]] = None,
    stdin: str = "",
    extra_args: Iterable[str] = (),
    timeout: float = 300,
    env: Optional[Dict[str, str]] = None,
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
        line = line.strip()
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return RunResult(completed.returncode, completed.stdout, completed.stderr, messages)


def configured_catalog(streams: Iterable[str], sync_mode: str = "full_refresh", destination_sync_mode: str = "append") -> Dict[str, Any]:
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


def state_from(result: RunResult) -> List[Dict[str, Any]]:
    """The latest per-stream STATE messages of a run, as the platform would pass them back."""
    latest: Dict[str, Dict[str, Any]] = {}
    for state in result.states:
        latest[state["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": state["stream"]}
    return list(latest.values())
