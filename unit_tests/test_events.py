"""Change capture through events, with Stripe mocked by requests-mock: the first read and its
event cursor, de-duplication, deletes, re-fetches, the 30-day horizon and child streams."""

import time

import jsonschema
import pytest
from airbyte_cdk.models import SyncMode, TraceType, Type
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.client import ApiResponse
from source_stripe_proxy.core.stripe_facts import MAX_EVENT_TYPES as STRIPE_MAX_EVENT_TYPES
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.events import EventChanges
from source_stripe_proxy.source.stream_specs import STREAM_SPECS, StreamSpec
from source_stripe_proxy.source.streams import CLOCK_SKEW_SECONDS

API_KEY = "sk_test_eventsUNITsecret"
BASE = "https://api.stripe.com"
CONFIG = {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "max_retries": 1}
DAY = 86_400
VERSION = "2024-06-20"


def stripe_list(objects, has_more=False, url="/v1/x"):
    return {"object": "list", "data": objects, "has_more": has_more, "url": url}


def customer(n, created, **fields):
    return {"id": f"cus_{n}", "object": "customer", "created": created, "email": f"c{n}@example.com", "metadata": {}, **fields}


def event(n, event_type, obj, created, api_version=VERSION):
    return {
        "id": f"evt_{n}",
        "object": "event",
        "type": event_type,
        "created": created,
        "api_version": api_version,
        "data": {"object": obj},
    }


def catalog(*names, mode=SyncMode.incremental):
    builder = CatalogBuilder()
    for name in names:
        builder = builder.with_stream(name, mode)
    return builder.build()


def state_of(**streams):
    builder = StateBuilder()
    for name, value in streams.items():
        builder = builder.with_stream_state(name, value)
    return builder.build()


def newest_first(requests_mock, path, objects, created_field="created"):
    """A Stripe list endpoint: newest first, limit, starting_after, created[gte|lt], types[]."""
    ordered = sorted(objects, key=lambda o: (-o[created_field], o["id"]))

    def answer(request, context):
        qs = request.qs
        rows = ordered
        if "created[gte]" in qs:
            rows = [o for o in rows if o[created_field] >= int(qs["created[gte]"][0])]
        if "created[lt]" in qs:
            rows = [o for o in rows if o[created_field] < int(qs["created[lt]"][0])]
        if "types[]" in qs:
            rows = [o for o in rows if o["type"] in qs["types[]"]]
        if "starting_after" in qs:
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(qs["starting_after"][0]) + 1 :]
        limit = int(qs.get("limit", ["10"])[0])
        return stripe_list(rows[:limit], has_more=len(rows) > limit, url=path)

    requests_mock.get(f"{BASE}{path}", json=answer)


def records_of(output, stream):
    return [m.record.data for m in output.records if m.record.stream == stream]


def final_state(output, stream):
    states = [m.state.stream.stream_state for m in output.state_messages if m.state.stream.stream_descriptor.name == stream]
    return states[-1].__dict__ if hasattr(states[-1], "__dict__") else dict(states[-1])


def paths(requests_mock):
    return [r.path for r in requests_mock.request_history]


# -- the catalogue ------------------------------------------------------------------


def test_event_types_come_from_stripes_list_and_fit_one_request():
    assert STREAM_SPECS["customers"].event_types == ("customer.created", "customer.deleted", "customer.updated")
    assert "customer.subscription.deleted" in STREAM_SPECS["subscriptions"].event_types
    assert STREAM_SPECS["subscriptions"].deleted_event is None  # a cancellation, the object stays
    assert "invoice.upcoming" not in STREAM_SPECS["invoices"].event_types  # a preview without an id
    assert set(STREAM_SPECS["refunds"].event_types) == {"refund.created", "refund.updated", "charge.refund.updated"}
    for spec in STREAM_SPECS.values():
        assert len(spec.event_types) <= STRIPE_MAX_EVENT_TYPES, spec.name
        if spec.deleted_event:
            assert spec.deleted_event in spec.event_types
    assert not STREAM_SPECS["balance_transactions"].event_types and not STREAM_SPECS["events"].event_types
    # children follow their parent's events; only endpoints with `created` filters are split
    assert STREAM_SPECS["invoice_line_items"].source is STREAM_SPECS["invoices"]
    assert STREAM_SPECS["subscription_items"].source.list_path == "/v1/subscriptions"
    assert STREAM_SPECS["invoices"].filters_created


