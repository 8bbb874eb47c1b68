import pytest
import requests

from source_stripe_proxy.core.budget import PROBE_AFTER_SECONDS, RequestBudget
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import (
    APIServerError,
    AuthenticationError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    StripeProxyError,
    TransientError,
)
from source_stripe_proxy.core.forms import encode_form
from source_stripe_proxy.core.settings import ConnectionSettings

API_KEY = "sk_test_clientSECRET42"
STRIPE = "https://api.stripe.com"

MODES = {
    "api_key": ({"auth_type": "api_key", "api_key": API_KEY}, STRIPE, API_KEY),
    "paragon": (
        {"auth_type": "paragon", "project_id": "proj_9", "user_token": "paragon-jwt-secret"},
        "https://proxy.useparagon.com/projects/proj_9/sdk/proxy/stripe",
        "paragon-jwt-secret",
    ),
    "pinkconnect": (
        {
            "auth_type": "pinkconnect",
            "proxy_url": "https://pink.example/api",
            "token": "pink-secret",
            "extra_headers": {"X-Tenant": "t-secret"},
        },
        "https://pink.example/api",
        "pink-secret",
    ),
}


class FakeSleep:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def make_client(credentials=None, sleep=None, **config):
    settings = ConnectionSettings.from_config({"credentials": credentials or MODES["api_key"][0], **config})
    sleeper = sleep or FakeSleep()
    budget = RequestBudget(10_000, sleep=sleeper)
    return StripeClient(settings, budget=budget, backoff_base_seconds=0.01, sleep=sleeper)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_sends_to_its_url_with_its_bearer(requests_mock, mode):
    credentials, base, token = MODES[mode]
    requests_mock.get(f"{base}/v1/customers", json={"object": "list", "data": [], "has_more": False})
    make_client(credentials, account_id="acct_42").get("/v1/customers", {"limit": 1})
    sent = requests_mock.last_request
    assert sent.url == f"{base}/v1/customers?limit=1"
    assert sent.headers["Authorization"] == f"Bearer {token}"
    assert sent.headers["Stripe-Version"] == "2024-06-20"
    assert sent.headers["Stripe-Account"] == "acct_42"
    if mode == "pinkconnect":
        assert sent.headers["X-Tenant"] == "t-secret"
    assert token not in sent.url  # secrets never travel in the query string


def test_form_encoding_follows_stripes_bracket_rules():
    pairs = encode_form(
        {
            "email": "a@b.co",
            "metadata": {"plan": "gold", "n": 3},
            "items": [{"price": "price_1", "quantity": 2}],
            "expand": ["data.customer", "data.items"],
            "active": False,
            "description": None,
            "tax_id_data": [],
        }
    )
    assert pairs == [
        ("email", "a@b.co"),
        ("metadata[plan]", "gold"),
        ("metadata[n]", "3"),
        ("items[0][price]", "price_1"),
        ("items[0][quantity]", "2"),
        ("expand[]", "data.customer"),
        ("expand[]", "data.items"),
        ("active", "false"),
        ("tax_id_data", ""),
    ]


def test_post_is_form_urlencoded_and_keeps_one_idempotency_key_across_retries(requests_mock):
    requests_mock.post(
        f"{STRIPE}/v1/customers",
        [{"status_code": 500, "json": {"error": {"type": "api_error", "message": "boom"}}}, {"json": {"id": "cus_1"}}],
    )
    client = make_client()
    assert client.post("/v1/customers", {"name": "Jo Doe", "metadata": {"k": "v"}}) == {"id": "cus_1"}
    first, second = requests_mock.request_history
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert first.body == "name=Jo+Doe&metadata%5Bk%5D=v"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_explicit_idempotency_key_is_sent(requests_mock):
    requests_mock.post(f"{STRIPE}/v1/products", json={"id": "prod_1"})
    make_client().post("/v1/products", {"name": "x"}, idempotency_key="key-123")
    assert requests_mock.last_request.headers["Idempotency-Key"] == "key-123"


