"""Stripe's per-endpoint rate limit: one budget per (method, path template, account), under the global one."""

import itertools

import pytest

from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.endpoints import compile_templates, endpoint_template, match_template
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import ConnectionSettings

API_KEY = "sk_live_endpointSECRET99"
STRIPE = "https://api.stripe.com"
LIST = {"object": "list", "data": [], "has_more": False}


# -- which endpoint a path belongs to ------------------------------------------------


@pytest.mark.parametrize(
    "path, template",
    [
        ("/v1/customers", "/v1/customers"),
        ("/v1/customers/cus_123", "/v1/customers/{customer}"),
        ("/v1/customers/search", "/v1/customers/search"),  # a literal beats {customer}
        ("/v1/customers/cus_1/sources/card_2", "/v1/customers/{customer}/sources/{id}"),
        ("/v1/subscription_items/si_1/usage_record_summaries", "/v1/subscription_items/{subscription_item}/usage_record_summaries"),
        ("/v1/invoices/in_9/lines", "/v1/invoices/{invoice}/lines"),
        ("/v1/invoices/upcoming", "/v1/invoices/upcoming"),
        ("/v1/payment_intents/pi_1/confirm", "/v1/payment_intents/{intent}/confirm"),
        ("/v1/customers/cus_123?expand[]=x", "/v1/customers/{customer}"),
        ("/v1/not_a_stripe_thing/x_1", "/v1/not_a_stripe_thing/x_1"),  # unknown: its own endpoint
        ("/v1/customers/", "/v1/customers/"),  # an empty segment is no id
    ],
)
def test_a_concrete_path_maps_to_its_openapi_template(path, template):
    assert endpoint_template(path) == template


def test_a_literal_that_leads_nowhere_falls_back_to_the_parameter():
    root = compile_templates(["/a/{x}/c", "/a/b/d"])
    assert match_template(root, "/a/b/c") == "/a/{x}/c"
    assert match_template(root, "/a/b/d") == "/a/b/d"
    assert match_template(root, "/a/z/d") == "/a/z/d"


# -- settings -------------------------------------------------------------------------


def settings(**config):
    return ConnectionSettings.from_config({"credentials": {"auth_type": "api_key", "api_key": API_KEY}, **config})


def test_endpoint_budget_defaults_to_stripes_25_and_can_be_raised():
    assert settings().endpoint_requests_per_second == 25
    assert settings(endpoint_requests_per_second=60).endpoint_requests_per_second == 60
    assert settings(endpoint_requests_per_second=None).endpoint_requests_per_second == 25


@pytest.mark.parametrize("value", ["fast", 0, -5, float("inf"), float("nan"), 1e-300, 20_000, True, [25]])
def test_a_bad_endpoint_budget_is_refused_naming_the_field_not_the_value(value):
    with pytest.raises(ConfigError) as raised:
        settings(endpoint_requests_per_second=value)
    message = str(raised.value)
    assert "endpoint_requests_per_second" in message
    assert API_KEY not in message and "fast" not in message and "20000" not in message and "1e-300" not in message
    assert raised.value.failure_type.value == "config_error"


# -- budgets through the client, on a fake clock ------------------------------------------


class Clock:
    """Fake time; ``sleep`` advances it unless frozen (frozen: callers that arrive at the same moment)."""

    def __init__(self, frozen=False):
        self.now = 1000.0
        self.frozen = frozen
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        if not self.frozen:
            self.now += seconds


def make_client(clock, requests_per_second=100, **config):
    budget = RequestBudget(requests_per_second, clock=clock, sleep=clock.sleep)
    return StripeClient(settings(**config), budget=budget, sleep=clock.sleep, backoff_base_seconds=0.01)


def sent_times(requests_mock, clock, url):
    times = []

    def answer(request, context):
        times.append(clock.now)
        return LIST

    requests_mock.get(url, json=answer)
    return times