# -- the first read -------------------------------------------------------------------


def test_first_read_lists_and_starts_the_event_cursor_when_the_read_began(requests_mock):
    now = int(time.time())
    objects = [customer(i, now - 10 * DAY + i) for i in range(5)]
    newest_first(requests_mock, "/v1/customers", objects)
    before = int(time.time())
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"))
    assert paths(requests_mock) == ["/v1/customers"]
    assert [r["updated"] for r in records_of(output, "customers")] == [r["created"] for r in records_of(output, "customers")]
    state = final_state(output, "customers")
    # changes made while the list was read are in the next events read
    assert before - CLOCK_SKEW_SECONDS - 2 <= state["events_since"] <= before - CLOCK_SKEW_SECONDS + 2
    # everything created before the read began was read: `created` says so, the same for every account
    assert state["created"] == state["events_since"] >= max(o["created"] for o in objects) and "first_read_began" not in state


def test_an_interrupted_first_read_resumes_and_keeps_its_original_start(requests_mock):
    now = int(time.time())
    began = now - 2 * DAY
    newest_first(requests_mock, "/v1/customers", [customer(i, now - 5 * DAY + i * DAY) for i in range(5)])
    state = state_of(customers={"created": now - 3 * DAY, "first_read_began": began})
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"), state)
    assert requests_mock.request_history[0].qs["created[gte]"] == [str(now - 3 * DAY)]
    assert final_state(output, "customers")["events_since"] == began


def test_the_old_created_only_state_continues_by_created_then_switches_to_events(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(i, now - 5 * DAY + i * DAY) for i in range(5)])
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"), state_of(customers={"created": now - 2 * DAY}))
    assert requests_mock.request_history[0].qs["created[gte]"] == [str(now - 2 * DAY)]
    assert {r["id"] for r in records_of(output, "customers")} == {"cus_3", "cus_4"}
    assert "events_since" in final_state(output, "customers")


# -- events ------------------------------------------------------------------------


def test_events_give_each_changed_object_once_in_its_latest_version_and_tombstones_deletes(requests_mock):
    now = int(time.time())
    since = now - 3600
    events = [
        event(1, "customer.updated", customer(2, now - 9 * DAY, email="old2@example.com"), now - 50),
        event(2, "customer.created", customer(3, now - 40), now - 40),
        event(3, "customer.updated", customer(1, now - 9 * DAY, email="v2@example.com"), now - 30),
        event(4, "customer.updated", customer(1, now - 9 * DAY, email="v3@example.com"), now - 20),
        event(5, "customer.deleted", customer(2, now - 9 * DAY), now - 10),
        event(6, "customer.subscription.updated", {"id": "sub_1", "object": "subscription"}, now - 5),  # not a customer event
        event(7, "customer.updated", customer(9, now - 9 * DAY), since - 1),  # before the cursor
    ]
    newest_first(requests_mock, "/v1/events", events)
    config = {**CONFIG, "page_size": 2}  # the seen-set must hold across pages
    output = read(SourceStripeProxy(), config, catalog("customers"), state_of(customers={"created": now - DAY, "events_since": since}))

    assert set(paths(requests_mock)) == {"/v1/events"}  # no list read, no re-fetch
    first = requests_mock.request_history[0].qs
    assert first["types[]"] == ["customer.created", "customer.deleted", "customer.updated"]
    assert first["created[gte]"] == [str(since)]
    records = {r["id"]: r for r in records_of(output, "customers")}
    assert len(records_of(output, "customers")) == 3
    assert records["cus_1"]["email"] == "v3@example.com" and records["cus_1"]["updated"] == now - 20
    # the tombstone is the object as the deleted event carries it (its last version), marked deleted
    assert records["cus_2"] == {**customer(2, now - 9 * DAY), "is_deleted": True, "updated": now - 10}
    assert records["cus_1"]["is_deleted"] is False and records["cus_3"]["is_deleted"] is False  # live: false, not absent
    assert records["cus_3"]["updated"] == now - 40
    validator = jsonschema.Draft7Validator(load_schema("customers"))
    for record in records.values():
        validator.validate(record)
    # the next read overlaps the last few minutes: Stripe may list an event late
    assert final_state(output, "customers")["events_since"] == pytest.approx(now - CLOCK_SKEW_SECONDS, abs=3)
    kinds = [m.type for m in output.records_and_state_messages]
    assert kinds[-1] == Type.STATE


