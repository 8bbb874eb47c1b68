"""Every kind of read resumes from the intervals its state left (issue 16), through the source
with Stripe mocked by requests-mock: list reads, child streams, events reads and per-account
reads; and a read that is cut short leaves a state that covers exactly what was emitted."""

import time

from airbyte_cdk.test.entrypoint_wrapper import read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.source.streams import CLOCK_SKEW_SECONDS
from unit_tests.test_accounts import ACCOUNTS, accounts_in, per_account_server
from unit_tests.test_events import CONFIG, DAY, catalog, customer, event, final_state, line, newest_first, records_of, state_of, stripe_list

STRIPE = "https://api.stripe.com"


def created_filters(requests_mock, path):
    return [
        (int(r.qs["created[gte]"][0]) if "created[gte]" in r.qs else None, int(r.qs["created[lt]"][0]) if "created[lt]" in r.qs else None)
        for r in requests_mock.request_history
        if r.path == path and "starting_after" not in r.qs
    ]


def test_a_first_read_resumes_only_the_intervals_left(requests_mock):
    now = int(time.time())
    objects = [customer(i, now - 10 * DAY + i * 3600) for i in range(200)]
    newest_first(requests_mock, "/v1/customers", objects)
    began = now - DAY
    left = [[None, now - 9 * DAY], [now - 8 * DAY, now - 7 * DAY]]
    state = state_of(customers={"first_read_began": began, "newest_seen": now - 3 * DAY, "to_read": left})
    output = read(SourceStripeProxy(), {**CONFIG, "concurrency": 1}, catalog("customers"), state)
    inside = [o for o in objects if o["created"] < now - 9 * DAY or now - 8 * DAY <= o["created"] < now - 7 * DAY]
    assert sorted(r["id"] for r in records_of(output, "customers")) == sorted(o["id"] for o in inside)
    assert sorted(created_filters(requests_mock, "/v1/customers"), key=str) == sorted(map(tuple, left), key=str)
    assert final_state(output, "customers") == {"created": began, "events_since": began}  # complete: hands over to events


def test_a_state_checkpointed_mid_read_covers_exactly_what_was_emitted(requests_mock):
    now = int(time.time())
    objects = [customer(i, now - 10 * DAY + i * 600) for i in range(1000)]
    newest_first(requests_mock, "/v1/customers", objects)
    output = read(SourceStripeProxy(), {**CONFIG, "concurrency": 4, "page_size": 20}, catalog("customers"))
    emitted, checked = set(), 0
    for message in output.records_and_state_messages:
        if message.record is not None:
            emitted.add(message.record.data["created"])
            continue
        state = message.state.stream.stream_state.__dict__
        if "to_read" not in state:
            continue
        checked += 1
        for o in objects:  # every object not yet emitted is in what the state says is left
            if o["created"] not in emitted:
                assert any((lo is None or lo <= o["created"]) and (hi is None or o["created"] < hi) for lo, hi in state["to_read"])
    assert checked >= 1000 / 20 / 4  # a checkpoint every `concurrency` pages
    assert "to_read" not in final_state(output, "customers")


def test_a_child_stream_resumes_by_its_parents_intervals(requests_mock):
    now = int(time.time())
    invoices = [
        {"id": f"in_{n}", "object": "invoice", "created": now - n * DAY, "lines": stripe_list([line(f"in_{n}", 0)])} for n in range(1, 6)
    ]
    newest_first(requests_mock, "/v1/invoices", invoices)
    state = state_of(invoice_line_items={"first_read_began": now - 3600, "to_read": [[None, now - 3 * DAY + 1]]})
    output = read(SourceStripeProxy(), CONFIG, catalog("invoice_line_items"), state)
    assert sorted(r["invoice"] for r in records_of(output, "invoice_line_items")) == ["in_3", "in_4", "in_5"]


def test_an_events_read_resumes_newest_interval_first_and_the_minutes_before_it_began(requests_mock):
    now = int(time.time())
    killed_began = now - 2 * DAY
    since = now - 10 * DAY
    events = [
        event(1, "customer.updated", customer(1, now - 20 * DAY, email="old@example.com"), now - 9 * DAY),
        event(2, "customer.updated", customer(2, now - 20 * DAY), now - 8 * DAY),  # read before the kill
        event(3, "customer.updated", customer(1, now - 20 * DAY, email="new@example.com"), now - 60),  # after it
    ]
    newest_first(requests_mock, "/v1/events", events)
    left = [[since, now - 8 * DAY], [killed_began - 300, None]]
    state = state_of(customers={"created": now - 20 * DAY, "events_since": since, "newest_seen": now - 8 * DAY, "to_read": left})
    output = read(SourceStripeProxy(), CONFIG, catalog("customers"), state)
    records = records_of(output, "customers")
    assert [(r["id"], r["email"]) for r in records] == [("cus_1", "new@example.com")]  # once, in its latest version
    # one pass, newest interval first, so the first event seen of an object is its latest
    assert created_filters(requests_mock, "/v1/events") == [(killed_began - 300, None), (since, now - 8 * DAY)]
    state = final_state(output, "customers")
    # complete: from the newest event, but not past this read's start minus the clock skew
    assert "to_read" not in state and abs(state["events_since"] - (now - CLOCK_SKEW_SECONDS)) <= 2


def test_each_account_resumes_its_own_intervals(requests_mock):
    now = int(time.time())
    seen = per_account_server(
        requests_mock, "/v1/customers", {ACCOUNTS[0]: [customer(1, now - 5 * DAY)], ACCOUNTS[1]: [customer(2, now - 5 * DAY)]}
    )
    state = state_of(
        customers={
            "accounts": {
                ACCOUNTS[0]: {"first_read_began": now - 3600, "to_read": [[now - 6 * DAY, now - 4 * DAY]]},
                ACCOUNTS[1]: {"first_read_began": now - 3600, "to_read": [[None, now - 30 * DAY]]},
            }
        }
    )
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"), state)
    filters = {account: (qs.get("created[gte]"), qs.get("created[lt]")) for account, qs in seen}
    assert filters == {ACCOUNTS[0]: ([str(now - 6 * DAY)], [str(now - 4 * DAY)]), ACCOUNTS[1]: (None, [str(now - 30 * DAY)])}
    # the fake server ignores filters; the reader keeps each account's records inside its intervals
    assert [(r["account_id"], r["id"]) for r in records_of(output, "customers")] == [(ACCOUNTS[0], "cus_1")]
    accounts = accounts_in(final_state(output, "customers"))
    assert all("to_read" not in accounts[a] and "events_since" in accounts[a] for a in ACCOUNTS)
