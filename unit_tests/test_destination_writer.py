"""Matching and writing (Stripe mocked with requests-mock), the protocol loop, spec and check."""

import io
import json
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from airbyte_cdk.models import AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, DestinationSyncMode, Status
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy import DestinationStripeProxy
from source_stripe_proxy.airbyte.entrypoints import run_destination
from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import ConfigError, StripeAPIError, StripeProxyError
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.destination.connector import WriteRun, validate_catalog
from source_stripe_proxy.destination.idempotency import derived_product_id, idempotency_key
from source_stripe_proxy.destination.mapping import map_record
from source_stripe_proxy.destination.options import WriterOptions
from source_stripe_proxy.destination.writer import (
    CREATED,
    REJECTED,
    UNCHANGED,
    UPDATED,
    Outcome,
    Position,
    RecordWriter,
    SearchUnavailableError,
)

API_KEY = "sk_test_destUNITsecret99"
BASE = "https://api.stripe.com"
CONFIG = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": 1}
POS = Position("customers", 1, 1)


def make_client(**config):
    settings = ConnectionSettings.from_config({**CONFIG, **config})
    return StripeClient(settings, budget=RequestBudget(10_000), backoff_base_seconds=0.001, sleep=lambda s: None, endpoint_limits={})


def make_writer(options=WriterOptions(), **config):
    return RecordWriter(make_client(**config), options)


def customer(oid="cus_1", created=100, **fields):
    base = {
        "id": oid,
        "object": "customer",
        "created": created,
        "email": None,
        "name": None,
        "description": None,
        "phone": None,
        "address": None,
        "metadata": {},
    }
    base.update(fields)
    return base


def search_result(*objects):
    return {"object": "search_result", "data": list(objects), "has_more": False}


def stripe_error(status, code, param=None, message="nope", type_="invalid_request_error"):
    error = {"type": type_, "code": code, "message": message}
    if param:
        error["param"] = param
    return {"status_code": status, "json": {"error": error}}


def form(request):
    return {k: v[0] for k, v in parse_qs(request.text or "").items()}


def query(request):
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


# -- customers by external id (search) ---------------------------------------------------


def test_new_customer_is_searched_then_created_with_a_deterministic_key(requests_mock):
    search = requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())
    create = requests_mock.post(f"{BASE}/v1/customers", json=customer("cus_new", name="Ada", metadata={"external_id": "k1"}))
    record = map_record("customers", {"external_id": "k1", "name": "Ada"}, WriterOptions())
    outcome = make_writer().write(record, POS)
    assert (outcome.kind, outcome.object_id, outcome.requests) == (CREATED, "cus_new", 2)
    assert query(search.last_request)["query"] == "metadata['external_id']:'k1'"
    assert form(create.last_request) == {"name": "Ada", "metadata[external_id]": "k1"}
    assert create.last_request.headers["Idempotency-Key"] == idempotency_key("customers", "create", ("external_id", "k1"), record.payload)


def test_found_customer_that_matches_is_unchanged_without_a_write(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result(customer(name="Ada", metadata={"external_id": "k1", "x": "y"})))
    post = requests_mock.post(f"{BASE}/v1/customers/cus_1", json={})
    outcome = make_writer().write(map_record("customers", {"external_id": "k1", "name": "Ada"}, WriterOptions()), POS)
    assert (outcome.kind, outcome.object_id, outcome.requests) == (UNCHANGED, "cus_1", 1)
    assert not post.called


def test_found_customer_that_differs_is_updated_with_a_key_of_payload_and_prior_state(requests_mock):
    found = customer(name="Old", metadata={"external_id": "k1"})
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result(found))
    update = requests_mock.post(f"{BASE}/v1/customers/cus_1", json=customer(name="Ada", metadata={"external_id": "k1"}))
    record = map_record("customers", {"external_id": "k1", "name": "Ada"}, WriterOptions())
    outcome = make_writer().write(record, POS)
    assert outcome.kind == UPDATED
    assert form(update.last_request) == {"name": "Ada", "metadata[external_id]": "k1"}
    expected = idempotency_key(
        "customers",
        "update",
        ("external_id", "k1"),
        record.payload,
        target_id="cus_1",
        before={"name": "Old", "metadata": {"external_id": "k1"}},
    )
    assert update.last_request.headers["Idempotency-Key"] == expected