def test_an_event_rendered_at_another_api_version_is_refetched(requests_mock):
    now = int(time.time())
    events = [
        event(1, "customer.updated", customer(1, now - DAY, email="stale@example.com"), now - 30, api_version="2020-08-27"),
        event(2, "customer.updated", customer(2, now - DAY, email="current@example.com"), now - 20),
        event(3, "customer.updated", customer(3, now - DAY), now - 10, api_version="2019-01-01"),
        event(4, "customer.updated", customer(4, now - DAY), now - 5, api_version="2019-01-01"),
    ]
    newest_first(requests_mock, "/v1/events", events)
    requests_mock.get(f"{BASE}/v1/customers/cus_1", json=customer(1, now - DAY, email="fresh@example.com"))
    requests_mock.get(f"{BASE}/v1/customers/cus_3", json={"id": "cus_3", "object": "customer", "deleted": True})
    requests_mock.get(
        f"{BASE}/v1/customers/cus_4",
        status_code=404,
        json={"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"}},
    )
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"), state_of(customers={"events_since": now - 3600}))
    records = {r["id"]: r for r in records_of(output, "customers")}
    assert records["cus_1"]["email"] == "fresh@example.com" and records["cus_1"]["updated"] == now - 30
    assert records["cus_2"]["email"] == "current@example.com"
    assert records["cus_3"]["is_deleted"] is True  # deleted since the event: its current state
    assert records["cus_4"]["is_deleted"] is True
    # gone now, so the event's version is the last one there is: kept, marked deleted
    assert records["cus_4"]["created"] == now - DAY and records["cus_4"]["email"] == "c4@example.com"
    assert records["cus_4"]["updated"] == now - 5 and records["cus_1"]["is_deleted"] is False
    assert sorted(p for p in paths(requests_mock) if p != "/v1/events") == [
        "/v1/customers/cus_1",
        "/v1/customers/cus_3",
        "/v1/customers/cus_4",
    ]


def test_refetch_mode_costs_one_get_per_changed_object_not_per_event(requests_mock):
    now = int(time.time())
    events = [event(i, "customer.updated", customer(i % 2, now - DAY), now - 100 + i) for i in range(6)]
    newest_first(requests_mock, "/v1/events", events)
    for n in (0, 1):
        requests_mock.get(f"{BASE}/v1/customers/cus_{n}", json=customer(n, now - DAY, email="now@example.com"))
    config = {**CONFIG, "event_payloads": "refetch"}
    output = read(SourceStripeProxy(), config, catalog("customers"), state_of(customers={"events_since": now - 3600}))
    assert paths(requests_mock).count("/v1/customers/cus_0") == 1 and paths(requests_mock).count("/v1/customers/cus_1") == 1
    assert {r["email"] for r in records_of(output, "customers")} == {"now@example.com"}


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        self.settings = type("S", (), {"stripe_version": VERSION})()

    def send(self, method, path, params=None, account_id=None, **_):
        self.calls.append((path, params, account_id))
        return ApiResponse(200, dict(self.answers[path]), {})


