"""Fixtures and helpers for the destination's integration tests.

Imported explicitly by ``test_destination*.py`` (``integration_tests/conftest.py`` belongs
to the source's suite). Every fixture starts its own loopback servers, so tests never
share Stripe state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pytest
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer

from integration_tests.harness import free_port, wait_for_port
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from stripe_emulator import ParagonEmulator, PinkConnectEmulator, StripeEmulator

API_KEY = "sk_test_destination_0123456789abcdef"
PARAGON_TOKEN = "paragon-user-token-destination-7f3a9c"
PINK_TOKEN = "pink-token-destination-41d2e8b6"
PINK_HEADERS = {"X-Connection-Id": "conn_destination_55aa"}
SUMMARY_TRACE_TYPE = "stripe_destination_summary"


# -- servers -----------------------------------------------------------------------------


@pytest.fixture
def emulator():
    with StripeEmulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def paragon(emulator):
    with ParagonEmulator(emulator.url, API_KEY, project_id="proj_dest", user_token=PARAGON_TOKEN) as proxy:
        yield proxy


@pytest.fixture
def pinkconnect(emulator):
    with PinkConnectEmulator(emulator.url, API_KEY, token=PINK_TOKEN, required_headers=PINK_HEADERS) as proxy:
        yield proxy


class LocalStripeProcess:
    """localstripe from scratch on a free port (it keeps no state between our tests)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        executable = Path(sys.executable).with_name("localstripe")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "localstripe"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--from-scratch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def localstripe_server():
    server = LocalStripeProcess()
    yield server
    server.stop()


# -- configs -----------------------------------------------------------------------------


def api_key_config(url: str, **extra: Any) -> Dict[str, Any]:
    return {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": url, **extra}


def paragon_config(proxy: ParagonEmulator, **extra: Any) -> Dict[str, Any]:
    credentials = {
        "auth_type": "paragon",
        "project_id": proxy.project_id,
        "user_token": PARAGON_TOKEN,
        "proxy_host": proxy.url,
    }
    return {"credentials": credentials, **extra}


def pinkconnect_config(proxy: PinkConnectEmulator, **extra: Any) -> Dict[str, Any]:
    credentials = {"auth_type": "pinkconnect", "proxy_url": proxy.base_url(), "token": PINK_TOKEN, "extra_headers": PINK_HEADERS}
    return {"credentials": credentials, **extra}


SECRETS = (API_KEY, PARAGON_TOKEN, PINK_TOKEN, PINK_HEADERS["X-Connection-Id"])


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a secret leaked into the output"


# -- catalogs and messages ---------------------------------------------------------------


def catalog_dict(streams: Sequence[str], mode: str = "append") -> Dict[str, Any]:
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


def record(stream: str, data: Mapping[str, Any]) -> Dict[str, Any]:
    return {"type": "RECORD", "record": {"stream": stream, "data": dict(data), "emitted_at": 1_700_000_000_000}}


def state(marker: Any) -> Dict[str, Any]:
    return {"type": "STATE", "state": {"type": "LEGACY", "data": {"marker": marker}}}


def customers(count: int, *, start: int = 0, **overrides: Any) -> List[Dict[str, Any]]:
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


def products(count: int, *, start: int = 0) -> List[Dict[str, Any]]:
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


def input_messages(batches: Iterable[Tuple[str, Iterable[Mapping[str, Any]]]], state_every: int = 10) -> List[Dict[str, Any]]:
    """Records of each (stream, rows) in order, with a STATE after every ``state_every`` records."""
    out: List[Dict[str, Any]] = []
    count = 0
    for stream, rows in batches:
        for row in rows:
            out.append(record(stream, row))
            count += 1
            if count % state_every == 0:
                out.append(state(count))
    out.append(state("end"))
    return out


# -- running -----------------------------------------------------------------------------


def fast_destination() -> DestinationStripeProxy:
    return DestinationStripeProxy(
        # the emulator has no search limit to honour
        client_factory=lambda settings: StripeClient(settings, backoff_base_seconds=0.01, endpoint_limits={}),
    )


class WriteResult:
    def __init__(self, messages: List[Dict[str, Any]], summary: Optional[Dict[str, Any]], error: Optional[BaseException] = None):
        self.messages = messages
        self.summary = summary
        self.error = error

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def logs(self, level: Optional[str] = None) -> List[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if level is None or m["log"]["level"] == level]

    def rejections(self) -> List[Dict[str, Any]]:
        """The JSON details of every rejection report."""
        return [json.loads(text.rsplit(" | ", 1)[1]) for text in self.logs("ERROR") if text.startswith("Rejected ")]

    def total(self, kind: str) -> int:
        return self.summary["total"][kind]

    def stream(self, name: str) -> Dict[str, int]:
        return self.summary["streams"][name]


def write(
    config: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    streams: Sequence[str] = ("customers", "products"),
    mode: str = "append",
    destination: Optional[DestinationStripeProxy] = None,
) -> WriteResult:
    """Run ``write`` in-process; the summary comes from its ANALYTICS trace."""
    destination = destination or fast_destination()
    loaded = [AirbyteMessageSerializer.load(m) for m in messages]
    out: List[Dict[str, Any]] = []
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


def posts(server) -> List[Dict[str, Any]]:
    return [r for r in server.requests if r["method"] == "POST"]


def by_external_id(objects: Iterable[Mapping[str, Any]]) -> Dict[str, List[Mapping[str, Any]]]:
    out: Dict[str, List[Mapping[str, Any]]] = {}
    for obj in objects:
        key = (obj.get("metadata") or {}).get("external_id")
        if key:
            out.setdefault(key, []).append(obj)
    return out


def message_json(message: AirbyteMessage) -> Dict[str, Any]:
    return AirbyteMessageSerializer.dump(message)