def test_search_hits_without_the_exact_key_are_ignored_and_duplicates_use_the_oldest(requests_mock):
    fuzzy = customer("cus_fuzzy", metadata={"external_id": "K1"})  # Stripe's match is case-insensitive
    newer = customer("cus_newer", created=200, metadata={"external_id": "k1"})
    older = customer("cus_older", created=50, metadata={"external_id": "k1"})
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result(fuzzy, newer, older))
    outcome = make_writer().write(map_record("customers", {"external_id": "k1"}, WriterOptions()), POS)
    assert (outcome.kind, outcome.object_id) == (UNCHANGED, "cus_older")
    assert "2 objects carry this external id" in outcome.note


def test_in_run_cache_skips_the_lagging_search(requests_mock):
    search = requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())  # never sees the new one
    requests_mock.post(f"{BASE}/v1/customers", json=customer("cus_new", name="A", metadata={"external_id": "k1"}))
    update = requests_mock.post(f"{BASE}/v1/customers/cus_new", json=customer("cus_new", name="B", metadata={"external_id": "k1"}))
    writer = make_writer()
    assert writer.write(map_record("customers", {"external_id": "k1", "name": "A"}, WriterOptions()), POS).kind == CREATED
    assert writer.write(map_record("customers", {"external_id": "k1", "name": "A"}, WriterOptions()), POS).kind == UNCHANGED
    assert writer.write(map_record("customers", {"external_id": "k1", "name": "B"}, WriterOptions()), POS).kind == UPDATED
    assert search.call_count == 1 and update.call_count == 1


def test_a_create_replayed_from_an_earlier_run_counts_as_unchanged_after_a_fresh_look(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())
    requests_mock.post(
        f"{BASE}/v1/customers", json=customer("cus_old", name="A", metadata={"external_id": "k1"}), headers={"Idempotent-Replayed": "true"}
    )
    requests_mock.get(f"{BASE}/v1/customers/cus_old", json=customer("cus_old", name="A", metadata={"external_id": "k1"}))
    outcome = make_writer().write(map_record("customers", {"external_id": "k1", "name": "A"}, WriterOptions()), POS)
    assert (outcome.kind, outcome.object_id, outcome.requests) == (UNCHANGED, "cus_old", 3)


def test_a_replay_after_our_own_retry_is_still_created(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())
    requests_mock.post(
        f"{BASE}/v1/customers",
        [
            {"status_code": 500, "json": {"error": {"type": "api_error", "message": "x"}}},
            {"json": customer("cus_new", metadata={"external_id": "k1"}), "headers": {"Idempotent-Replayed": "true"}},
        ],
    )
    outcome = make_writer().write(map_record("customers", {"external_id": "k1"}, WriterOptions()), POS)
    assert outcome.kind == CREATED
    keys = {r.headers["Idempotency-Key"] for r in requests_mock.request_history if r.method == "POST"}
    assert len(keys) == 1  # the retry reused the key