def test_a_stream_with_expansions_always_refetches_with_them():
    spec = StreamSpec("charges", "/v1/charges", events=("charge",), detail="/v1/charges/{id}", expand=("customer",))
    client = FakeClient({"/v1/charges/ch_1": {"id": "ch_1", "customer": {"id": "cus_1", "object": "customer"}}})
    changes = EventChanges(spec, client, refetch_always=False, account_id="acct_1")
    records = changes([event(1, "charge.updated", {"id": "ch_1", "customer": "cus_1"}, 100)])
    assert records == [{"id": "ch_1", "customer": {"id": "cus_1", "object": "customer"}, "updated": 100}]
    assert client.calls == [("/v1/charges/ch_1", {"expand": ["customer"]}, "acct_1")]


def test_products_keep_their_own_newer_updated_time():
    spec = STREAM_SPECS["products"]
    client = FakeClient({})
    changes = EventChanges(spec, client, refetch_always=False, account_id=None)
    [record] = changes([event(1, "product.updated", {"id": "prod_1", "object": "product", "updated": 500}, 400)])
    assert record["updated"] == 500


# -- the 30-day horizon ------------------------------------------------------------


def test_state_older_than_event_retention_falls_back_to_a_full_reread_with_a_warning(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(i, now - 100 * DAY + i * DAY) for i in range(100)])
    state = state_of(customers={"created": now - 40 * DAY, "events_since": now - 31 * DAY})
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"), state)
    assert "/v1/events" not in paths(requests_mock)
    assert "created[gte]" not in requests_mock.request_history[0].qs  # the whole stream, not from the cursor
    assert len(records_of(output, "customers")) == 100
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN"]
    assert any("customers" in w and "30 days" in w and "Re-reading" in w for w in warnings)
    analytics = [m.trace.analytics for m in output._messages if m.type == Type.TRACE and m.trace.type == TraceType.ANALYTICS]
    assert [(a.type, a.value) for a in analytics] == [("stale_state_full_reread", "customers")]
    assert final_state(output, "customers")["events_since"] > now - 3600  # fresh again


@pytest.mark.parametrize("age, stale", [(29 * DAY, False), (30 * DAY - 1800, True), (30 * DAY - 7200, False)])
def test_the_horizon_keeps_a_safety_margin(requests_mock, age, stale):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [])
    newest_first(requests_mock, "/v1/events", [])
    read(SourceStripeProxy(), CONFIG, catalog("customers"), state_of(customers={"events_since": now - age}))
    assert paths(requests_mock) == (["/v1/customers"] if stale else ["/v1/events"])


def test_stale_state_can_fail_the_sync_with_a_clear_config_error(requests_mock):
    now = int(time.time())
    state = state_of(customers={"events_since": now - 45 * DAY})
    output = read(SourceStripeProxy(), {**CONFIG, "on_stale_state": "fail"}, catalog("customers"), state, expecting_exception=True)
    assert requests_mock.call_count == 0
    error = output.errors[-1].trace.error
    assert error.failure_type.value == "config_error"
    assert "customers" in error.message and "45 days" in error.message and "on_stale_state" in error.message


def test_immutable_streams_keep_the_created_cursor(requests_mock):
    now = int(time.time())
    txns = [{"id": f"txn_{i}", "object": "balance_transaction", "created": now - 50 * DAY + i * DAY} for i in range(50)]
    newest_first(requests_mock, "/v1/balance_transactions", txns)
    state = state_of(balance_transactions={"created": now - 10 * DAY})
    output = read(SourceStripeProxy(), CONFIG, catalog("balance_transactions"), state)
    assert paths(requests_mock) == ["/v1/balance_transactions"]
    assert [r.qs["created[gte]"] for r in requests_mock.request_history] == [[str(now - 10 * DAY)]]
    # everything created before the read began, less the clock skew, has been read: the next one starts there
    assert final_state(output, "balance_transactions") == {"created": pytest.approx(now - CLOCK_SKEW_SECONDS, abs=3)}


# -- child streams ----------------------------------------------------------------


def line(invoice, n):
    return {"id": f"il_{invoice}_{n}", "object": "line_item", "invoice": invoice, "amount": 100 + n}


