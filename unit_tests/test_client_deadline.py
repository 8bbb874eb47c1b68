"""The client's per-call deadline: a total across attempts, backoff sleeps and Retry-After waits.

A fake clock that only moves when the client sleeps: attempts and waits are counted, never timed.
"""

import pytest
import requests

from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import RateLimitError, TransientError
from source_stripe_proxy.core.settings import ConnectionSettings

STRIPE = "https://api.stripe.com"


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def client(clock, deadline, **config):
    settings = ConnectionSettings.from_config({"credentials": {"api_key": "sk_test_deadline"}, **config})
    budget = RequestBudget(10_000, clock=clock, sleep=clock.sleep)
    return StripeClient(settings, budget=budget, sleep=clock.sleep, clock=clock, call_deadline_seconds=deadline)


def test_a_call_that_keeps_failing_stops_at_its_deadline_not_after_every_retry(requests_mock):
    clock = FakeClock()
    requests_mock.get(f"{STRIPE}/v1/customers", exc=requests.ConnectionError("refused"))
    with pytest.raises(TransientError) as info:
        client(clock, deadline=15).get("/v1/customers")
    attempts = requests_mock.call_count
    assert 2 <= attempts < 9  # max_retries=8 would make 9 attempts
    assert clock.now - 1000.0 < 15  # never slept past the deadline
    assert "deadline is 15 s" in info.value.message and f"after {attempts} attempts" in info.value.message


def test_without_a_deadline_every_retry_is_made(requests_mock):
    clock = FakeClock()
    requests_mock.get(f"{STRIPE}/v1/customers", exc=requests.ConnectionError("refused"))
    with pytest.raises(TransientError) as info:
        client(clock, deadline=None).get("/v1/customers")
    assert requests_mock.call_count == 9
    assert "deadline" not in info.value.message


def test_a_retry_after_longer_than_the_time_left_is_not_waited_for(requests_mock):
    clock = FakeClock()
    requests_mock.get(
        f"{STRIPE}/v1/customers",
        status_code=429,
        headers={"Retry-After": "20"},
        json={"error": {"type": "invalid_request_error", "message": "Too many requests"}},
    )
    with pytest.raises(RateLimitError) as info:
        client(clock, deadline=15).get("/v1/customers")
    assert requests_mock.call_count == 1 and clock.sleeps == []
    assert getattr(info.value, "http_status", None) == 429


def test_a_call_that_heals_in_time_succeeds(requests_mock):
    clock = FakeClock()
    requests_mock.get(
        f"{STRIPE}/v1/customers",
        [
            {"exc": requests.ConnectionError("refused")},
            {"json": {"object": "list", "data": [], "has_more": False}},
        ],
    )
    assert client(clock, deadline=15).get("/v1/customers")["object"] == "list"
    assert requests_mock.call_count == 2


def test_each_attempt_gets_at_most_the_time_left(requests_mock):
    clock = FakeClock()
    timeouts = []

    def answer(request, context):
        timeouts.append(request.timeout)
        clock.now += 4  # each attempt takes 4 s before the connection fails
        raise requests.ConnectionError("refused")

    requests_mock.get(f"{STRIPE}/v1/customers", json=answer)
    with pytest.raises(TransientError):
        client(clock, deadline=10, request_timeout_seconds=60).get("/v1/customers")
    assert timeouts[0] == 10
    assert all(t <= 10 for t in timeouts) and timeouts[1] < 6
