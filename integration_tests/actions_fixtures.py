"""Fixtures and data for the actions' integration tests.

* ``SEED_EXAMPLES``: every example of the seed document (../shared/seed/stripe-connection.txt):
  the call in its block form and the example response, copied verbatim. Ids of the seed
  (cus_1234567890, prod_1234567890, price_1234567890) are replaced by real ids at run time.
* Upstreams: localstripe (the PyPI fake, as a subprocess) and our ``StripeEmulator``.
* Connection modes: direct (``STRIPE_API_KEY``), Paragon and PinkConnect (our proxy emulators
  in front of either upstream), each as the environment variables a user would set.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import pytest

from source_stripe_proxy.actions.cli import main
from stripe_emulator import ParagonEmulator, PinkConnectEmulator, StripeEmulator

API_KEY = "sk_test_actionsITsecretKEY"  # never expected in any output
PARAGON_TOKEN = "paragon-actions-secret-token"
PINK_TOKEN = "pink-actions-secret-token"
PINK_HEADERS = {"X-Connection-Id": "conn-actions-secret"}
SECRETS = (API_KEY, PARAGON_TOKEN, PINK_TOKEN, PINK_HEADERS["X-Connection-Id"])
MODES = ("api_key", "paragon", "pinkconnect")
SEED_IDS = ("cus_1234567890", "prod_1234567890", "price_1234567890")

# name -> (the call as the seed writes it, the seed's example response)
SEED_EXAMPLES: Dict[str, Tuple[str, Any]] = {
    "create customer": (
        """/your-stripe-connection
action: create
entity: customer
email: customer@example.com
name: John Doe
description: New customer for subscription service""",
        {"id": "cus_1234567890", "object": "customer", "email": "customer@example.com", "name": "John Doe",
         "description": "New customer for subscription service"},
    ),
    "update customer": (
        """/your-stripe-connection
action: update
entity: customer
customer_id: cus_1234567890
name: Jane Doe
description: Updated customer information""",
        {"id": "cus_1234567890", "object": "customer", "email": "customer@example.com", "name": "Jane Doe",
         "description": "Updated customer information"},
    ),
    "get customer": (
        """/your-stripe-connection
action: get
entity: customer
customer_id: cus_1234567890""",
        {"id": "cus_1234567890", "object": "customer", "email": "customer@example.com", "name": "Jane Doe",
         "description": "Updated customer information"},
    ),
    "list customers": (
        """/your-stripe-connection
action: list
entity: customers
limit: 10""",
        {"object": "list", "data": [
            {"id": "cus_1234567890", "object": "customer", "email": "customer1@example.com", "name": "Customer One"},
            {"id": "cus_0987654321", "object": "customer", "email": "customer2@example.com", "name": "Customer Two"}]},
    ),
    "create subscription": (
        """/your-stripe-connection
action: create
entity: subscription
customer_id: cus_1234567890
price_id: price_1234567890
trial_period_days: 14""",
        {"id": "sub_1234567890", "object": "subscription", "customer": "cus_1234567890", "status": "active",
         "items": {"object": "list", "data": [
             {"id": "si_1234567890", "object": "subscription_item",
              "price": {"id": "price_1234567890", "object": "price", "product": "prod_1234567890"}}]}},
    ),
    "list subscriptions": (
        """/your-stripe-connection
action: list
entity: subscriptions
customer_id: cus_1234567890
status: active""",
        {"object": "list", "data": [
            {"id": "sub_1234567890", "object": "subscription", "customer": "cus_1234567890", "status": "active"},
            {"id": "sub_0987654321", "object": "subscription", "customer": "cus_0987654321", "status": "canceled"}]},
    ),
    "create product": (
        """/your-stripe-connection
action: create
entity: product
name: Premium Plan
description: Access to all premium features
active: true""",
        {"id": "prod_1234567890", "object": "product", "name": "Premium Plan",
         "description": "Access to all premium features", "active": True},
    ),
    "get product": (
        """/your-stripe-connection
action: get
entity: product
product_id: prod_1234567890""",
        {"id": "prod_1234567890", "object": "product", "name": "Premium Plan",
         "description": "Access to all premium features", "active": True},
    ),
    "list products": (
        """/your-stripe-connection
action: list
entity: products
active: true
limit: 10""",
        {"object": "list", "data": [
            {"id": "prod_1234567890", "object": "product", "name": "Premium Plan",
             "description": "Access to all premium features", "active": True},
            {"id": "prod_0987654321", "object": "product", "name": "Basic Plan",
             "description": "Access to basic features", "active": True}]},
    ),
    "list balance transactions": (
        """/your-stripe-connection