def gaps(times):
    return [b - a for a, b in itertools.pairwise(times)]


def test_two_endpoints_get_25_per_second_each_under_a_global_100(requests_mock):
    clock = Clock()
    client = make_client(clock)
    customers = sent_times(requests_mock, clock, f"{STRIPE}/v1/customers")
    products = sent_times(requests_mock, clock, f"{STRIPE}/v1/products")
    for _ in range(50):
        client.get("/v1/customers")
        client.get("/v1/products")
    assert min(gaps(customers)) == pytest.approx(0.04) and min(gaps(products)) == pytest.approx(0.04)
    # Side by side, not one after the other: 50 each take ~2 s, as 25/s each allows.
    assert clock.now - 1000.0 == pytest.approx(49 * 0.04 + 0.01, abs=0.02)


def test_one_endpoint_never_exceeds_its_limit_whatever_the_ids(requests_mock):
    clock = Clock()
    client = make_client(clock)
    times = []

    def answer(request, context):
        times.append(clock.now)
        return {"id": "cus"}

    for i in range(60):
        requests_mock.get(f"{STRIPE}/v1/customers/cus_{i}", json=answer)
    for i in range(60):
        client.get(f"/v1/customers/cus_{i}")  # different ids, one endpoint
    assert min(gaps(times)) == pytest.approx(0.04)
    assert max(sum(1 for t in times if start <= t < start + 1.0 - 1e-9) for start in times) == 25


def test_each_connected_account_has_its_own_endpoint_budget(requests_mock):
    clock = Clock()
    client = make_client(clock)
    times = sent_times(requests_mock, clock, f"{STRIPE}/v1/customers")
    for _ in range(20):
        client.get("/v1/customers", account_id="acct_A")
        client.get("/v1/customers", account_id="acct_B")
    assert clock.now - 1000.0 == pytest.approx(19 * 0.04 + 0.01, abs=0.02)
    assert len(times) == 40


def test_a_raised_endpoint_limit_is_capped_at_the_global_budget(requests_mock):
    clock = Clock()
    assert make_client(clock, endpoint_requests_per_second=500).rate_for("GET", "/v1/customers") == 100
    assert make_client(clock, endpoint_requests_per_second=60).rate_for("GET", "/v1/customers") == 60
    assert make_client(clock, requests_per_second=10).rate_for("GET", "/v1/customers") == 10
    # Without an injected budget the config's requests_per_second is the global budget.
    assert StripeClient(settings(requests_per_second=12)).rate_for("POST", "/v1/customers") == 12


def _limited_once(requests_mock, reason, retry_after="2"):
    headers = {"Retry-After": retry_after}
    if reason:
        headers["Stripe-Rate-Limited-Reason"] = reason
    error = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
    requests_mock.get(f"{STRIPE}/v1/customers", [{"status_code": 429, "headers": headers, "json": error}, {"json": LIST}])
    requests_mock.get(f"{STRIPE}/v1/products", json=LIST)


def test_an_endpoint_rate_429_slows_only_that_endpoint(requests_mock):
    clock = Clock(frozen=True)  # every call below arrives at the same moment
    client = make_client(clock)
    _limited_once(requests_mock, "endpoint-rate")
    client.get("/v1/customers")
    assert any(s == pytest.approx(2.0) for s in clock.slept)  # the retry waited for Retry-After
    assert client.rate_for("GET", "/v1/customers") == pytest.approx(20, abs=0.5)  # 80% of 25, one success back up
    assert client.rate_for("GET", "/v1/products") == 25 and client.budget.rate == 100
    clock.slept.clear()
    client.get("/v1/products")  # another endpoint goes right away
    assert sum(clock.slept) < 0.05
    clock.slept.clear()
    client.get("/v1/customers")  # the limited one is still paused
    assert sum(clock.slept) >= 2.0