def test_child_streams_page_through_the_parents_embedded_list(requests_mock):
    now = int(time.time())
    lines = [line("in_1", n) for n in range(13)]
    invoice = {"id": "in_1", "object": "invoice", "created": now - DAY, "lines": stripe_list(lines[:10], has_more=True)}
    newest_first(
        requests_mock,
        "/v1/invoices",
        [invoice, {"id": "in_2", "object": "invoice", "created": now - 2 * DAY, "lines": stripe_list([line("in_2", 0)])}],
    )
    requests_mock.get(f"{BASE}/v1/invoices/in_1/lines", json=stripe_list(lines[10:]))
    output = read(SourceStripeProxy(), CONFIG, catalog("invoice_line_items"))
    records = records_of(output, "invoice_line_items")
    assert sorted(r["id"] for r in records) == sorted([*(line["id"] for line in lines), "il_in_2_0"])
    assert requests_mock.request_history[-1].qs["starting_after"] == ["il_in_1_9"]
    assert {r["updated"] for r in records if r["invoice"] == "in_1"} == {now - DAY}
    validator = jsonschema.Draft7Validator(load_schema("invoice_line_items"))
    for record in records:
        validator.validate(record)


def test_child_streams_follow_their_parents_events(requests_mock):
    now = int(time.time())
    items = [{"id": f"si_{n}", "object": "subscription_item", "subscription": "sub_1", "created": now - DAY} for n in range(12)]
    sub = {
        "id": "sub_1",
        "object": "subscription",
        "created": now - DAY,
        "status": "canceled",
        "items": stripe_list(items[:10], has_more=True),
    }
    newest_first(requests_mock, "/v1/events", [event(1, "customer.subscription.deleted", sub, now - 60)])
    requests_mock.get(f"{BASE}/v1/subscription_items", json=stripe_list(items[10:]))
    state = state_of(subscription_items={"events_since": now - 3600})
    output = read(SourceStripeProxy(), CONFIG, catalog("subscription_items"), state)
    records = records_of(output, "subscription_items")
    assert sorted(r["id"] for r in records) == sorted(i["id"] for i in items)
    assert {r["updated"] for r in records} == {now - 60}
    assert requests_mock.request_history[0].qs["types[]"] == list(STREAM_SPECS["subscriptions"].event_types)
    assert requests_mock.request_history[-1].qs == {"subscription": ["sub_1"], "starting_after": ["si_9"], "limit": ["100"]}


def test_list_reads_mark_live_records_of_streams_that_can_have_deletes(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(i, now - DAY + i) for i in range(3)])
    newest_first(requests_mock, "/v1/balance_transactions", [{"id": "txn_1", "object": "balance_transaction", "created": now - DAY}])
    output = read(SourceStripeProxy(), CONFIG, catalog("customers", "balance_transactions"))
    assert [r["is_deleted"] for r in records_of(output, "customers")] == [False, False, False]
    # balance transactions are never deleted: no is_deleted, and their schema has none
    assert "is_deleted" not in records_of(output, "balance_transactions")[0]
    for name, spec in STREAM_SPECS.items():
        properties = load_schema(name)["properties"]
        assert ("is_deleted" in properties) == spec.can_be_deleted, name
        if spec.can_be_deleted:
            assert properties["is_deleted"] == {"type": "boolean"}, name
    assert not STREAM_SPECS["events"].can_be_deleted and STREAM_SPECS["subscription_items"].can_be_deleted


def subscription(n, items, created, **fields):
    return {
        "id": f"sub_{n}",
        "object": "subscription",
        "created": created,
        "status": "active",
        "metadata": {},
        "items": stripe_list(items),
        **fields,
    }


def item(n, sub=1):
    return {
        "id": f"si_{n}",
        "object": "subscription_item",
        "subscription": f"sub_{sub}",
        "created": 1000 + n,
        "price": {"id": f"price_{n}"},
    }


def updated_event(n, obj, when, previous):
    made = event(n, "customer.subscription.updated", obj, when)
    made["data"]["previous_attributes"] = previous
    return made


