"""The source end to end through the CDK entrypoint, with Stripe mocked by requests-mock."""

import json
import time

import jsonschema
import pytest
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import discover, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.data import load_generated, load_schema
from source_stripe_proxy.source.state import parse_cursor
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from source_stripe_proxy.source.streams import created_windows
from unit_tests.test_events import newest_first

API_KEY = "sk_test_sourceUNITsecret77"
BASE = "https://api.stripe.com"
CONFIG = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": 1}
DAY = 86_400


def stripe_list(objects, has_more=False, url="/v1/customers"):
    return {"object": "list", "data": objects, "has_more": has_more, "url": url}


def customer(n, created):
    return {"id": f"cus_{n}", "object": "customer", "created": created, "email": f"c{n}@example.com", "livemode": False, "metadata": {}}


def catalog(*names, mode=SyncMode.full_refresh):
    builder = CatalogBuilder()
    for name in names:
        builder = builder.with_stream(name, mode)
    return builder.build()


CATALOGUE = load_generated("streams.json")["streams"]
# The 19 streams before the generated catalogue: each keeps its name, modes, cursor and key.
FIRST_STREAMS = {
    "customers",
    "subscriptions",
    "products",
    "plans",
    "prices",
    "invoices",
    "invoice_items",
    "invoice_line_items",
    "subscription_items",
    "charges",
    "refunds",
    "payment_intents",
    "payouts",
    "coupons",
    "promotion_codes",
    "disputes",
    "credit_notes",
    "balance_transactions",
    "events",
}


def test_discover_offers_every_stream_of_the_catalogue_as_it_says_without_a_request(requests_mock):
    output = discover(SourceStripeProxy(), CONFIG)
    assert requests_mock.call_count == 0  # discover never probes
    streams = {s.name: s for s in output.catalog.catalog.streams}
    assert set(streams) == set(CATALOGUE) == set(STREAM_SPECS) and len(streams) == 110
    assert {name for name, entry in CATALOGUE.items() if entry["airbyte"]} <= set(streams)
    assert len([name for name in streams if CATALOGUE[name]["airbyte"]]) == 47
    for name, stream in streams.items():
        entry = CATALOGUE[name]
        assert [m.value for m in stream.supported_sync_modes] == entry["sync_modes"], name
        assert stream.default_cursor_field == ([entry["cursor"]] if entry["cursor"] else None), name
        assert stream.source_defined_primary_key == [[key] for key in entry["primary_key"]], name
        assert stream.json_schema == load_schema(name)
        assert stream.json_schema["properties"]["updated"]["type"] == "integer"
    for name in FIRST_STREAMS:
        assert [m.value for m in streams[name].supported_sync_modes] == ["full_refresh", "incremental"]
        assert streams[name].source_defined_primary_key == [["id"]]
        expected_cursor = "created" if name in ("balance_transactions", "events") else "updated"  # read by `created`
        assert streams[name].default_cursor_field == [expected_cursor]


def test_sequential_full_refresh_reads_every_page_once_and_records_match_the_schema(requests_mock):
    objects = [customer(i, 1_700_000_000 + i) for i in range(250)]
    newest_first(requests_mock, "/v1/customers", objects)
    output = read(SourceStripeProxy(), {**CONFIG, "concurrency": 1}, catalog("customers"))
    ids = [m.record.data["id"] for m in output.records]
    assert sorted(ids) == sorted(o["id"] for o in objects) and len(ids) == len(set(ids))
    assert requests_mock.call_count == 3  # 100 + 100 + 50, each page once
    validator = jsonschema.Draft7Validator(load_schema("customers"))
    for message in output.records:
        validator.validate(message.record.data)
    assert output.get_stream_statuses("customers")[-1].name == "COMPLETE"