def test_pagination_follows_starting_after_until_has_more_is_false(requests_mock):
    pages = {
        None: {"object": "list", "data": [{"id": "c3"}, {"id": "c2"}], "has_more": True},
        "c2": {"object": "list", "data": [{"id": "c1"}], "has_more": False},
    }

    def answer(request, context):
        return pages[request.qs.get("starting_after", [None])[0]]

    requests_mock.get(f"{STRIPE}/v1/customers", json=answer)
    ids = [o["id"] for o in make_client().list_objects("/v1/customers", {"created": {"gte": 5}}, page_size=2)]
    assert ids == ["c3", "c2", "c1"]
    queries = [r.qs for r in requests_mock.request_history]
    assert queries[0] == {"created[gte]": ["5"], "limit": ["2"]}
    assert queries[1]["starting_after"] == ["c2"]
    assert len(queries) == 2  # no page requested twice


def test_pagination_refuses_a_cursor_that_does_not_advance(requests_mock):
    requests_mock.get(f"{STRIPE}/v1/customers", json={"object": "list", "data": [{"id": "same"}], "has_more": True})
    with pytest.raises(StripeProxyError, match="did not advance"):
        list(make_client().list_objects("/v1/customers"))


def test_retry_policy_429_with_retry_after_500_reset_then_success(requests_mock):
    sleep = FakeSleep()
    requests_mock.get(
        f"{STRIPE}/v1/customers",
        [
            {
                "status_code": 429,
                "headers": {"Retry-After": "2"},
                "json": {"error": {"type": "invalid_request_error", "code": "rate_limit"}},
            },
            {"status_code": 500, "json": {"error": {"type": "api_error", "message": "oops"}}},
            {"exc": requests.exceptions.ConnectionError("connection reset by peer")},
            {"exc": requests.exceptions.ChunkedEncodingError("connection cut mid-body")},
            {"text": '{"object": "list", "data": [{"id": "c'},  # truncated body
            {"json": {"object": "list", "data": [], "has_more": False}},
        ],
    )
    client = make_client(sleep=sleep)
    assert client.get("/v1/customers")["data"] == []
    assert client.request_count == 6 and client.retry_count == 5
    assert any(abs(s - 2.0) < 0.05 for s in sleep.calls)  # Retry-After honoured, via the shared pause


def test_429_pauses_the_shared_budget_for_every_caller(requests_mock):
    clock = [100.0]
    budget = RequestBudget(1000, clock=lambda: clock[0], sleep=lambda s: None)
    settings = ConnectionSettings.from_config({"credentials": MODES["api_key"][0]})
    client = StripeClient(settings, budget=budget, sleep=lambda s: None)
    requests_mock.get(f"{STRIPE}/v1/customers", [{"status_code": 429, "headers": {"Retry-After": "3"}}, {"json": {"data": []}}])
    client.get("/v1/customers")
    # Another worker asking now must wait until the pause is over.
    assert budget.acquire() == pytest.approx(3.0, abs=0.01)


def test_stripe_should_retry_false_is_not_retried(requests_mock):
    requests_mock.post(
        f"{STRIPE}/v1/customers",
        status_code=500,
        headers={"Stripe-Should-Retry": "false"},
        json={"error": {"type": "api_error", "message": "do not retry"}},
    )
    with pytest.raises(APIServerError):
        make_client().post("/v1/customers", {"name": "x"})
    assert requests_mock.call_count == 1


