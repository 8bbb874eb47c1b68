"""Every fixture of the integration tests (plain helpers are in ``harness.py``).

Servers run on loopback only; the proxy emulators inject the upstream Stripe key, so the
connector never holds it in the proxy modes, just as in production.

| fixture | scope | what |
|---|---|---|
| ``localstripe`` | session | localstripe (PyPI), shared by every test: tests use unique data |
| ``empty_localstripe`` | module | a localstripe of the module's own, starting empty |
| ``stripe_emulator`` | test | our Stripe emulator, empty |
| ``paragon_proxy``, ``pinkconnect_proxy`` | test | the proxy emulators in front of ``stripe_emulator`` |
| ``seeded_emulator`` | module | a Stripe emulator with the seed's balance transactions (the actions' upstream) |
| ``localstripe_upstream``, ``emulator_upstream`` | module | an upstream with both proxies in front, and each mode's environment variables |
| ``connection_configs`` | module | ``make(mode, upstream, **extra)``: a source config reaching ``upstream`` in that mode |
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

from integration_tests.harness import (
    API_KEY,
    LocalStripe,
    Upstream,
    paragon_config,
    paragon_in_front_of,
    pinkconnect_config,
    pinkconnect_in_front_of,
)
from stripe_emulator import StripeEmulator


@pytest.fixture(scope="session")
def localstripe():
    with LocalStripe() as server:
        yield server


@pytest.fixture(scope="module")
def empty_localstripe():
    with LocalStripe() as server:
        yield server


@pytest.fixture
def stripe_emulator():
    with StripeEmulator(api_key=API_KEY) as emulator:
        yield emulator


@pytest.fixture
def paragon_proxy(stripe_emulator):
    with paragon_in_front_of(stripe_emulator.url) as proxy:
        yield proxy


@pytest.fixture
def pinkconnect_proxy(stripe_emulator):
    with pinkconnect_in_front_of(stripe_emulator.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def seeded_emulator():
    with StripeEmulator(api_key=API_KEY) as server:
        # The seed's balance transactions: localstripe cannot create these, so they are stored directly.
        server.store.add("balance_transactions", {"amount": 10000, "description": "Payout", "type": "payment"})
        server.store.add(
            "balance_transactions",
            {"amount": -5000, "description": "Refund", "type": "refund", "status": "pending", "reporting_category": "refund"},
        )
        yield server


@pytest.fixture(scope="module")
def localstripe_upstream(empty_localstripe):
    upstream = Upstream("localstripe", empty_localstripe.url)
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def emulator_upstream(seeded_emulator):
    upstream = Upstream("emulator", seeded_emulator.url)
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def connection_configs():
    """``make(mode, upstream, **extra)`` -> a source config reaching ``upstream`` in that mode.

    ``upstream`` is anything with a ``url`` (localstripe or a StripeEmulator). Proxy emulators
    are started on first use and stopped with the module.
    """
    stack = ExitStack()
    proxies = {}

    def make(mode, upstream, **extra):
        if mode == "api_key":
            credentials = {"auth_type": "api_key", "api_key": getattr(upstream, "api_key", API_KEY)}
            return {"credentials": credentials, "api_base": upstream.url, **extra}
        key = (mode, upstream.url)
        if key not in proxies:
            start = paragon_in_front_of if mode == "paragon" else pinkconnect_in_front_of
            proxies[key] = stack.enter_context(start(upstream.url))
        proxy = proxies[key]
        return paragon_config(proxy, **extra) if mode == "paragon" else pinkconnect_config(proxy, **extra)

    make.proxies = proxies
    with stack:
        yield make


def pytest_collection_modifyitems(config, items):
    """`slow` volume runs are skipped unless selected: `-m slow` (bash scripts/test.sh -m slow) or RUN_SLOW=1."""
    if "slow" in (config.getoption("-m") or "") or os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow volume run: bash scripts/test.sh -m slow (or RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
