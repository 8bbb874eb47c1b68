"""What a sync costs in requests, against our Stripe emulator over real HTTP (issue 20): a first
read of every stream of an account of customers embeds their sources and tax ids and asks for
the rest only where Stripe says there is more, in each connection mode, every object still read
exactly; an idle sync costs the floor and emits nothing; the object at a `created` cursor is not
emitted again and one created later in its second is not lost; a product not enabled is asked
about once a day (the source in-process, on the emulator's clock)."""

import time
from collections import Counter

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.all_streams import ALL_STREAMS, CATALOGUE, expected_ids
from integration_tests.customer_account import MANY_SOURCES, MANY_TAX_IDS, children_of, seed_customer_account
from integration_tests.harness import run_connector, state_from
from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.endpoints import endpoint_template
from source_stripe_proxy.source.availability import REPROBE_SECONDS
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from stripe_emulator import catalog

CUSTOMERS = 60  # two with more sources than Stripe includes (10), two with more tax ids
IDLE_FLOOR = 70  # issue 20: an idle sync of every stream, single account
PER_CUSTOMER = (
    "/v1/customers/{customer}/payment_methods",
    "/v1/customers/{customer}/balance_transactions",
    "/v1/customers/{customer}/cash_balance_transactions",
)


def every_stream_incremental():
    streams = []
    for name in ALL_STREAMS:
        incremental = "incremental" in CATALOGUE[name]["sync_modes"]
        streams.append(
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": CATALOGUE[name]["sync_modes"]},
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append",
            }
        )
    return {"streams": streams}


def by_endpoint(requests):
    return Counter(endpoint_template(r["path"]) for r in requests)


def seeded(emulator):
    ids = seed_customer_account(emulator, int(time.time()) - 2 * 86_400, customers=CUSTOMERS)
    emulator.clock.unfreeze()  # Stripe's clock from here on is the machine's
    return ids


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_a_first_read_embeds_what_customers_include_and_reads_every_object_exactly(mode, stripe_emulator, connection_configs):
    seeded(stripe_emulator)
    expected = expected_ids(stripe_emulator)
    result = run_connector("source", "read", connection_configs(mode, stripe_emulator), every_stream_incremental())
    assert result.returncode == 0, result.stdout[-3000:]
    for stream in ALL_STREAMS:
        result.assert_read_exactly(stream, expected[stream])
    sent = stripe_emulator.requests.snapshot()
    counts = by_endpoint(sent)
    for endpoint in PER_CUSTOMER:  # Stripe includes none of these: one request per customer
        assert counts[endpoint] == CUSTOMERS, endpoint
    many_sources = sum(
        1 for i in range(CUSTOMERS) if sum(children_of(i)[k] for k in ("customer_cards", "bank_accounts", "customer_sources")) > 10
    )
    many_tax_ids = sum(1 for i in range(CUSTOMERS) if children_of(i)["customer_tax_ids"] > 10)
    assert many_sources == 2 and many_tax_ids == 2 and MANY_SOURCES > 10 and MANY_TAX_IDS > 10
    # the rest of an included list only where Stripe said there is more, once for every stream of it
    assert counts["/v1/customers/{customer}/sources"] == many_sources
    assert counts["/v1/customers/{customer}/tax_ids"] == many_tax_ids
    assert counts["/v1/customers/{customer}/cards"] == counts["/v1/customers/{customer}/bank_accounts"] == 0
    continued = [r for r in sent if endpoint_template(r["path"]) == "/v1/customers/{customer}/sources"]
    assert all(set(r["query"]) == {"limit", "starting_after"} for r in continued)
    lists = [r for r in sent if r["path"] == "/v1/customers"]
    assert lists and all(sorted(r["query"]["expand[]"]) == ["data.sources", "data.tax_ids"] for r in lists)
    assert counts["/v1/entitlements/active_entitlements"] == 0  # no feature defined: no customer has any
    assert counts["/v1/entitlements/features"] == 2  # the stream's own read, and the question for the entitlements
    cost = [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["message"].startswith("Stripe requests by stream")]
    assert cost and cost[0].startswith(f"Stripe requests by stream, {len(sent)} in all: ")  # the connector's count is the server's


def test_an_idle_sync_of_every_stream_costs_the_floor_and_emits_nothing(stripe_emulator, connection_configs):
    seeded(stripe_emulator)
    config = connection_configs("api_key", stripe_emulator, start_date="2017-01-25T00:00:00Z")
    first = run_connector("source", "read", config, every_stream_incremental())
    assert first.returncode == 0, first.stdout[-3000:]
    before = len(stripe_emulator.requests.snapshot())
    idle = run_connector("source", "read", config, every_stream_incremental(), state=state_from(first))
    assert idle.returncode == 0, idle.stdout[-3000:]
    sent = stripe_emulator.requests.snapshot()[before:]
    assert not idle.records and len(sent) <= IDLE_FLOOR, by_endpoint(sent)
    counts = by_endpoint(sent)
    # one request each, no walk of empty windows (two where two reads of one list differ: radar value
    # lists by their cursor, and every list for their items, which may be added to any list)
    assert all(count <= 2 for count in counts.values()) and sum(count == 2 for count in counts.values()) <= 1, counts
    by_created = sorted(
        CATALOGUE[name]["path"] for name in ALL_STREAMS if CATALOGUE[name]["changes"] == "created" and not CATALOGUE[name]["parent"]
    )
    for path in by_created:  # from where the last read began, not from the start date
        asked = [r for r in sent if r["path"] == path and "created[gte]" in r["query"]]
        assert len(asked) == 1 and int(asked[0]["query"]["created[gte]"][0]) > time.time() - 3600, path
    evented = {CATALOGUE[name]["path"] for name in ALL_STREAMS if CATALOGUE[name]["changes"] in ("events", "parent_events")}
    # the lists the others start from (a full refresh's parents, the parents of a child read by `created`)
    listed = {STREAM_SPECS[name].source.path for name in ALL_STREAMS if CATALOGUE[name]["changes"] in ("full_refresh", "created")}
    assert not (evented - listed - {"/v1/events"}) & set(counts)  # streams that follow events cost nothing beyond the events read
    assert not {e for e in counts if e.startswith("/v1/customers/")}
    for stream in ALL_STREAMS:
        assert idle.statuses(stream)[-1] == "COMPLETE", stream


