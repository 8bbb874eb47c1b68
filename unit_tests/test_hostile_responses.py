"""Hostile Stripe (or proxy) responses: extra fields, missing optional fields, nulls, HTML
pages and broken list objects. None of them crash the connector; errors are reported as
Airbyte errors that say what came back."""

from __future__ import annotations

import pytest
import requests_mock as rm
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.test.entrypoint_wrapper import read

from integration_tests.harness import configured_catalog
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import StripeProxyError, TransientError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.source.connector import SourceStripeProxy

BASE = "https://api.stripe.test"
CONFIG = {
    "credentials": {"auth_type": "api_key", "api_key": "sk_test_RESPONSESsecret"},
    "api_base": BASE,
    "max_retries": 1,
    "concurrency": 1,
}
HTML = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"


def run(body=None, *, status=200, headers=None, text=None, stream="customers"):
    catalog = ConfiguredAirbyteCatalogSerializer.load(configured_catalog([stream]))
    with rm.Mocker() as mock:
        kwargs = {"status_code": status, "headers": headers or {}}
        if text is not None:
            kwargs["text"] = text
        else:
            kwargs["json"] = body
        mock.get(f"{BASE}/v1/{stream}", **kwargs)
        output = read(SourceStripeProxy(), CONFIG, catalog)
    return output, mock


def page(*objects, has_more=False):
    return {"object": "list", "url": "/v1/customers", "has_more": has_more, "data": list(objects)}


def test_unexpected_extra_fields_missing_optional_fields_and_nulls_pass_through():
    objects = [
        {"id": "cus_1", "object": "customer", "created": 1700000002, "email": None, "brand_new_field": {"x": [1, 2]}},
        {"id": "cus_2", "object": "customer", "created": 1700000001},  # most fields missing
        {"id": "cus_3", "object": "customer", "created": None, "metadata": None, "address": None},
    ]
    output, _ = run(page(*objects))
    assert [r.record.data["id"] for r in output.records] == ["cus_1", "cus_2", "cus_3"]
    assert output.records[0].record.data["brand_new_field"] == {"x": [1, 2]}
    assert not output.errors


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "data": None, "has_more": False},
        {"object": "list", "has_more": True},
        {"unexpected": "shape"},
        ["a", "list"],
    ],
)
def test_a_response_that_is_not_a_list_object_fails_the_stream_with_a_clear_error(body):
    output, _ = run(body)
    assert not output.records
    messages = [e.trace.error.message for e in output.errors]
    assert messages and any("did not return a Stripe list object" in m for m in messages), messages


@pytest.mark.parametrize("entry", [None, "cus_1", 5])
def test_a_list_entry_that_is_not_an_object_is_reported_clearly(entry):
    output, _ = run(page({"id": "cus_2", "object": "customer", "created": 1700000000}, entry))
    messages = [e.trace.error.message for e in output.errors]
    assert messages and all("AttributeError" not in m for m in messages)
    assert any("/v1/customers" in m for m in messages), messages


def test_has_more_with_an_empty_page_ends_the_stream():
    output, mock = run(page(has_more=True))
    assert not output.errors and mock.call_count == 1


def test_an_html_error_page_from_a_proxy_is_retried_then_reported_as_html():
    output, mock = run(status=502, text=HTML, headers={"Content-Type": "text/html"})
    assert mock.call_count == 2  # max_retries 1
    messages = [e.trace.error.message for e in output.errors]
    assert any("HTML error page" in m for m in messages), messages
    assert all("<html" not in m for m in messages)
    assert output.errors[0].trace.error.failure_type.value == "transient_error"


def test_an_html_page_with_status_200_is_reported_as_html_not_as_a_cut_body():
    settings = ConnectionSettings.from_config(CONFIG)
    client = StripeClient(settings, backoff_base_seconds=0, sleep=lambda s: None)
    with rm.Mocker() as mock:
        mock.get(f"{BASE}/v1/customers", text=HTML, headers={"Content-Type": "text/html"})
        with pytest.raises(TransientError) as info:
            client.get("/v1/customers")
    assert mock.call_count == 2
    assert "HTML page instead of JSON" in info.value.message  # was: "an incomplete JSON body"
    assert "<html" not in info.value.message


def test_a_403_html_page_from_a_proxy_in_front_of_the_api_key_mode_is_not_read_as_empty():
    output, _ = run(status=403, text="<html>Forbidden</html>", headers={"Content-Type": "text/html"})
    assert not output.records
    errors = [e for e in output.errors if "customers" in e.trace.error.message]
    assert errors and all(e.trace.error.failure_type.value == "config_error" for e in errors)


def test_a_json_body_that_is_not_utf8_is_retried_and_reported():
    settings = ConnectionSettings.from_config(CONFIG)
    client = StripeClient(settings, backoff_base_seconds=0, sleep=lambda s: None)
    with rm.Mocker() as mock:
        mock.get(f"{BASE}/v1/customers", content=b'{"object": "list", "data": [{"id": "cus_\xff"}], "has_more": false}')
        with pytest.raises(StripeProxyError):
            client.get("/v1/customers")
    assert mock.call_count == 2