def test_no_search_api_stops_the_run_with_a_config_error(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/search", **stripe_error(404, None, message="Unrecognized request URL"))
    with pytest.raises(SearchUnavailableError) as caught:
        make_writer().write(map_record("customers", {"external_id": "k1"}, WriterOptions()), POS)
    assert caught.value.failure_type.value == "config_error"


# -- customers by email ------------------------------------------------------------------

BY_EMAIL = WriterOptions(match_customers_by_email=True)


def test_email_only_record_matches_the_single_customer_with_that_email(requests_mock):
    listing = requests_mock.get(f"{BASE}/v1/customers", json={"object": "list", "data": [customer(email="a@b.co")], "has_more": False})
    update = requests_mock.post(f"{BASE}/v1/customers/cus_1", json=customer(email="a@b.co", name="Ada"))
    outcome = make_writer(BY_EMAIL).write(map_record("customers", {"email": "a@b.co", "name": "Ada"}, BY_EMAIL), POS)
    assert outcome.kind == UPDATED and update.called
    assert query(listing.last_request) == {"email": "a@b.co", "limit": "100"}


def test_email_only_record_with_several_matches_is_rejected_as_ambiguous(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers", json={"object": "list", "data": [customer("cus_1"), customer("cus_2")], "has_more": False})
    outcome = make_writer(BY_EMAIL).write(map_record("customers", {"email": "a@b.co"}, BY_EMAIL), POS)
    assert outcome.kind == REJECTED and outcome.error["code"] == "ambiguous_match" and outcome.error["param"] == "email"


def test_email_match_prefers_the_customer_carrying_the_external_id_and_skips_search(requests_mock):
    theirs = customer("cus_theirs", metadata={"external_id": "other"})
    mine = customer("cus_mine", email="a@b.co", metadata={"external_id": "k1"})
    requests_mock.get(f"{BASE}/v1/customers", json={"object": "list", "data": [theirs, mine], "has_more": False})
    search = requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())
    outcome = make_writer(BY_EMAIL).write(map_record("customers", {"external_id": "k1", "email": "a@b.co"}, BY_EMAIL), POS)
    assert (outcome.kind, outcome.object_id) == (UNCHANGED, "cus_mine") and not search.called


def test_email_match_falls_back_to_search_then_claims_a_single_unclaimed_customer(requests_mock):
    unclaimed = customer("cus_free", email="a@b.co")
    requests_mock.get(
        f"{BASE}/v1/customers",
        json={"object": "list", "data": [unclaimed, customer("cus_x", metadata={"external_id": "z"})], "has_more": False},
    )
    search = requests_mock.get(f"{BASE}/v1/customers/search", json=search_result())
    update = requests_mock.post(f"{BASE}/v1/customers/cus_free", json=customer("cus_free", email="a@b.co", metadata={"external_id": "k1"}))
    outcome = make_writer(BY_EMAIL).write(map_record("customers", {"external_id": "k1", "email": "a@b.co"}, BY_EMAIL), POS)
    assert (outcome.kind, outcome.object_id) == (UPDATED, "cus_free")
    assert search.called and form(update.last_request) == {"email": "a@b.co", "metadata[external_id]": "k1"}


# -- by id, and products -----------------------------------------------------------------


def test_record_with_an_unknown_id_is_rejected_with_stripes_error(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/cus_gone", **stripe_error(404, "resource_missing", "id", "No such customer: 'cus_gone'"))
    outcome = make_writer().write(map_record("customers", {"id": "cus_gone", "name": "x"}, WriterOptions()), POS)
    assert outcome.kind == REJECTED
    assert outcome.error == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "param": "id",
        "message": "No such customer: 'cus_gone'",
        "http_status": 404,
    }


def test_record_for_a_deleted_customer_is_rejected(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/cus_del", json={"id": "cus_del", "object": "customer", "deleted": True})
    outcome = make_writer().write(map_record("customers", {"id": "cus_del", "name": "x"}, WriterOptions()), POS)
    assert outcome.kind == REJECTED and outcome.error["code"] == "resource_deleted"


def test_new_product_gets_its_derived_id(requests_mock):
    pid = derived_product_id("sku-1")
    requests_mock.get(f"{BASE}/v1/products/{pid}", **stripe_error(404, "resource_missing", "id"))
    create = requests_mock.post(f"{BASE}/v1/products", json={"id": pid, "name": "W", "metadata": {"external_id": "sku-1"}})
    outcome = make_writer().write(map_record("products", {"external_id": "sku-1", "name": "W"}, WriterOptions()), POS)
    assert (outcome.kind, outcome.object_id) == (CREATED, pid)
    assert form(create.last_request) == {"name": "W", "metadata[external_id]": "sku-1", "id": pid}


def test_product_created_concurrently_is_updated_instead(requests_mock):
    pid = derived_product_id("sku-1")
    requests_mock.get(
        f"{BASE}/v1/products/{pid}",
        [
            stripe_error(404, "resource_missing", "id"),
            {"json": {"id": pid, "name": "Other", "active": True, "metadata": {"external_id": "sku-1"}}},
        ],
    )
    requests_mock.post(f"{BASE}/v1/products", **stripe_error(400, "resource_already_exists", "id"))
    update = requests_mock.post(f"{BASE}/v1/products/{pid}", json={"id": pid, "name": "W", "metadata": {"external_id": "sku-1"}})
    outcome = make_writer().write(map_record("products", {"external_id": "sku-1", "name": "W"}, WriterOptions()), POS)
    assert (outcome.kind, outcome.object_id) == (UPDATED, pid) and update.called


def test_a_proxy_404_is_not_a_missing_product(requests_mock):
    paragon = {"credentials": {"auth_type": "paragon", "project_id": "p1", "user_token": "tok-secret-123"}}
    base = "https://proxy.useparagon.com/projects/p1/sdk/proxy/stripe"
    pid = derived_product_id("sku-1")
    requests_mock.get(f"{base}/v1/products/{pid}", status_code=404, json={"message": "Project not found"})
    writer = RecordWriter(make_client(**paragon), WriterOptions())
    with pytest.raises(StripeAPIError) as caught:
        writer.write(map_record("products", {"external_id": "sku-1", "name": "W"}, WriterOptions()), POS)
    assert caught.value.failure_type.value == "config_error" and caught.value.source == "paragon"


@pytest.mark.parametrize(
    "status, failure_type", [(401, "config_error"), (403, "config_error"), (429, "transient_error"), (503, "transient_error")]
)
def test_run_level_failures_raise_instead_of_rejecting(requests_mock, status, failure_type):
    body = {"error": {"type": "api_error" if status >= 500 else "invalid_request_error", "message": "x"}}
    requests_mock.get(f"{BASE}/v1/customers/cus_1", status_code=status, json=body)
    with pytest.raises(StripeAPIError) as caught:
        make_writer().write(map_record("customers", {"id": "cus_1", "name": "x"}, WriterOptions()), POS)
    assert caught.value.failure_type.value == failure_type


def test_dry_run_reads_but_never_posts(requests_mock):
    requests_mock.get(f"{BASE}/v1/customers/search", json=search_result(customer(name="Old", metadata={"external_id": "k1"})))
    requests_mock.get(f"{BASE}/v1/products/{derived_product_id('p')}", **stripe_error(404, "resource_missing", "id"))
    dry = WriterOptions(dry_run=True)
    writer = make_writer(dry)
    assert writer.write(map_record("customers", {"external_id": "k1", "name": "New"}, dry), POS).kind == UPDATED
    assert writer.write(map_record("customers", {"external_id": "k1", "name": "New"}, dry), POS).kind == UNCHANGED
    assert writer.write(map_record("products", {"external_id": "p", "name": "P"}, dry), POS).kind == CREATED
    assert not [r for r in requests_mock.request_history if r.method == "POST"]


# -- the protocol loop -------------------------------------------------------------------


class RecordingWriter:
    """Stands in for RecordWriter: logs each write into a shared timeline."""

    def __init__(self, timeline, reject=()):
        self.timeline = timeline
        self.reject = set(reject)
        self.client = SimpleNamespace(request_count=0, settings=SimpleNamespace(requests_per_second=25))
        self.delay = 0.0

    def write(self, record, position):
        if self.delay:
            time.sleep(random.uniform(0, self.delay))  # let concurrent writes finish out of order
        self.timeline.append(("write", position.stream, position.ordinal))
        self.client.request_count += 1
        if position.ordinal in self.reject:
            return Outcome(
                REJECTED,
                position,
                record.describe_key(),
                error={"type": "invalid_request_error", "code": "x", "message": "bad"},
                requests=1,
            )
        return Outcome(CREATED, position, record.describe_key(), object_id="cus_x", requests=1)


def messages(*items):
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(AirbyteMessageSerializer.load({"type": "RECORD", "record": {"stream": "customers", "data": item, "emitted_at": 0}}))
        else:
            out.append(AirbyteMessageSerializer.load({"type": "STATE", "state": {"type": "LEGACY", "data": {"n": item}}}))
    return out


def run_loop(inputs, modes=None, options=WriterOptions(concurrency=1), reject=(), delay=0.0):
    timeline = []
    writer = RecordingWriter(timeline, reject)
    writer.delay = delay
    run = WriteRun(writer, modes or {"customers": DestinationSyncMode.append}, options)
    try:
        for message in inputs:
            for out in run.accept(message):
                timeline.append(_describe(out))
        for out in run.finish():
            timeline.append(_describe(out))
    except StripeProxyError as error:
        timeline.append(("raised", error.failure_type.value))
    return timeline, run


def _describe(message):
    dumped = AirbyteMessageSerializer.dump(message)
    if dumped["type"] == "STATE":
        return ("STATE", dumped["state"]["data"]["n"])
    if dumped["type"] == "LOG":
        return ("LOG", dumped["log"]["level"], dumped["log"]["message"].split(":")[0])
    return (dumped["type"],)


def test_state_is_echoed_only_after_every_earlier_record_has_an_outcome():
    timeline, _ = run_loop(messages({"external_id": "a"}, {"external_id": "b"}, 1, {"external_id": "c"}, 2, 3))
    assert timeline[:6] == [
        ("write", "customers", 1),
        ("write", "customers", 2),
        ("STATE", 1),
        ("write", "customers", 3),
        ("STATE", 2),
        ("STATE", 3),
    ]
    assert timeline[-2][:2] == ("LOG", "INFO") and timeline[-1] == ("TRACE",)


def test_concurrent_writes_keep_state_after_its_records_and_one_key_in_order():
    inputs = []
    for batch in range(5):
        inputs += [{"external_id": f"k{i % 7}", "name": f"v{batch}-{i}"} for i in range(30)]
        inputs.append(batch)
    timeline, _run = run_loop(messages(*inputs), options=WriterOptions(concurrency=6), delay=0.003)
    writes_seen = 0
    for entry in timeline:
        if entry[0] == "write":
            writes_seen += 1
        elif entry[0] == "STATE":
            assert writes_seen == 30 * (entry[1] + 1), "STATE before all of its batch's records were written"
    ordinals = [e[2] for e in timeline if e[0] == "write"]
    assert sorted(ordinals) == list(range(1, 151))
    for key in range(7):  # records of one key are written in input order
        mine = [o for o in ordinals if (o - 1) % 30 % 7 == key]
        assert mine == sorted(mine)
    assert ordinals != sorted(ordinals), "different keys should have run concurrently"


def test_state_messages_are_echoed_unchanged():
    state = AirbyteMessageSerializer.load(
        {
            "type": "STATE",
            "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"cursor": 7}}},
        }
    )
    run = WriteRun(RecordingWriter([]), {"customers": DestinationSyncMode.append}, WriterOptions())
    [echoed] = list(run.accept(state))
    assert echoed is state


def test_rejections_are_reported_in_place_and_the_rest_continue():
    timeline, run = run_loop(messages({"external_id": "a"}, {"external_id": "b"}, {"nokey": 1}, 1), reject={2})
    assert ("LOG", "ERROR", "Rejected customers record #2 (input message 2) (external_id b)") in timeline
    assert ("LOG", "ERROR", "Rejected customers record #3 (input message 3)") in timeline
    assert timeline.index(("STATE", 1)) > timeline.index(("LOG", "ERROR", "Rejected customers record #3 (input message 3)"))
    assert run.summary()["total"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 2, "skipped": 0}


def test_fail_fast_reports_summarises_and_raises_before_the_next_state():
    timeline, _run = run_loop(
        messages({"external_id": "a"}, {"external_id": "b"}, {"external_id": "c"}, 1), options=WriterOptions(fail_fast=True), reject={2}
    )
    assert [t for t in timeline if t[0] == "write"] == [("write", "customers", 1), ("write", "customers", 2)]
    assert ("STATE", 1) not in timeline
    assert timeline[-3:] == [("LOG", "INFO", "Stripe destination summary"), ("TRACE",), ("raised", "config_error")]


def test_append_dedup_keeps_the_last_record_per_key_within_a_batch():
    inputs = messages(
        {"external_id": "a", "name": "1"}, {"external_id": "b"}, {"external_id": "a", "name": "2"}, 1, {"external_id": "a", "name": "3"}
    )
    timeline, run = run_loop(inputs, modes={"customers": DestinationSyncMode.append_dedup})
    assert [t for t in timeline if t[0] in ("write", "STATE")] == [
        ("write", "customers", 2),
        ("write", "customers", 3),
        ("STATE", 1),
        ("write", "customers", 4),
    ]
    assert run.summary()["total"]["skipped"] == 1


def test_records_of_streams_outside_the_catalog_are_skipped_with_one_warning():
    stray = [
        AirbyteMessageSerializer.load({"type": "RECORD", "record": {"stream": "invoices", "data": {"id": i}, "emitted_at": 0}})
        for i in range(3)
    ]
    timeline, run = run_loop(stray)
    assert timeline.count(("LOG", "WARN", "Skipping records of stream 'invoices'")) == 1
    assert run.summary()["skipped_unknown_streams"] == {"invoices": 3}


def test_batches_flush_at_the_size_limit(monkeypatch):
    monkeypatch.setattr("source_stripe_proxy.destination.connector.BATCH_SIZE", 2)
    timeline = []
    run = WriteRun(RecordingWriter(timeline), {"customers": DestinationSyncMode.append}, WriterOptions())
    list(run.accept(messages({"external_id": "a"})[0]))
    assert timeline == []
    list(run.accept(messages({"external_id": "b"})[0]))
    assert len(timeline) == 2


# -- catalog, spec, check, command line --------------------------------------------------


def catalog(*streams, mode="append"):
    return ConfiguredAirbyteCatalogSerializer.load(
        {
            "streams": [
                {
                    "stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": mode,
                }
                for s in streams
            ]
        }
    )


def test_catalog_validation():
    assert validate_catalog(catalog("customers", "products", mode="append_dedup")) == {
        "customers": DestinationSyncMode.append_dedup,
        "products": DestinationSyncMode.append_dedup,
    }
    with pytest.raises(ConfigError, match="'charges'"):
        validate_catalog(catalog("customers", "charges"))
    with pytest.raises(ConfigError, match="'overwrite'"):
        validate_catalog(catalog("products", mode="overwrite"))


def test_write_fails_on_a_bad_catalog_before_reading_any_input():
    def untouchable():
        raise AssertionError("input was read")
        yield  # pragma: no cover

    with pytest.raises(AirbyteTracedException, match="'invoices'") as caught:  # our ConfigError, traced at the boundary
        list(DestinationStripeProxy().write(CONFIG, catalog("invoices"), untouchable()))
    assert caught.value.failure_type.value == "config_error"


def test_spec_is_the_destinations_own():
    spec = DestinationStripeProxy().spec(None)
    dumped = json.loads(json.dumps(spec.connectionSpecification))
    assert spec.supported_destination_sync_modes == [DestinationSyncMode.append, DestinationSyncMode.append_dedup]
    assert spec.supportsIncremental is True
    props = dumped["properties"]
    for name in (
        "external_id_field",
        "match_customers_by_email",
        "unknown_fields",
        "fail_fast",
        "dry_run",
        "api_base",
        "stripe_version",
        "account_id",
        "requests_per_second",
        "endpoint_requests_per_second",
    ):
        assert name in props
    assert props["unknown_fields"]["enum"] == ["reject", "metadata"] and props["unknown_fields"]["default"] == "reject"
    assert "start_date" not in props  # the source's read options are not the destination's
    source_spec = yaml.safe_load(Path(sys.modules["source_stripe_proxy"].__path__[0], "source", "spec.yaml").read_text())
    source_credentials = source_spec["connectionSpecification"]["properties"]["credentials"]
    ours = props["credentials"]
    assert [v["title"] for v in ours["oneOf"]] == [v["title"] for v in source_credentials["oneOf"]]
    for mine, theirs in zip(ours["oneOf"], source_credentials["oneOf"], strict=True):
        assert list(mine["properties"]) == list(theirs["properties"])
        for name, prop in theirs["properties"].items():
            assert mine["properties"][name].get("airbyte_secret") == prop.get("airbyte_secret")


def test_check_succeeds_with_one_cheap_read(requests_mock):
    listing = requests_mock.get(f"{BASE}/v1/customers", json={"object": "list", "data": [], "has_more": False})
    status = DestinationStripeProxy(lambda s: make_client()).check(None, CONFIG)
    assert status.status == Status.SUCCEEDED and listing.call_count == 1
    assert query(listing.last_request) == {"limit": "1"}


def test_check_fails_safely(requests_mock):
    requests_mock.get(
        f"{BASE}/v1/customers",
        status_code=401,
        json={"error": {"type": "invalid_request_error", "message": f"Invalid API Key provided: {API_KEY}"}},
    )
    status = DestinationStripeProxy().check(None, CONFIG)
    assert status.status == Status.FAILED and "credentials.api_key" in status.message and API_KEY not in status.message
    bad_option = DestinationStripeProxy().check(None, dict(CONFIG, unknown_fields="keep"))
    assert bad_option.status == Status.FAILED and "'unknown_fields'" in bad_option.message


def test_cli_check_skips_the_cdks_jsonschema_message_that_would_quote_secrets(tmp_path, monkeypatch, capsys):
    secret = "pk_test_publishableSECRET123"  # wrong kind of key: the CDK's pattern error would quote it
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"credentials": {"auth_type": "api_key", "api_key": secret}, "requests_per_second": "fast"}))
    monkeypatch.setattr(sys, "argv", ["destination-stripe-proxy", "check", "--config", str(config_path)])
    run_destination()
    out = capsys.readouterr().out
    [status] = [json.loads(line)["connectionStatus"] for line in out.splitlines() if '"CONNECTION_STATUS"' in line]
    assert status["status"] == "FAILED" and "'credentials.api_key'" in status["message"]
    assert secret not in out


