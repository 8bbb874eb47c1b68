import pytest

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import ConnectionSettings, parse_start_date, safe_base_url

API_KEY = "sk_test_unitSECRETkey123"


def settings(**overrides):
    config = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}}
    config.update(overrides)
    return ConnectionSettings.from_config(config)


def test_api_key_mode_url_headers_and_test_mode_budget():
    s = settings()
    assert s.base_url == "https://api.stripe.com"
    assert s.headers()["Authorization"] == f"Bearer {API_KEY}"
    assert s.headers()["Stripe-Version"] == "2024-06-20"
    assert "Stripe-Account" not in s.headers()
    assert s.requests_per_second == 25


def test_live_key_defaults_to_live_budget_and_override_wins():
    live = ConnectionSettings.from_config({"credentials": {"auth_type": "api_key", "api_key": "rk_live_abc"}})
    assert live.requests_per_second == 100
    assert settings(requests_per_second=7).requests_per_second == 7


def test_paragon_mode_builds_proxy_prefix():
    s = ConnectionSettings.from_config({"credentials": {"auth_type": "paragon", "project_id": "proj 1", "user_token": "jwt.token.value"}})
    assert s.base_url == "https://proxy.useparagon.com/projects/proj%201/sdk/proxy/stripe"
    assert s.headers()["Authorization"] == "Bearer jwt.token.value"
    assert s.requests_per_second == 25


def test_paragon_on_premise_host_and_integration_type():
    s = ConnectionSettings.from_config(
        {
            "credentials": {
                "auth_type": "paragon",
                "project_id": "p",
                "user_token": "t",
                "proxy_host": "https://worker-proxy.example.com/",
                "integration_type": "custom.stripe",
            }
        }
    )
    assert s.base_url == "https://worker-proxy.example.com/projects/p/sdk/proxy/custom.stripe"


def test_pinkconnect_mode_with_extra_headers_and_account():
    s = ConnectionSettings.from_config(
        {
            "credentials": {
                "auth_type": "pinkconnect",
                "proxy_url": "https://pink.example/stripe/",
                "token": "pink-secret",
                "extra_headers": {"X-Connection-Id": "conn-secret"},
            },
            "account_id": "acct_123",
        }
    )
    headers = s.headers()
    assert s.base_url == "https://pink.example/stripe"
    assert headers["Authorization"] == "Bearer pink-secret"
    assert headers["X-Connection-Id"] == "conn-secret"
    assert headers["Stripe-Account"] == "acct_123"
    assert set(s.secrets) == {"pink-secret", "conn-secret"}


@pytest.mark.parametrize(
    "config, field",
    [
        ({}, "credentials"),
        ({"credentials": {"auth_type": "oauth"}}, "auth_type"),
        ({"credentials": {"auth_type": "api_key"}}, "credentials.api_key"),
        ({"credentials": {"auth_type": "api_key", "api_key": "pk_test_x"}}, "credentials.api_key"),
        ({"credentials": {"auth_type": "paragon", "user_token": "t"}}, "credentials.project_id"),
        ({"credentials": {"auth_type": "pinkconnect", "proxy_url": "https://p", "token": 5}}, "credentials.token"),
        (
            {"credentials": {"auth_type": "pinkconnect", "proxy_url": "https://p", "token": "t", "extra_headers": {"Authorization": "x"}}},
            "extra_headers",
        ),
        ({"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "account_id": "cus_1"}, "account_id"),
        ({"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "requests_per_second": 0}, "requests_per_second"),
        ({"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": "3"}, "max_retries"),
    ],
)
def test_bad_configs_name_the_field_and_never_echo_secrets(config, field):
    with pytest.raises(ConfigError) as raised:
        ConnectionSettings.from_config(config)
    message = str(raised.value)
    assert field in message
    assert API_KEY not in message and "conn-secret" not in message
    assert raised.value.failure_type.value == "config_error"


@pytest.mark.parametrize(
    "url",
    ["http://api.stripe.com", "http://10.0.0.5:8080", "ftp://x", "https://user:pw@host", "https://h/?token=1", "", None],
)
def test_unsafe_urls_are_refused(url):
    with pytest.raises(ConfigError):
        safe_base_url(url, "api_base")


@pytest.mark.parametrize("url", ["https://api.stripe.com", "http://localhost:8420", "http://127.0.0.1:1/x", "http://[::1]:9"])
def test_https_and_loopback_http_are_allowed(url):
    assert safe_base_url(url, "api_base") == url.rstrip("/")


def test_redact_replaces_secret_values():
    assert settings().scrub(f"key {API_KEY} leaked") == "key **** leaked"


@pytest.mark.parametrize(
    "value, expected",
    [("2024-01-01", 1704067200), ("2024-01-01T00:00:00Z", 1704067200), ("2024-01-01T01:00:00+01:00", 1704067200), (None, None)],
)
def test_start_date_parsing(value, expected):
    assert parse_start_date(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", 20240101, "1900-01-01"])
def test_bad_start_date_is_a_config_error(value):
    with pytest.raises(ConfigError, match="start_date"):
        parse_start_date(value)