def test_subscription_items_removed_from_a_subscription_become_tombstones(requests_mock):
    """The removal is in an older event than the subscription's newest: each event's
    previous_attributes is read, not only the newest one's."""
    now = int(time.time())
    created = now - 10 * DAY
    events = [
        # sub_1: item 2 replaced by item 3 (an upgrade), then only its metadata changed
        updated_event(1, subscription(1, [item(1), item(3)], created), now - 50, {"items": stripe_list([item(1), item(2)])}),
        updated_event(2, subscription(1, [item(1), item(3)], created, metadata={"seats": "5"}), now - 20, {"metadata": {}}),
        # sub_2: item 4 removed, and the removal is its newest event
        updated_event(3, subscription(2, [item(5, sub=2)], created), now - 30, {"items": stripe_list([item(4, sub=2), item(5, sub=2)])}),
        # sub_3: an item removed, then the same subscription's items listed again without it
        updated_event(4, subscription(3, [item(7, sub=3)], created), now - 40, {"items": stripe_list([item(6, sub=3), item(7, sub=3)])}),
        updated_event(5, subscription(3, [item(7, sub=3)], created), now - 10, {"items": stripe_list([item(6, sub=3), item(7, sub=3)])}),
    ]
    newest_first(requests_mock, "/v1/events", events)
    config = {**CONFIG, "page_size": 1}  # the newest version and the removal arrive on different pages
    output = read(SourceStripeProxy(), config, catalog("subscription_items"), state_of(subscription_items={"events_since": now - 3600}))
    records = records_of(output, "subscription_items")
    by_id = {r["id"]: r for r in records}
    assert len(records) == len(by_id), "a child emitted twice"
    assert {i for i, r in by_id.items() if r["is_deleted"]} == {"si_2", "si_4", "si_6"}
    assert {i for i, r in by_id.items() if not r["is_deleted"]} == {"si_1", "si_3", "si_5", "si_7"}
    # a tombstone keeps the item as it was, and its time is the event that removed it
    assert by_id["si_2"]["price"] == {"id": "price_2"} and by_id["si_2"]["subscription"] == "sub_1"
    assert by_id["si_2"]["updated"] == now - 50 and by_id["si_4"]["updated"] == now - 30
    assert by_id["si_6"]["updated"] == now - 10  # the newest removal event of sub_3
    assert by_id["si_1"]["updated"] == now - 20  # live children take their parent's newest change
    validator = jsonschema.Draft7Validator(load_schema("subscription_items"))
    for record in records:
        validator.validate(record)
    assert set(paths(requests_mock)) == {"/v1/events"}


def test_the_lines_of_a_deleted_invoice_become_tombstones(requests_mock):
    now = int(time.time())
    lines = [line("in_1", n) for n in range(12)]
    deleted = {"id": "in_1", "object": "invoice", "created": now - DAY, "status": "draft", "lines": stripe_list(lines[:10], has_more=True)}
    live = {"id": "in_2", "object": "invoice", "created": now - DAY, "status": "open", "lines": stripe_list([line("in_2", 0)])}
    events = [
        event(1, "invoice.updated", dict(deleted), now - 60),
        event(2, "invoice.deleted", deleted, now - 30),
        event(3, "invoice.finalized", live, now - 20),
    ]
    newest_first(requests_mock, "/v1/events", events)
    state = state_of(invoices={"events_since": now - 3600}, invoice_line_items={"events_since": now - 3600})
    output = read(SourceStripeProxy(), CONFIG, catalog("invoices", "invoice_line_items"), state)
    invoices = {r["id"]: r for r in records_of(output, "invoices")}
    assert invoices["in_1"]["is_deleted"] is True and invoices["in_1"]["status"] == "draft" and invoices["in_1"]["created"] == now - DAY
    assert invoices["in_2"]["is_deleted"] is False
    lines_out = {r["id"]: r for r in records_of(output, "invoice_line_items")}
    # the deleted invoice's embedded lines, marked deleted at its deletion; its list endpoint is gone, so not paged
    assert {i for i, r in lines_out.items() if r["is_deleted"]} == {line["id"] for line in lines[:10]}
    assert {r["updated"] for r in lines_out.values() if r["is_deleted"]} == {now - 30}
    assert lines_out["il_in_2_0"]["is_deleted"] is False
    assert set(paths(requests_mock)) == {"/v1/events"}