action: list
entity: balance_transactions
type: payment
limit: 10""",
        {"object": "list", "data": [
            {"id": "txn_1234567890", "object": "balance_transaction", "amount": 10000, "currency": "usd",
             "description": "Payout", "status": "available", "type": "payment"},
            {"id": "txn_0987654321", "object": "balance_transaction", "amount": -5000, "currency": "usd",
             "description": "Refund", "status": "pending", "type": "refund"}]},
    ),
    "list plans": (
        """/your-stripe-connection
action: list
entity: plans
product_id: prod_1234567890
active: true""",
        {"object": "list", "data": [
            {"id": "plan_1234567890", "object": "plan", "amount": 1000, "currency": "usd", "interval": "month",
             "product": "prod_1234567890", "active": True},
            {"id": "plan_0987654321", "object": "plan", "amount": 5000, "currency": "usd", "interval": "year",
             "product": "prod_0987654321", "active": True}]},
    ),
}


def with_ids(block: str, ids: Mapping[str, str]) -> str:
    for seed_id, real_id in ids.items():
        block = block.replace(seed_id, real_id)
    return block


def assert_same_shape(expected: Any, actual: Any, where: str = "$") -> None:
    """The seed's keys are all present, with the same `object` wherever the seed names one."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {type(actual).__name__}"
        missing = set(expected) - set(actual)
        assert not missing, f"{where}: keys {sorted(missing)} missing from {sorted(actual)}"
        if "object" in expected:
            assert actual["object"] == expected["object"], f"{where}.object"
        for key, value in expected.items():
            if isinstance(value, (dict, list)):
                assert_same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected:
        assert isinstance(actual, list) and actual, f"{where}: expected a non-empty list"
        for index, item in enumerate(actual):
            assert_same_shape(expected[0], item, f"{where}[{index}]")


# -- running the command line in-process (the console script's own main) -----------------------


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def cli(env: Mapping[str, str], *args: str, block: str = "") -> Tuple[int, Any, str]:
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


# -- upstreams and proxies ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripeProcess:
    """localstripe as a subprocess on a free loopback port, with an empty store."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        self._workdir = tempfile.TemporaryDirectory(prefix="localstripe-actions-")

    def start(self) -> "LocalStripeProcess":
        executable = Path(sys.executable).with_name("localstripe")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "localstripe"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--from-scratch"],
            cwd=self._workdir.name, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("localstripe did not start listening within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._workdir.cleanup()


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripeProcess]:
    server = LocalStripeProcess().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(api_key=API_KEY) as server:
        # The seed's balance transactions: localstripe cannot create these, so they are stored directly.
        server.store.add("balance_transactions", {"amount": 10000, "description": "Payout", "type": "payment"})
        server.store.add("balance_transactions", {"amount": -5000, "description": "Refund", "type": "refund",
                                                  "status": "pending", "reporting_category": "refund"})
        yield server


class Upstream:
    """One upstream Stripe (localstripe or the emulator) with both proxies in front of it."""

    def __init__(self, name: str, url: str):
        self.name, self.url = name, url
        self.paragon = ParagonEmulator(url, API_KEY, project_id="proj_actions", user_token=PARAGON_TOKEN).start()
        self.pink = PinkConnectEmulator(url, API_KEY, token=PINK_TOKEN, required_headers=PINK_HEADERS).start()

    def env(self, mode: str) -> Dict[str, str]:
        """The environment variables a user sets for this connection mode (see docs/actions.md)."""
        if mode == "api_key":
            return {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": self.url}
        if mode == "paragon":
            return {"PARAGON_PROJECT_ID": "proj_actions", "PARAGON_USER_TOKEN": PARAGON_TOKEN,
                    "PARAGON_PROXY_HOST": self.paragon.url}
        return {"PINKCONNECT_PROXY_URL": self.pink.url, "PINKCONNECT_TOKEN": PINK_TOKEN,
                "PINKCONNECT_EXTRA_HEADERS": json.dumps(PINK_HEADERS)}

    def stop(self) -> None:
        self.paragon.stop()
        self.pink.stop()


@pytest.fixture(scope="module")
def localstripe_upstream(localstripe) -> Iterator[Upstream]:
    upstream = Upstream("localstripe", localstripe.url)
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def emulator_upstream(emulator) -> Iterator[Upstream]:
    upstream = Upstream("emulator", emulator.url)
    yield upstream
    upstream.stop()


def subprocess_env(extra: Mapping[str, str]) -> Dict[str, str]:
    """A clean environment for the real console script: no inherited Stripe/proxy variables."""
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(extra)
    return env


CONSOLE_SCRIPT = str(Path(sys.executable).with_name("stripe-connection"))
