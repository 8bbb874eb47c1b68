"""Stripe's per-endpoint rate limit, end to end: our client against the emulator's endpoint limit.

* A client told it may send more than the endpoint allows (an account whose limits are lower
  than configured) gets 429s with reason endpoint-rate, reads every record anyway, blames only
  that endpoint, and slows it: the next read draws fewer 429s.
* A client whose per-endpoint budget is under the limit never draws a 429, although its global
  budget is far higher and two endpoints together exceed one endpoint's limit.
"""

import itertools
import logging

import pytest

from integration_tests.conftest import UPSTREAM_KEY
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.settings import ConnectionSettings
from stripe_emulator import StripeEmulator

LIMIT = 10  # the emulator's requests/s per endpoint
PAGES = 15  # more than a second's worth at the limit


def read_ids(client, path):
    return sorted(o["id"] for o in client.list_objects(path, page_size=2))


@pytest.mark.parametrize("mode", ["api_key", "pinkconnect"])
def test_an_endpoint_429_is_retried_slows_only_that_endpoint_and_is_learned(mode, connection_configs, caplog):
    configured = 4 * LIMIT
    with StripeEmulator(api_key=UPSTREAM_KEY, endpoint_rate_limit=LIMIT, seed=11) as emulator:
        ids = sorted(emulator.store.bulk_add("customers", PAGES * 2))
        config = connection_configs(mode, emulator, requests_per_second=200, endpoint_requests_per_second=configured)
        client = StripeClient(ConnectionSettings.from_config(config), backoff_base_seconds=0.05)

        with caplog.at_level(logging.INFO, logger="airbyte.source_stripe_proxy"):
            assert read_ids(client, "/v1/customers") == ids  # every record, despite the 429s
        first = emulator.endpoint_rate_limited
        assert first > 0 and emulator.rate_limited == 0
        assert "HTTP 429 (endpoint-rate)" in caplog.text  # the reason reached us (through the proxy too)
        # Only that endpoint was blamed: the global budget and other endpoints keep their rates.
        assert client.budget.rate == 200
        assert client.rate_for("GET", "/v1/products") == configured
        assert client.rate_for("GET", "/v1/customers") < 0.6 * configured
        if mode != "api_key":
            return  # the rest is the same through a proxy; keep the run short

        # The same client remembers: the next read stays closer to the limit.
        assert read_ids(client, "/v1/customers") == ids
        assert emulator.endpoint_rate_limited - first < first
        assert client.rate_for("GET", "/v1/customers") < 1.3 * LIMIT


def test_a_per_endpoint_budget_under_the_limit_never_draws_a_429(connection_configs):
    with StripeEmulator(api_key=UPSTREAM_KEY, endpoint_rate_limit=LIMIT, seed=12) as emulator:
        customers = sorted(emulator.store.bulk_add("customers", PAGES * 2))
        products = sorted(emulator.store.bulk_add("products", PAGES * 2))
        config = connection_configs("api_key", emulator, requests_per_second=200, endpoint_requests_per_second=0.9 * LIMIT)
        client = StripeClient(ConnectionSettings.from_config(config))
        # Two endpoints page by page, side by side: ~18 requests/s in all, 9/s on each endpoint.
        pages = zip(client.list_pages("/v1/customers", page_size=2), client.list_pages("/v1/products", page_size=2))
        seen = [o["id"] for o in itertools.chain.from_iterable(c["data"] + p["data"] for c, p in pages)]
        assert sorted(seen) == sorted(customers + products)
        assert emulator.endpoint_rate_limited == 0 and client.retry_count == 0
        assert client.request_count == 2 * PAGES
