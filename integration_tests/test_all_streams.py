"""Every stream of the catalogue against our emulator, over real HTTP through the console script:
all 110 read in each connection mode with exactly the seeded objects, a parent's list read once
for all its children, streams an account can't read (a product not enabled, a key without a
permission) in check and in read, and an incremental sync of every stream making one events pass."""

import math
import time

import pytest
import requests

from integration_tests.all_streams import ALL_STREAMS, CATALOGUE, CONNECTED, expected_ids, seed_every_stream
from integration_tests.harness import configured_catalog, run_connector, state_from
from stripe_emulator import billing, catalog

ISSUING = sorted(name for name, entry in CATALOGUE.items() if entry["product"] == "Issuing")


def incremental_catalog(streams):
    made = configured_catalog(streams, sync_mode="incremental")
    for entry in made["streams"]:
        entry["sync_mode"] = "incremental" if "incremental" in CATALOGUE[entry["stream"]["name"]]["sync_modes"] else "full_refresh"
    return made


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_every_stream_reads_exactly_the_seeded_objects_in_each_mode(mode, stripe_emulator, connection_configs):
    seed_every_stream(stripe_emulator, int(time.time()) - 3600)
    expected = expected_ids(stripe_emulator)
    assert len(expected) == len(CATALOGUE) == 110 and all(expected.values())  # something in every stream
    result = run_connector("source", "read", connection_configs(mode, stripe_emulator), configured_catalog(ALL_STREAMS))
    assert result.returncode == 0, result.stdout[-3000:]
    for stream in ALL_STREAMS:
        result.assert_read_exactly(stream, expected[stream])
        assert result.statuses(stream)[-1] == "COMPLETE", stream
    # children name their parent where Stripe does not
    line_items = result.records_of("checkout_sessions_line_items")
    assert line_items and {r["checkout_session_id"] for r in line_items} <= expected["checkout_sessions"]


def test_a_parent_list_is_read_once_for_the_parent_and_all_its_children(stripe_emulator, connection_configs):
    seed_every_stream(stripe_emulator, int(time.time()) - 3600)
    children = sorted(name for name, entry in CATALOGUE.items() if (entry["parent"] or {}).get("stream") == "customers")
    assert len(children) >= 8
    streams = ["customers", *children, "invoices", "invoice_line_items", "subscriptions", "subscription_items", "usage_records"]
    result = run_connector("source", "read", connection_configs("api_key", stripe_emulator), configured_catalog(streams))
    assert result.returncode == 0, result.stdout[-3000:]
    lists = [r["path"] for r in stripe_emulator.requests.snapshot() if r["path"] in ("/v1/customers", "/v1/invoices", "/v1/subscriptions")]
    assert sorted(lists) == ["/v1/customers", "/v1/invoices", "/v1/subscriptions"]  # one page each, read once
    expected = expected_ids(stripe_emulator)
    for stream in streams:
        assert {r["id"] for r in result.records_of(stream)} == expected[stream], stream
    # each customer's children: one request per child endpoint and customer, never twice
    per_parent = [
        (r["path"], tuple(sorted((k, tuple(v)) for k, v in r["query"].items())))
        for r in stripe_emulator.requests.snapshot()
        if r["path"].startswith("/v1/customers/")
    ]
    assert len(per_parent) == len(set(per_parent))


