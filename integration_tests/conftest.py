"""Shared fixtures: localstripe, our Stripe emulator, and configs for every connection mode.

Configs point at loopback servers only; the proxy emulators inject the upstream Stripe key,
so the connector itself never holds it in the proxy modes, just as in production.
"""

from contextlib import ExitStack

import pytest

from integration_tests.harness import LocalStripe
from stripe_emulator import ParagonEmulator, PinkConnectEmulator, StripeEmulator

UPSTREAM_KEY = "sk_test_upstreamSECRETkey1"
PARAGON_TOKEN = "paragon-user-token-SECRET-2"
PINK_TOKEN = "pink-token-SECRET-3"
PINK_HEADER = {"X-Pink-Connection": "conn-SECRET-4"}
ALL_SECRETS = (UPSTREAM_KEY, PARAGON_TOKEN, PINK_TOKEN, *PINK_HEADER.values())


@pytest.fixture(scope="session")
def localstripe():
    with LocalStripe() as server:
        yield server


@pytest.fixture
def stripe_emulator():
    with StripeEmulator(api_key=UPSTREAM_KEY) as emulator:
        yield emulator


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
            credentials = {"auth_type": "api_key", "api_key": getattr(upstream, "api_key", UPSTREAM_KEY)}
            return {"credentials": credentials, "api_base": upstream.url, **extra}
        key = (mode, upstream.url)
        if key not in proxies:
            upstream_key = getattr(upstream, "api_key", UPSTREAM_KEY)
            if mode == "paragon":
                proxies[key] = stack.enter_context(ParagonEmulator(upstream.url, upstream_key, project_id="proj_test", user_token=PARAGON_TOKEN))
            else:
                proxies[key] = stack.enter_context(PinkConnectEmulator(upstream.url, upstream_key, token=PINK_TOKEN, required_headers=PINK_HEADER))
        proxy = proxies[key]
        if mode == "paragon":
            credentials = {"auth_type": "paragon", "project_id": "proj_test", "user_token": PARAGON_TOKEN, "proxy_host": proxy.url}
        else:
            credentials = {"auth_type": "pinkconnect", "proxy_url": proxy.url, "token": PINK_TOKEN, "extra_headers": dict(PINK_HEADER)}
        return {"credentials": credentials, **extra}

    make.proxies = proxies
    with stack:
        yield make


def pytest_collection_modifyitems(config, items):
    """`slow` volume runs are skipped unless selected: `-m slow` (bash scripts/test.sh -m slow) or RUN_SLOW=1."""
    import os

    if "slow" in (config.getoption("-m") or "") or os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow volume run: bash scripts/test.sh -m slow (or RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