def test_retries_are_bounded_and_end_as_transient(requests_mock):
    requests_mock.get(f"{STRIPE}/v1/customers", exc=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(TransientError) as raised:
        make_client(max_retries=2).get("/v1/customers")
    assert requests_mock.call_count == 3
    assert raised.value.failure_type.value == "transient_error"


def test_stripe_error_body_becomes_typed_error_with_stripes_fields(requests_mock):
    requests_mock.get(
        f"{STRIPE}/v1/customers",
        status_code=400,
        headers={"Request-Id": "req_1"},
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "parameter_unknown",
                "param": "bogus",
                "message": "Received unknown parameter: bogus",
            }
        },
    )
    with pytest.raises(InvalidRequestError) as raised:
        make_client().get("/v1/customers", {"bogus": 1})
    error = raised.value
    assert (error.http_status, error.error_type, error.code, error.param) == (400, "invalid_request_error", "parameter_unknown", "bogus")
    assert error.request_id == "req_1"
    assert "Received unknown parameter: bogus" in str(error)
    assert error.to_dict()["error"]["param"] == "bogus"
    assert requests_mock.call_count == 1  # a 400 is not retried


def test_a_declined_card_keeps_stripes_decline_fields_and_ids(requests_mock):
    intent = {"id": "pi_1", "object": "payment_intent", "status": "requires_payment_method", "amount": 500}
    requests_mock.post(
        f"{STRIPE}/v1/payment_intents/pi_1/confirm",
        status_code=402,
        json={
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "charge": "ch_1",
                "payment_intent": intent,
                "payment_method": {"id": "pm_1", "object": "payment_method"},
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card has insufficient funds.",
                "unknown_field": {"deep": "value"},
            }
        },
    )
    with pytest.raises(InvalidRequestError) as raised:
        make_client().post("/v1/payment_intents/pi_1/confirm", {})
    error = raised.value.to_dict()["error"]
    assert error == {
        "type": "card_error",
        "message": "Your card has insufficient funds.",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "payment_method": "pm_1",
        "http_status": 402,
    }


def test_idempotency_error_has_its_own_class(requests_mock):
    requests_mock.post(
        f"{STRIPE}/v1/customers",
        status_code=400,
        json={"error": {"type": "idempotency_error", "message": "Keys for idempotent requests..."}},
    )
    with pytest.raises(IdempotencyError):
        make_client().post("/v1/customers", {"name": "x"}, idempotency_key="k")


@pytest.mark.parametrize("mode", MODES)
def test_401_is_a_config_error_that_names_the_field_and_hides_the_secret(requests_mock, mode):
    credentials, base, token = MODES[mode]
    masked = f"Invalid API Key provided: {API_KEY[:8]}****{API_KEY[-4:]} ({token})"
    requests_mock.get(f"{base}/v1/customers", status_code=401, json={"error": {"type": "invalid_request_error", "message": masked}})
    with pytest.raises(AuthenticationError) as raised:
        make_client(credentials).get("/v1/customers")
    error = raised.value
    assert error.failure_type.value == "config_error"
    text = " ".join(str(x) for x in (error, error.message, error.internal_message, error.stripe_message, error.to_dict()))
    assert token not in text and API_KEY not in text
    assert "credentials.api_key" in str(error) or "Reconnect" in str(error)
    assert requests_mock.call_count == 1


def test_proxy_own_401_names_the_proxy_token_field(requests_mock):
    credentials, base, _token = MODES["paragon"]
    requests_mock.get(f"{base}/v1/customers", status_code=401, json={"message": "Unauthorized"})
    with pytest.raises(AuthenticationError, match=r"credentials\.user_token"):
        make_client(credentials).get("/v1/customers")


def test_403_is_a_config_error_about_permissions(requests_mock):
    requests_mock.get(
        f"{STRIPE}/v1/plans",
        status_code=403,
        json={
            "error": {
                "type": "invalid_request_error",
                "message": "The provided key 'rk_test_abc***' does not have the required permissions",
            }
        },
    )
    with pytest.raises(PermissionDeniedError) as raised:
        make_client().get("/v1/plans")
    assert raised.value.failure_type.value == "config_error"
    assert "permission" in str(raised.value)
    assert "rk_test_abc" not in str(raised.value)


