"""Stripe's per-endpoint rate limit, end to end: our client against the emulator's endpoint limit.

* A client told it may send more than the endpoint allows (an account whose limits are lower
  than configured) gets 429s with reason endpoint-rate, reads every record anyway, blames only
  that endpoint, and slows it: the next read draws fewer 429s.
* A client whose per-endpoint budget is under the limit never draws a 429, although its global
  budget is far higher and two endpoints together exceed one endpoint's limit.

The client's budgets and the emulator's limit share one ``SteppedClock``: seconds pass only
when the client waits, so a busy machine can't change what is sent. The tests assert on what
was sent, in what order and at which (shared-clock) time, and on what the budgets learned.
"""

import itertools
import logging

import pytest
import requests

from integration_tests.harness import API_KEY, SteppedClock
from source_stripe_proxy.core import client as client_module
from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.settings import ConnectionSettings
from stripe_emulator import StripeEmulator

LIMIT = 10  # the emulator's requests/s per endpoint
PAGES = 15  # more than a second's worth at the limit


class RecordingSession(requests.Session):
    """Every request the client sends, as (shared-clock time, path, status)."""

    def __init__(self, clock: SteppedClock):
        super().__init__()
        self.trust_env = False
        self.clock = clock
        self.sent: list[tuple[float, str, int]] = []

    def request(self, method, url, *args, **kwargs):
        at = self.clock.now()
        response = super().request(method, url, *args, **kwargs)
        self.sent.append((at, requests.utils.urlparse(url).path.rsplit("/v1/", 1)[-1], response.status_code))
        return response


def stepped_client(config, clock: SteppedClock, **kwargs) -> StripeClient:
    settings = ConnectionSettings.from_config(config)
    budget = RequestBudget(settings.requests_per_second, clock=clock.now, sleep=clock.sleep)
    return StripeClient(settings, budget=budget, sleep=clock.sleep, session=RecordingSession(clock), **kwargs)


def read_ids(client, path):
    return sorted(o["id"] for o in client.list_objects(path, page_size=2))


def most_in_one_second(times):
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


@pytest.mark.parametrize("mode, jitter", [("api_key", "shortest"), ("api_key", "longest"), ("pinkconnect", "longest")])
def test_an_endpoint_429_is_retried_slows_only_that_endpoint_and_is_learned(mode, jitter, connection_configs, caplog, monkeypatch):
    # The retry backoff's random jitter, pinned to either end of its range: what follows holds for both.
    monkeypatch.setattr(client_module.random, "uniform", (lambda low, high: low) if jitter == "shortest" else (lambda low, high: high))
    configured = 4 * LIMIT
    clock = SteppedClock()
    with StripeEmulator(api_key=API_KEY, endpoint_rate_limit=LIMIT, seed=11, monotonic=clock.now) as emulator:
        ids = sorted(emulator.store.bulk_add("customers", PAGES * 2))
        config = connection_configs(mode, emulator, requests_per_second=200, endpoint_requests_per_second=configured)
        client = stepped_client(config, clock, backoff_base_seconds=0.05)
        sent = client._session.sent

        with caplog.at_level(logging.INFO, logger="airbyte.source_stripe_proxy"):
            assert read_ids(client, "/v1/customers") == ids  # every record, despite the 429s
        first = emulator.endpoint_rate_limited
        assert first > 0 and emulator.rate_limited == 0
        assert [status for _, _, status in sent].count(429) == first  # each 429 the emulator sent reached us
        assert [status for _, _, status in sent].count(200) == PAGES  # and each page was fetched once
        assert "HTTP 429 (endpoint-rate)" in caplog.text  # the reason reached us (through the proxy too)
        # The client went faster than the limit only until the first 429: it sent LIMIT requests in
        # the first second, then waited (the pause is the budget's, on the shared clock).
        assert [status for _, _, status in sent[: LIMIT + 1]] == [200] * LIMIT + [429]
        # Only that endpoint was blamed: the global budget and other endpoints keep their rates.
        assert client.budget.rate == 200 and client.budget.limit_estimate is None
        assert client.rate_for("GET", "/v1/products") == configured
        assert client.rate_for("GET", "/v1/customers") < 0.6 * configured
        if mode != "api_key":
            return  # the rest is the same through a proxy; keep the run short

        # The same client remembers: the next read starts at the learned rate, slows further if it
        # must, and draws no more 429s than the first.
        learned = client.rate_for("GET", "/v1/customers")
        read_started = len(sent)
        assert read_ids(client, "/v1/customers") == ids
        assert emulator.endpoint_rate_limited - first <= first
        assert client.rate_for("GET", "/v1/customers") <= learned
        assert client.rate_for("GET", "/v1/customers") < 1.3 * LIMIT
        second_read = [at for at, _, _ in sent[read_started:]]
        assert most_in_one_second(second_read) <= 1.3 * LIMIT  # what it sent, not what it says


def test_a_per_endpoint_budget_under_the_limit_never_draws_a_429(connection_configs):
    clock = SteppedClock()
    with StripeEmulator(api_key=API_KEY, endpoint_rate_limit=LIMIT, seed=12, monotonic=clock.now) as emulator:
        customers = sorted(emulator.store.bulk_add("customers", PAGES * 2))
        products = sorted(emulator.store.bulk_add("products", PAGES * 2))
        config = connection_configs("api_key", emulator, requests_per_second=200, endpoint_requests_per_second=0.9 * LIMIT)
        client = stepped_client(config, clock)
        # Two endpoints page by page, side by side: ~18 requests/s in all, 9/s on each endpoint.
        pages = zip(client.list_pages("/v1/customers", page_size=2), client.list_pages("/v1/products", page_size=2), strict=True)
        seen = [o["id"] for o in itertools.chain.from_iterable(c["data"] + p["data"] for c, p in pages)]
        assert sorted(seen) == sorted(customers + products)
        assert emulator.endpoint_rate_limited == 0 and client.retry_count == 0
        assert client.request_count == 2 * PAGES
        sent = client._session.sent
        assert [path for _, path, _ in sent] == ["customers", "products"] * PAGES  # side by side, in turn
        for path in ("customers", "products"):
            times = [at for at, sent_path, _ in sent if sent_path == path]
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert min(gaps) == pytest.approx(1 / (0.9 * LIMIT))  # each endpoint at 0.9 x its limit
        assert most_in_one_second([at for at, _, _ in sent]) > 1.5 * LIMIT  # together: far over one endpoint's limit
