"""The destination against localstripe, an independent Stripe fake from PyPI.

localstripe has no Search API and ignores Idempotency-Key, so it can't stand in for
external-id matching of customers or for replay; those run against our emulator. What it
does have is enough for: updates by Stripe id, customers matched by email (its list takes
``email=``), and products with caller-chosen (derived) ids.
"""

from __future__ import annotations

import uuid

import pytest

from integration_tests.harness import api_key_config, input_messages, write
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.destination.idempotency import derived_product_id

FAST = {"requests_per_second": 1000, "endpoint_requests_per_second": 1000}  # no limits to honour here


@pytest.fixture
def config(empty_localstripe):
    return api_key_config(empty_localstripe.url, **FAST)


@pytest.fixture
def client(config):
    return StripeClient(ConnectionSettings.from_config(config), backoff_base_seconds=0.01)


@pytest.fixture
def tag():
    """localstripe is shared by the module: unique emails and keys keep tests apart."""
    return uuid.uuid4().hex[:8]


def test_update_by_stripe_id(config, client, tag):
    seeded = [client.post("/v1/customers", {"email": f"{tag}-{i}@example.com", "name": f"Seed {i}"}) for i in range(3)]
    rows = [{"id": c["id"], "name": f"Renamed {i}", "metadata": {"src": "warehouse"}} for i, c in enumerate(seeded)]
    first = write(config, input_messages([("customers", rows)]), streams=["customers"])
    assert first.stream("customers")["updated"] == 3
    for i, c in enumerate(seeded):
        now = client.get(f"/v1/customers/{c['id']}")
        assert now["name"] == f"Renamed {i}" and now["metadata"] == {"src": "warehouse"} and now["email"] == c["email"]
    again = write(config, input_messages([("customers", rows)]), streams=["customers"])
    assert again.stream("customers")["unchanged"] == 3
    missing = write(config, input_messages([("customers", [{"id": "cus_doesnotexist", "name": "x"}])]), streams=["customers"])
    [report] = missing.rejections()
    assert report["error"]["http_status"] == 404 and report["error"]["type"] == "invalid_request_error"
    assert report["key"] == "id cus_doesnotexist"


def test_customers_matched_by_email(config, client, tag):
    by_email = dict(config, match_customers_by_email=True)
    existing = client.post("/v1/customers", {"email": f"{tag}-0@example.com", "name": "Existing"})
    rows = [{"email": f"{tag}-{i}@example.com", "name": f"Person {i}"} for i in range(4)]
    first = write(by_email, input_messages([("customers", rows)]), streams=["customers"])
    assert first.stream("customers")["updated"] == 1 and first.stream("customers")["created"] == 3
    assert client.get(f"/v1/customers/{existing['id']}")["name"] == "Person 0"
    again = write(by_email, input_messages([("customers", rows)]), streams=["customers"])
    assert again.stream("customers")["unchanged"] == 4
    listed = client.get("/v1/customers", {"email": f"{tag}-2@example.com"})["data"]
    assert len(listed) == 1  # no duplicate
    # Two customers share an email: an email-only record is ambiguous, and rejected.
    client.post("/v1/customers", {"email": f"{tag}-3@example.com", "name": "Twin"})
    ambiguous = write(by_email, input_messages([("customers", [rows[3]])]), streams=["customers"])
    assert ambiguous.rejections()[0]["error"]["code"] == "ambiguous_match"


def test_products_with_derived_ids(config, client, tag):
    rows = [{"external_id": f"{tag}-sku-{i}", "name": f"Thing {i}", "description": "d"} for i in range(4)]
    first = write(config, input_messages([("products", rows)]), streams=["products"])
    assert first.stream("products")["created"] == 4
    for row in rows:
        product = client.get(f"/v1/products/{derived_product_id(row['external_id'])}")
        assert product["name"] == row["name"] and product["metadata"]["external_id"] == row["external_id"]
    rows[0]["name"] = "Renamed"
    again = write(config, input_messages([("products", rows)]), streams=["products"])
    assert again.stream("products")["updated"] == 1 and again.stream("products")["unchanged"] == 3
    assert client.get(f"/v1/products/{derived_product_id(rows[0]['external_id'])}")["name"] == "Renamed"


def test_external_id_matching_needs_search_which_localstripe_lacks(config, tag):
    result = write(config, input_messages([("customers", [{"external_id": f"{tag}-c1", "name": "A"}])]), streams=["customers"])
    assert result.error is not None and result.error.failure_type.value == "config_error"
    assert "Search API is not available" in str(result.error)
