"""Hostile configs: every bad field gets a ConfigError (config_error) that names the field and
never echoes its value; a config that is accepted can actually be sent (no request-time crash).
Hypothesis fuzzes the spec-valid space and arbitrary JSON in every field."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from source_stripe_proxy.core.errors import ConfigError, FailureType
from source_stripe_proxy.core.settings import ConnectionSettings, parse_start_date
from source_stripe_proxy.source.options import read_options

KEY = "sk_test_HOSTILEsecret42"
TOKEN = "tok-HOSTILE-secret-43"
HEADER_VALUE = "hdr-HOSTILE-secret-44"


def api(**extra):
    return {"credentials": {"auth_type": "api_key", "api_key": KEY}, **extra}


def pink(**credentials):
    base = {"auth_type": "pinkconnect", "proxy_url": "https://proxy.example.com/stripe", "token": TOKEN}
    return {"credentials": {**base, **credentials}}


def validate(config):
    """What every command does first: settings, read options, and the headers it would send."""
    settings = ConnectionSettings.from_config(config)
    read_options(config)
    request = requests.Request("GET", settings.base_url + "/v1/customers", headers=settings.headers()).prepare()
    for header in request.headers.items():
        requests.utils.check_header_validity(header)
    return settings


def refused(config):
    with pytest.raises(ConfigError) as info:
        validate(config)
    error = info.value
    assert error.failure_type == FailureType.config_error
    assert "Traceback" not in error.message and "\n" not in error.message
    for secret in (KEY, TOKEN, HEADER_VALUE):
        assert secret not in error.message
    return error.message


@pytest.mark.parametrize(
    "config, field",
    [
        ({}, "credentials"),
        ({"credentials": "sk_test_x"}, "credentials"),
        ({"credentials": {"auth_type": "oauth2", "api_key": KEY}}, "credentials.auth_type"),
        ({"credentials": {"auth_type": 7}}, "credentials.auth_type"),
        ({"credentials": {"auth_type": "api_key"}}, "credentials.api_key"),
        ({"credentials": {"auth_type": "api_key", "api_key": 12345}}, "credentials.api_key"),
        ({"credentials": {"auth_type": "api_key", "api_key": "pk_test_abc"}}, "credentials.api_key"),
        ({"credentials": {"auth_type": "paragon", "user_token": TOKEN}}, "credentials.project_id"),
        ({"credentials": {"auth_type": "paragon", "project_id": "p"}}, "credentials.user_token"),
        ({"credentials": {"auth_type": "pinkconnect", "token": TOKEN}}, "credentials.proxy_url"),
        (api(api_base="http://api.example.com"), "api_base"),
        (api(api_base="https://user:pass@api.example.com"), "api_base"),
        (api(api_base="ftp://api.example.com"), "api_base"),
        (api(api_base="https://api.example.com:99999"), "api_base"),
        (api(api_base="https://api.example.com/?x=1"), "api_base"),
        (api(api_base="https://api.example.com#"), "api_base"),  # fixed: "/v1/..." became a fragment
        (api(api_base="http://["), "api_base"),  # fixed: urlsplit's ValueError escaped
        (api(api_base="https://\u2100.com"), "api_base"),  # fixed: invalid under NFKC
        (api(api_base="https://exa mple.com"), "api_base"),
        (pink(proxy_url="http://10.0.0.8/stripe"), "credentials.proxy_url"),
        (pink(proxy_url=f"https://{TOKEN}@proxy.example.com"), "credentials.proxy_url"),
        (api(page_size=10**9), "page_size"),
        (api(page_size="100"), "page_size"),
        (api(page_size=12.5), "page_size"),
        (api(page_size=-1), "page_size"),
        (api(start_date="yesterday"), "start_date"),
        (api(start_date=1700000000), "start_date"),
        (api(start_date="1969-12-31T00:00:00Z"), "start_date"),
        (api(start_date="2999-01-01T00:00:00Z"), "start_date"),  # fixed: was read as "nothing to read"
        (api(start_date="9999-12-31T23:59:59-23:59"), "start_date"),  # fixed: past year 9999 in UTC
        (api(lookback_window_days=-3), "lookback_window_days"),
        (api(slice_range_days=-1), "slice_range_days"),
        (api(requests_per_second="fast"), "requests_per_second"),
        (api(requests_per_second=float("inf")), "requests_per_second"),
        (api(requests_per_second=1e-300), "requests_per_second"),  # fixed: the budget would sleep forever
        (api(request_timeout_seconds=0), "request_timeout_seconds"),
        (api(max_retries=2.7), "max_retries"),  # fixed: was silently truncated to 2
        (api(max_retries=-1), "max_retries"),
        (api(stripe_version=2024), "stripe_version"),
        (api(stripe_version="2024-06-20\r\nX-Injected: 1"), "stripe_version"),  # fixed: crashed at request time
        (api(account_id="cus_123"), "account_id"),
        (api(account_id="acct_1\r\nX-Injected: 1"), "account_id"),  # fixed: crashed at request time
        (pink(extra_headers=["X-A"]), "credentials.extra_headers"),
        (pink(extra_headers={"X-A": 5}), "credentials.extra_headers"),
        (pink(extra_headers={"Authorization": HEADER_VALUE}), "credentials.extra_headers"),
        (pink(extra_headers={"Bad Name:": HEADER_VALUE}), "credentials.extra_headers"),  # fixed: crashed at request time
        (pink(extra_headers={"X-A": " " + HEADER_VALUE}), "credentials.extra_headers"),  # fixed: requests echoed the value
        (pink(extra_headers={"X-A": HEADER_VALUE + "\n"}), "credentials.extra_headers"),
        ([], "config"),
    ],
)
def test_each_bad_field_gets_a_config_error_naming_it(config, field):
    message = refused(config)
    assert field.split(".")[-1] in message or (field == "config" and "config" in message)


def test_the_error_never_echoes_a_bad_value():
    for config in (api(api_base=f"https://{KEY}@x.example.com"), pink(extra_headers={"Bad Name": HEADER_VALUE})):
        assert KEY not in refused(config) and HEADER_VALUE not in refused(config)


def test_a_start_date_of_today_in_any_timezone_is_accepted():
    today = time.strftime("%Y-%m-%dT%H:%M:%S+14:00", time.gmtime(time.time() + 14 * 3600))
    assert parse_start_date(today) <= time.time() + 1


def test_account_ids_with_junk_is_refused_naming_the_field():
    spec = yaml.safe_load(resources.files("source_stripe_proxy.source").joinpath("spec.yaml").read_text())
    if "account_ids" not in spec["connectionSpecification"]["properties"]:
        pytest.xfail("'account_ids' is not in spec.yaml/settings yet (being added with events/change capture)")
    for junk in (["junk", 5], "acct_1,,x", [None], {"acct_1": True}):
        message = refused(api(account_ids=junk))
        assert "account_ids" in message


@pytest.mark.parametrize("field", ["page_size", "concurrency", "slice_range_days"])
def test_zero_is_refused_not_replaced_by_the_default(field):
    assert field in refused(api(**{field: 0}))


# -- fuzzing ------------------------------------------------------------------------------

SPEC = yaml.safe_load(resources.files("source_stripe_proxy.source").joinpath("spec.yaml").read_text())["connectionSpecification"]
text = st.text(min_size=0, max_size=30)


def _prop(schema):
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**40)), schema.get("maximum", 2**40))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1e9))
        return st.floats(low, schema.get("maximum", 1e9), exclude_min="exclusiveMinimum" in schema, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(text, max_size=3)
    if kind == "object":
        return st.dictionaries(text, text, max_size=2)
    return text


@st.composite
def spec_valid_configs(draw):
    mode = draw(st.sampled_from(SPEC["properties"]["credentials"]["oneOf"]))
    credentials = {}
    for name, schema in mode["properties"].items():
        if "const" in schema:
            credentials[name] = schema["const"]
        elif name in mode["required"] or draw(st.booleans()):
            if name in ("proxy_url", "proxy_host"):
                credentials[name] = draw(st.sampled_from(["https://proxy.example.com", "http://127.0.0.1:9", "https://x.example/a"]) | text)
            elif name == "api_key":
                credentials[name] = draw(st.sampled_from(["sk_test_", "rk_live_", "sk_"])) + draw(text)
            elif name == "extra_headers":
                credentials[name] = draw(st.dictionaries(text, text, max_size=2))
            else:
                credentials[name] = draw(text)
    config = {"credentials": credentials}
    for name, schema in SPEC["properties"].items():
        if name != "credentials" and draw(st.booleans()):
            if name == "start_date":
                config[name] = draw(st.datetimes().map(lambda d: d.isoformat()) | text)
            elif name == "api_base":
                config[name] = draw(st.sampled_from(["https://api.stripe.com", "http://localhost:12111"]) | text)
            else:
                config[name] = draw(_prop(schema))
    return config


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _accepted_or_refused_cleanly(config):
    try:
        validate(config)
    except ConfigError as error:
        assert error.failure_type == FailureType.config_error
        assert "'" in error.message, "the message names a field"
        assert "Traceback" not in error.message
        credentials = config.get("credentials") if isinstance(config, dict) else None
        if isinstance(credentials, dict):
            headers = credentials.get("extra_headers") if isinstance(credentials.get("extra_headers"), dict) else {}
            values = [credentials.get(k) for k in ("api_key", "user_token", "token")] + list(headers.values())
            for secret in (v for v in values if isinstance(v, str) and len(v.strip()) >= 16):
                assert secret not in error.message, "a secret value was echoed"


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_valid_configs())
def test_fuzz_spec_valid_configs_are_accepted_or_refused_cleanly(config):
    _accepted_or_refused_cleanly(config)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SPEC["properties"])), json_values, st.sampled_from(["api_key", "pinkconnect"]))
def test_fuzz_any_json_in_any_field(field, value, mode):
    config = api() if mode == "api_key" else pink()
    if field == "credentials":
        config["credentials"] = value
    else:
        config[field] = value
    _accepted_or_refused_cleanly(json.loads(json.dumps(config, allow_nan=True)))


@hsettings(max_examples=200, deadline=None)
@given(st.sampled_from(["auth_type", "api_key", "proxy_url", "token", "extra_headers", "project_id"]), json_values)
def test_fuzz_any_json_in_any_credentials_field(field, value):
    config = pink() if field in ("proxy_url", "token", "extra_headers") else api()
    config["credentials"][field] = value
    _accepted_or_refused_cleanly(config)