def test_a_product_the_account_has_not_enabled_in_check_and_in_read(stripe_emulator, connection_configs):
    seed_every_stream(stripe_emulator, int(time.time()) - 3600)
    catalog.disable_product(stripe_emulator.store, "Issuing")
    config = connection_configs("api_key", stripe_emulator)

    check = run_connector("source", "check", config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    warnings = [m["log"]["message"] for m in check.of_type("LOG") if m["log"]["level"] == "WARN"]
    for stream in ISSUING:
        assert any(w.startswith(f"Stream {stream}: Issuing is not enabled on this account") for w in warnings), stream
    assert len(warnings) == len(ISSUING)  # every other stream is readable
    probes = [r for r in stripe_emulator.requests.snapshot() if r["query"].get("limit") == ["1"]]
    assert probes and all(r["query"]["limit"] == ["1"] for r in probes)

    streams = ["customers", "cards", "issuing_tokens", "tax_rates"]
    read = run_connector("source", "read", config, configured_catalog(streams))
    assert read.returncode != 0
    expected = expected_ids(stripe_emulator)
    for stream in ("customers", "tax_rates"):  # the others finish
        assert {r["id"] for r in read.records_of(stream)} == expected[stream]
        assert read.statuses(stream)[-1] == "COMPLETE"
    errors = read.errors()
    for stream in ("cards", "issuing_tokens"):
        assert read.statuses(stream)[-1] == "INCOMPLETE" and not read.records_of(stream)  # never an empty "complete"
        mine = [e for e in errors if f"Stream '{stream}' can't be read" in e["message"]]
        assert mine and mine[0]["failure_type"] == "config_error" and "Issuing is not enabled" in mine[0]["message"]
    closing = errors[-1]
    assert closing["failure_type"] == "config_error"
    assert "2 selected stream(s) can't be read" in closing["message"] and "cards (Issuing" in closing["message"]
    assert "issuing_tokens (Issuing" in closing["message"] and "customers" not in closing["message"]

    skipped = run_connector("source", "read", {**config, "unavailable_streams": "skip"}, configured_catalog(streams))
    assert skipped.returncode == 0 and not skipped.errors()
    assert {r["id"] for r in skipped.records_of("customers")} == expected["customers"]
    for stream in ("cards", "issuing_tokens"):
        assert skipped.statuses(stream)[-1] == "INCOMPLETE"
    warned = [m["log"]["message"] for m in skipped.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert sum("Skipping stream" in w and "Issuing is not enabled" in w for w in warned) == 2
    analytics = [m["trace"]["analytics"] for m in skipped.of_type("TRACE") if m["trace"]["type"] == "ANALYTICS"]
    assert sorted(a["value"] for a in analytics if a["type"] == "stream_unavailable_skipped") == ["cards", "issuing_tokens"]


def test_a_key_without_a_permission_in_check_and_in_read(stripe_emulator, connection_configs):
    seed_every_stream(stripe_emulator, int(time.time()) - 3600)
    stripe_emulator.add_restricted_key("rk_test_customersOnly1", {"customers": "read"})
    config = connection_configs("api_key", stripe_emulator)
    config["credentials"]["api_key"] = "rk_test_customersOnly1"
    check = run_connector("source", "check", config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    warnings = [m["log"]["message"] for m in check.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert "Stream tax_rates: the key lacks permission rak_tax_rates_read" in warnings
    read = run_connector("source", "read", config, configured_catalog(["customers", "tax_rates"]))
    assert read.returncode != 0 and read.statuses("tax_rates")[-1] == "INCOMPLETE"
    assert read.statuses("customers")[-1] == "COMPLETE" and len(read.records_of("customers")) == 3
    assert "tax_rates (the key lacks permission rak_tax_rates_read)" in read.errors()[-1]["message"]


def test_no_stream_readable_fails_the_check(stripe_emulator, connection_configs):
    stripe_emulator.add_restricted_key("rk_test_nothingAtAll1", {})
    config = connection_configs("api_key", stripe_emulator)
    config["credentials"]["api_key"] = "rk_test_nothingAtAll1"
    check = run_connector("source", "check", config)
    status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert (
        status["status"] == "FAILED"
        and "No stream can be read" in status["message"]
        and "customers: the key lacks permission" in status["message"]
    )


def test_an_incremental_sync_of_every_stream_makes_one_events_pass(stripe_emulator, connection_configs):
    seed_every_stream(stripe_emulator, int(time.time()) - 3600)
    config = connection_configs("api_key", stripe_emulator)
    first = run_connector("source", "read", config, incremental_catalog(ALL_STREAMS))
    assert first.returncode == 0, first.stdout[-3000:]
    state = state_from(first)

    stripe_emulator.set_time(int(time.time()) + 5)  # changes after the first sync began
    store = stripe_emulator.store
    customer = store.all("customers")[0]["id"]
    response = requests.post(
        f"{stripe_emulator.url}/v1/customers/{customer}",
        data={"email": "moved@example.com"},
        headers={"Authorization": f"Bearer {stripe_emulator.api_key}"},
        timeout=30,
    )
    assert response.status_code == 200
    invoice = store.all("invoices")[0]
    billing.update(store, "invoices", invoice["id"], status="paid", paid=True)
    made = {
        "tax_rates": catalog.add(store, "tax_rates", emit_event=True)["id"],
        "transfers": catalog.add(store, "transfers", emit_event=True)["id"],
        "cards": catalog.add(store, "cards", emit_event=True)["id"],
        "customer_tax_ids": catalog.add(store, "customer_tax_ids", parent_id=customer, emit_event=True)["id"],
        "persons": catalog.add(store, "persons", parent_id=CONNECTED, emit_event=True)["id"],
    }
    before = len(stripe_emulator.requests.snapshot())
    second = run_connector("source", "read", config, incremental_catalog(ALL_STREAMS), state=state)
    assert second.returncode == 0, second.stdout[-3000:]
    sent = stripe_emulator.requests.snapshot()[before:]

    got = {stream: {r["id"] for r in second.records_of(stream)} for stream in ALL_STREAMS}
    assert got["customers"] == {customer}
    assert got["invoices"] == {invoice["id"]} and got["invoice_line_items"] == {line["id"] for line in invoice["lines"]["data"]}
    for stream, oid in made.items():
        assert got[stream] == {oid}, stream
    balance = catalog.state(store).rows["customer_balance_transactions"].get(customer, [])
    assert got["customer_balance_transactions"] == {obj["id"] for _, obj in balance}  # customer.updated: listed again
    new_events = {e["id"] for e in store.all("events") if e["created"] >= stripe_emulator.clock.now() - 5}
    assert new_events <= got["events"]
    full_only = {name for name, entry in CATALOGUE.items() if entry["sync_modes"] == ["full_refresh"]}
    by_created = {name for name, entry in CATALOGUE.items() if entry["changes"] == "created"}
    saved = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in state}
    for stream in by_created:  # new objects by `created`: those of the cursor's second again, nothing older
        field = CATALOGUE[stream]["created_field"]
        assert all(r[field] >= saved[stream]["created"] for r in second.records_of(stream)), stream
    quiet = (
        set(ALL_STREAMS)
        - set(made)
        - full_only
        - by_created
        - {"customers", "invoices", "invoice_line_items", "customer_balance_transactions"}
    )
    assert all(not got[stream] for stream in quiet), {s: got[s] for s in quiet if got[s]}

    # one pass: every event page once, no types filter (the streams' types are far more than 20, and
    # the events stream lists them all anyway), and as many requests as pages of events since the oldest cursor
    events_reads = [r for r in sent if r["path"] == "/v1/events"]
    assert events_reads and all("types[]" not in r["query"] for r in events_reads)
    since = int(events_reads[0]["query"]["created[gte]"][0])
    assert all(r["query"].get("created[gte]") == [str(since)] for r in events_reads)
    cursors = [r["query"].get("starting_after", [None])[0] for r in events_reads]
    assert len(cursors) == len(set(cursors))
    listed = sum(1 for e in store.all("events") if e["created"] >= since)
    assert len(events_reads) == max(1, math.ceil(listed / 100))
    # the lists of streams that follow events are not read again; the changed customer's balance
    # transactions are (customer.updated names them)
    evented_paths = {r["path"] for r in sent} - {"/v1/events"}
    assert f"/v1/customers/{customer}/balance_transactions" in evented_paths
    assert not {"/v1/invoices", "/v1/tax_rates", "/v1/transfers", "/v1/issuing/cards", "/v1/charges"} & evented_paths