@pytest.mark.parametrize("reason", ["global-rate", "global-concurrency", "resource-specific", None])
def test_any_other_429_pauses_everyone(requests_mock, reason):
    clock = Clock(frozen=True)
    client = make_client(clock)
    _limited_once(requests_mock, reason)
    client.get("/v1/customers")
    assert client.budget.rate == pytest.approx(80, abs=1.5)  # 80% of 100, one success back up
    assert client.rate_for("GET", "/v1/customers") == 25  # the endpoint itself was not blamed
    clock.slept.clear()
    client.get("/v1/products")  # another endpoint waits out the pause too
    assert sum(clock.slept) >= 2.0


def test_an_endpoint_concurrency_429_also_stays_with_the_endpoint(requests_mock):
    clock = Clock(frozen=True)
    client = make_client(clock)
    _limited_once(requests_mock, "endpoint-concurrency")
    client.get("/v1/customers")
    assert client.budget.rate == 100 and client.rate_for("GET", "/v1/customers") < 25


def test_requests_held_back_by_the_global_budget_do_not_then_burst_on_their_endpoint(requests_mock):
    clock = Clock()
    client = make_client(clock)
    times = sent_times(requests_mock, clock, f"{STRIPE}/v1/customers")
    client.budget.pause(1.0)  # e.g. a global 429 elsewhere
    for _ in range(6):
        client.get("/v1/customers")
    assert times[0] == pytest.approx(1001.0)
    assert min(gaps(times)) == pytest.approx(0.04)  # not 0.01, the global spacing


def test_waiting_on_an_endpoint_holds_no_global_slot(requests_mock):
    clock = Clock()
    client = make_client(clock)
    customers = sent_times(requests_mock, clock, f"{STRIPE}/v1/customers")
    products = sent_times(requests_mock, clock, f"{STRIPE}/v1/products")
    client.get("/v1/customers")
    client.get("/v1/customers")  # waited 0.04 on its endpoint...
    client.get("/v1/products")  # ...and left the global slots in between free for others
    assert customers == [1000.0, pytest.approx(1000.04)]
    assert products == [pytest.approx(1000.05)]


def test_search_endpoints_get_stripes_20_per_second_below_the_endpoint_default(requests_mock):
    clock = Clock()
    client = make_client(clock, requests_per_second=25)  # endpoint default 25/s; Search allows 20/s
    times = sent_times(requests_mock, clock, f"{STRIPE}/v1/customers/search")
    for _ in range(21):
        client.get("/v1/customers/search", {"query": "metadata['k']:'v'"})
    assert min(gaps(times)) == pytest.approx(0.05)
    assert times[-1] - times[0] == pytest.approx(1.0)


def test_rate_for_uses_the_configured_account_when_none_is_given(requests_mock):
    clock = Clock(frozen=True)
    client = make_client(clock, account_id="acct_1Default")
    _limited_once(requests_mock, "endpoint-rate")
    client.get("/v1/customers")  # sent with the config's Stripe-Account
    assert requests_mock.request_history[0].headers["Stripe-Account"] == "acct_1Default"
    assert client.rate_for("GET", "/v1/customers", None) < 21
    assert client.rate_for("GET", "/v1/customers", "acct_1Default") < 21
    assert client.rate_for("GET", "/v1/customers", "acct_1Other") == 25
    assert client.rate_for("get", "/v1/customers/cus_9") == 25  # another endpoint: the detail GET


def test_a_filled_path_keeps_each_value_in_its_own_segment():
    from source_stripe_proxy.core.endpoints import fill_path

    template = "/v1/customers/{customer}/balance_transactions/{transaction}"
    assert fill_path(template, {"customer": "cus_1", "transaction": "cbtxn_2"}) == "/v1/customers/cus_1/balance_transactions/cbtxn_2"
    assert fill_path(template, {"customer": "cus_1/../../v1/charges?x=1"}) == (
        "/v1/customers/cus_1%2F..%2F..%2Fv1%2Fcharges%3Fx%3D1/balance_transactions/{transaction}"
    )