def test_proxy_html_error_page_is_reported_not_crashing(requests_mock):
    credentials, base, _ = MODES["pinkconnect"]
    requests_mock.get(f"{base}/v1/customers", status_code=502, headers={"Content-Type": "text/html"}, text="<html>Bad gateway</html>")
    with pytest.raises(APIServerError, match="HTML error page"):
        make_client(credentials, max_retries=1).get("/v1/customers")
    assert requests_mock.call_count == 2  # 502 is retried


def test_paths_must_be_stripe_v1_paths():
    with pytest.raises(ValueError, match="Stripe paths start with /v1/, got 'customers'"):
        make_client().get("customers")


def test_budget_settles_just_below_a_steady_limit_instead_of_oscillating():
    """Simulate a server that allows 20 req/s while we are configured for 25."""
    clock = [0.0]
    budget = RequestBudget(25, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    window, rates, limited_after_warmup = [], [], 0
    for _ in range(8000):
        budget.acquire()
        now = clock[0]
        window = [t for t in window if t > now - 1.0] + [now]
        if len(window) > 20:
            budget.rate_limited(None)
            limited_after_warmup += now > 30
        else:
            budget.succeeded()
        if now > 30:
            rates.append(budget.rate)
    assert budget.limit_estimate is not None and budget.limit_estimate <= 21
    # settled: mostly at 95% of the limit, with rare probes above it after quiet periods
    steady = sorted(rates)[len(rates) // 10 : -len(rates) // 10]
    assert min(steady) >= 18.5 and max(steady) <= 20
    assert limited_after_warmup / len(rates) < 0.01
    served = 8000 / clock[0]
    assert 17.5 <= served <= 20.5


def _fake_budget(rate):
    clock = [0.0]
    budget = RequestBudget(rate, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    return budget, clock


def test_429s_of_requests_sent_before_a_slowdown_count_once():
    """Requests in flight when the first 429 arrives were sent at the old rate: their 429s,
    arriving up to a latency later, must not take the rate down a second time."""
    budget, clock = _fake_budget(100)
    sent = [budget.now() + n * 0.01 for n in range(30)]  # 30 requests in flight, 10 ms apart
    clock[0] = 0.3
    budget.rate_limited(None, sent_at=sent[0])
    assert budget.rate == pytest.approx(80) and budget.limit_estimate == 100
    for at, sent_at in zip(range(1, 30), sent[1:], strict=True):  # the rest of the burst, 20 ms apart
        clock[0] = 0.3 + at * 0.02
        budget.rate_limited(None, sent_at=sent_at)
    assert budget.rate == pytest.approx(80) and budget.limit_estimate == 100
    for _ in range(100):
        budget.succeeded()
    assert budget.rate == pytest.approx(95)  # settled at 95% of the rate that drew the 429


def test_a_429_of_a_request_sent_after_the_slowdown_lowers_the_estimate():
    budget, clock = _fake_budget(100)
    clock[0] = 1.0
    budget.rate_limited(None, sent_at=0.9)
    clock[0] = 2.0
    budget.rate_limited(None, sent_at=1.5)  # went out at 80: 80 is too fast too
    assert budget.limit_estimate == pytest.approx(80) and budget.rate == pytest.approx(64)


def test_a_settled_budget_probes_back_up_after_a_quiet_period():
    budget, clock = _fake_budget(100)
    budget.rate_limited(None)
    for _ in range(50):
        budget.succeeded()
    assert budget.rate == pytest.approx(95)
    clock[0] += PROBE_AFTER_SECONDS / 2
    budget.succeeded()
    assert budget.limit_estimate == 100  # not yet
    clock[0] += PROBE_AFTER_SECONDS
    for _ in range(10):
        budget.succeeded()
    assert budget.limit_estimate is None and budget.rate == pytest.approx(100)  # a 429 at the configured rate is forgotten


def test_budget_spaces_requests_evenly():
    clock = [0.0]
    budget = RequestBudget(10, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    for _ in range(50):
        budget.acquire()
    assert clock[0] == pytest.approx(4.9)