@pytest.mark.parametrize("spread", [1, 7, 86_400])  # objects bunched in one second, a week, or years
def test_concurrent_read_splits_ranges_without_losing_or_repeating_a_record(requests_mock, spread):
    objects = [customer(i, 1_600_000_000 + (i * spread) // 10) for i in range(1234)]
    newest_first(requests_mock, "/v1/customers", objects)
    output = read(SourceStripeProxy(), {**CONFIG, "concurrency": 8}, catalog("customers"))
    ids = [m.record.data["id"] for m in output.records]
    assert len(ids) == len(set(ids)) == len(objects)
    queries = [tuple(sorted((k, tuple(v)) for k, v in r.qs.items())) for r in requests_mock.request_history]
    assert len(queries) == len(set(queries))  # no page requested twice
    if spread == 86_400:
        ranges = {q for q in queries if any(k == "created[lt]" for k, _ in q)}
        assert ranges, "a long, dense range must be split across workers"


def test_subscriptions_always_ask_for_every_status(requests_mock):
    requests_mock.get(f"{BASE}/v1/subscriptions", json=stripe_list([]))
    read(SourceStripeProxy(), CONFIG, catalog("subscriptions"))
    assert requests_mock.last_request.qs["status"] == ["all"]


def test_incremental_resumes_from_state_minus_lookback_and_emits_state_after_records(requests_mock):
    now = int(time.time())
    cursor = now - 10 * DAY
    objects = [customer(i, cursor - 3 * DAY + i * DAY // 2) for i in range(12)]
    newest_first(requests_mock, "/v1/customers", objects)
    config = {**CONFIG, "lookback_window_days": 1}
    state = StateBuilder().with_stream_state("customers", {"created": cursor}).build()
    output = read(SourceStripeProxy(), config, catalog("customers", mode=SyncMode.incremental), state)

    sent = requests_mock.request_history[0].qs
    assert sent["created[gte]"] == [str(cursor - DAY)]
    expected = {o["id"] for o in objects if o["created"] >= cursor - DAY}
    assert {m.record.data["id"] for m in output.records} == expected
    assert all(m.record.data["created"] >= cursor - DAY for m in output.records)
    # STATE comes after the records it covers; complete, it says everything created before the read began was read.
    kinds = [m.type for m in output.records_and_state_messages]
    assert kinds[-1] == Type.STATE and Type.STATE not in kinds[: len(output.records)]
    final = output.most_recent_state.stream_state
    assert final.created == final.events_since >= max(o["created"] for o in objects)


def test_incremental_windows_checkpoint_after_each_window(requests_mock):
    now = int(time.time())
    start = now - 95 * DAY
    objects = [customer(i, start + i * 10 * DAY) for i in range(10)]  # one every 10 days
    newest_first(requests_mock, "/v1/customers", objects)
    config = {**CONFIG, "slice_range_days": 30}
    state = StateBuilder().with_stream_state("customers", {"created": start}).build()  # from a saved cursor (a first read is one range)
    output = read(SourceStripeProxy(), config, catalog("customers", mode=SyncMode.incremental), state)

    assert sorted(m.record.data["id"] for m in output.records) == sorted(o["id"] for o in objects)
    states = []
    seen = set()
    for message in output.records_and_state_messages:
        if message.type == Type.RECORD:
            seen.add(message.record.data["created"])
        else:
            value = message.state.stream.stream_state.created
            # every record at or before the checkpoint has already been emitted
            assert all(o["created"] in seen for o in objects if o["created"] < value)
            states.append(value)
    assert states == sorted(states) and len(states) >= 4  # windows of 30 days over 95 days
    # pages checkpoint what is left as they come; the cursor moves once the first window completes,
    # to the newest record of that 30-day window
    assert next(value for value in states if value != start) == start + 20 * DAY
    windows = [r.qs for r in requests_mock.request_history]
    assert windows[0] == {"created[gte]": [str(start)], "created[lt]": [str(start + 30 * DAY)], "limit": ["100"]}


def test_records_outside_the_window_are_dropped_even_if_the_server_ignores_filters(requests_mock):
    now = int(time.time())
    cursor = now - DAY
    objects = [customer(1, cursor - 5 * DAY), customer(2, cursor + 10)]
    requests_mock.get(f"{BASE}/v1/customers", json=stripe_list(objects))  # ignores created[gte]
    state = StateBuilder().with_stream_state("customers", {"created": cursor}).build()
    output = read(SourceStripeProxy(), CONFIG, catalog("customers", mode=SyncMode.incremental), state)
    assert [m.record.data["id"] for m in output.records] == ["cus_2"]


def test_created_windows():
    assert list(created_windows(None, 1000, 100)) == [{}]
    assert list(created_windows(0, 250, 100)) == [
        {"created_gte": 0, "created_lt": 100},
        {"created_gte": 100, "created_lt": 200},
        {"created_gte": 200},
    ]


@pytest.mark.parametrize("state", [{"created": -1}, {"created": "abc"}, {"created": True}, ["x"]])
def test_corrupt_state_is_a_config_error(state):
    with pytest.raises(ConfigError, match="customers"):
        parse_cursor("customers", state)


def test_numeric_string_state_is_accepted():
    assert parse_cursor("customers", {"created": "1700000000"}) == 1_700_000_000


def test_unknown_stream_in_catalog_is_a_config_error(requests_mock):
    output = read(SourceStripeProxy(), CONFIG, catalog("customers_typo"), expecting_exception=True)
    assert output.errors and output.errors[-1].trace.error.failure_type.value == "config_error"
    assert requests_mock.call_count == 0


def test_secrets_never_appear_in_any_message_on_failure(requests_mock):
    requests_mock.get(
        f"{BASE}/v1/customers",
        status_code=401,
        json={"error": {"type": "invalid_request_error", "message": f"Invalid API Key provided: {API_KEY}"}},
    )
    source = SourceStripeProxy()
    output = read(source, {**CONFIG, "credentials": {**CONFIG["credentials"]}}, catalog("customers"), expecting_exception=True)
    everything = "\n".join(json.dumps(m.model_dump() if hasattr(m, "model_dump") else str(m), default=str) for m in output._messages)
    assert API_KEY not in everything
    assert output.errors[0].trace.error.failure_type.value == "config_error"
    assert "credentials.api_key" in output.errors[0].trace.error.message

    status = source.check(None, CONFIG)
    assert status.status.value == "FAILED"
    assert API_KEY not in status.message and "credentials.api_key" in status.message