def test_cli_spec(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["destination-stripe-proxy", "spec"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    run_destination()
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["spec"]["supported_destination_sync_modes"] == ["append", "append_dedup"]


def test_a_run_level_failure_still_reports_what_was_done(requests_mock):
    requests_mock.get(
        f"{BASE}/v1/customers/search",
        [
            {"json": search_result()},
            {"status_code": 401, "json": {"error": {"type": "invalid_request_error", "message": "Expired API Key provided"}}},
        ],
    )
    requests_mock.post(f"{BASE}/v1/customers", json=customer("cus_new", metadata={"external_id": "a"}))
    destination = DestinationStripeProxy(lambda s: make_client())
    written = destination.write(CONFIG, catalog("customers"), iter(messages({"external_id": "a"}, 1, {"external_id": "b"}, 2)))
    out = []
    with pytest.raises(AirbyteTracedException) as caught:
        out.extend(AirbyteMessageSerializer.dump(message) for message in written)
    assert caught.value.failure_type.value == "config_error"
    assert isinstance(caught.value._exception, StripeAPIError)  # the client's 401, converted at the boundary
    assert [m["type"] for m in out] == ["STATE", "LOG", "TRACE"]  # state 1, then the summary; never state 2
    assert destination.last_summary["total"]["created"] == 1
    assert API_KEY not in json.dumps(out)