def test_the_object_at_a_created_cursor_is_not_emitted_again_and_its_second_loses_nothing(stripe_emulator, connection_configs):
    now = int(time.time())
    stripe_emulator.set_time(now - 10)  # within the clock skew of the read: the cursor is this second
    store = stripe_emulator.store
    first_two = {catalog.add(store, "shipping_rates")["id"] for _ in range(2)}
    config = connection_configs("api_key", stripe_emulator)
    catalog_json = {
        "streams": [
            {
                "stream": {"name": "shipping_rates", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
            }
        ]
    }
    first = run_connector("source", "read", config, catalog_json)
    assert {r["id"] for r in first.records_of("shipping_rates")} == first_two
    saved = state_from(first)[0]["stream"]["stream_state"]
    assert saved == {"created": now - 10, "at_cursor": sorted(first_two)}
    late = catalog.add(store, "shipping_rates")["id"]  # the same second, after the read
    stripe_emulator.advance(5)
    newer = catalog.add(store, "shipping_rates")["id"]
    before = len(stripe_emulator.requests.snapshot())
    second = run_connector("source", "read", config, catalog_json, state=state_from(first))
    assert sorted(r["id"] for r in second.records_of("shipping_rates")) == sorted([late, newer])
    asked = stripe_emulator.requests.snapshot()[before:]
    assert [r["query"]["created[gte]"] for r in asked] == [[str(now - 10)]]


def in_process_read(emulator, clock, config, streams, state=None):
    builder = CatalogBuilder()
    for name in streams:
        builder = builder.with_stream(
            name, SyncMode.incremental if "incremental" in CATALOGUE[name]["sync_modes"] else SyncMode.full_refresh
        )
    return read(SourceStripeProxy(clock=clock), config, builder.build(), state, expecting_exception=True)


def last_states(output):
    builder = StateBuilder()
    names = {m.state.stream.stream_descriptor.name for m in output.state_messages}
    for name in names:
        last = [m.state.stream.stream_state for m in output.state_messages if m.state.stream.stream_descriptor.name == name][-1]
        builder = builder.with_stream_state(name, last.__dict__)
    return builder.build()


def test_a_product_not_enabled_is_asked_about_once_a_day(stripe_emulator, connection_configs):
    seeded(stripe_emulator)
    catalog.disable_product(stripe_emulator.store, "Issuing")
    stripe_emulator.set_time(int(time.time()) - 2 * REPROBE_SECONDS)  # a clock the test moves, Stripe's and the source's
    clock = stripe_emulator.clock.now
    config = connection_configs("api_key", stripe_emulator, unavailable_streams="skip")
    streams = ["customers", "cards", "issuing_tokens", "issuing_physical_bundles", "tax_rates"]
    issuing = ("/v1/issuing/cards", "/v1/issuing/physical_bundles")

    def asked(since):
        return [r["path"] for r in stripe_emulator.requests.snapshot()[since:] if r["path"] in issuing]

    mark = len(stripe_emulator.requests.snapshot())
    first = in_process_read(stripe_emulator, clock, config, streams)
    assert sorted(asked(mark)) == sorted(issuing)
    skipped_first = [m.log.message for m in first.logs if m.log.message.startswith("Skipping stream")]
    assert len(skipped_first) == 3

    stripe_emulator.advance(REPROBE_SECONDS - 60)
    mark = len(stripe_emulator.requests.snapshot())
    second = in_process_read(stripe_emulator, clock, config, streams, last_states(first))
    assert asked(mark) == []  # not asked again the same day
    skipped = [m.log.message for m in second.logs if m.log.message.startswith("Skipping stream")]
    assert sorted(s.split()[2].rstrip(":") for s in skipped) == ["cards", "issuing_physical_bundles", "issuing_tokens"]
    for name in ("cards", "issuing_tokens", "issuing_physical_bundles"):
        assert second.get_stream_statuses(name)[-1].name == "INCOMPLETE"
    assert second.get_stream_statuses("tax_rates")[-1].name == "COMPLETE"

    catalog.enable_product(stripe_emulator.store, "Issuing")  # enabled meanwhile: seen at the next question
    stripe_emulator.advance(120)
    mark = len(stripe_emulator.requests.snapshot())
    third = in_process_read(stripe_emulator, clock, config, streams, last_states(second))
    assert sorted(set(asked(mark))) == sorted(issuing)
    for name in ("cards", "issuing_tokens", "issuing_physical_bundles"):
        assert third.get_stream_statuses(name)[-1].name == "COMPLETE"
        states = [m.state.stream.stream_state.__dict__ for m in third.state_messages if m.state.stream.stream_descriptor.name == name]
        assert states and "unavailable" not in states[-1]
