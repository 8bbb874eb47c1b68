"""Streams read by `created` (source/cursors.py): an idle sync is one request from where the last
read began (less the clock skew), the object at the cursor is not emitted again, and an object
created later in the cursor's second is not lost."""

import time

import pytest
from airbyte_cdk.test.entrypoint_wrapper import read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.cursors import CLOCK_SKEW_SECONDS, Boundary, next_cursor, reads_up_to_now
from source_stripe_proxy.source.reader import ReadPlan
from source_stripe_proxy.source.state import MAX_AT_CURSOR, Checkpoint
from unit_tests.test_events import CONFIG, DAY, catalog, final_state, newest_first, records_of, state_of


def txn(name, created):
    return {"id": name, "object": "balance_transaction", "created": created}


def test_the_boundary_drops_only_what_the_last_read_emitted_of_its_second_and_notes_the_newest():
    boundary = Boundary("created", skip_second=100, skip_ids=["a"])
    kept = boundary([txn("a", 100), txn("b", 100), txn("c", 101), {"id": "d"}])
    assert [r["id"] for r in kept] == ["b", "c", "d"]  # d has no time: kept
    assert (boundary.newest, boundary.ids) == (101, ("c",))
    boundary([txn("e", 101), txn("f", 99)])
    assert boundary.ids == ("c", "e")
    assert [r["id"] for r in Boundary("created", None, ["a"])([txn("a", 100)])] == ["a"]  # no second to skip: nothing dropped
    seen = Boundary("created", skip_second=100, skip_ids=["a"])
    seen([txn("a", 100)])
    assert (seen.newest, seen.ids) == (100, ("a",))  # dropped, but read: still the newest


@pytest.mark.parametrize(
    "saved, saved_ids, newest, newest_ids, floor, expected",
    [
        (None, None, None, (), 1000, (1000, None)),  # an empty stream: from when the read began
        (None, None, 900, ("x",), 1000, (1000, None)),  # everything before the floor was read
        (None, None, 1200, ("x", "y"), 1000, (1200, ("x", "y"))),  # newer than the floor: its second's ids
        (800, ("a",), 800, ("b",), None, (800, ("a", "b"))),  # a resumed read that saw nothing newer
        (800, ("a",), None, (), None, (800, ("a",))),
        (None, None, None, (), None, (None, None)),
    ],
)
def test_next_cursor(saved, saved_ids, newest, newest_ids, floor, expected):
    assert next_cursor(saved, saved_ids, newest, newest_ids, floor) == expected


def test_at_most_a_hundred_ids_are_kept_and_a_read_knows_what_came_after_it_only_if_it_went_up_to_now():
    cursor, ids = next_cursor(None, None, 5, [f"o{n:03}" for n in range(150)], None)
    assert cursor == 5 and len(ids) == MAX_AT_CURSOR  # the rest are read again next time, never lost
    plan = lambda intervals: ReadPlan(name="x", path="/v1/x", fixed_params={}, intervals=intervals)  # noqa: E731 - a one-line helper of this test
    assert reads_up_to_now(plan(((None, None),))) and reads_up_to_now(plan(((5, 10), (10, None))))
    assert not reads_up_to_now(plan(((None, 10),)))


def test_an_idle_sync_is_one_request_from_the_cursor_without_the_object_at_it_nor_losing_its_second(requests_mock):
    now = int(time.time())
    cursor = now - 3600
    # txn_seen was emitted by the last read; txn_late was created later in the same second
    newest_first(requests_mock, "/v1/balance_transactions", [txn("txn_old", cursor - 10), txn("txn_seen", cursor), txn("txn_late", cursor)])
    state = state_of(balance_transactions={"created": cursor, "at_cursor": ["txn_seen"]})
    output = read(SourceStripeProxy(), {**CONFIG, "start_date": "2017-01-25T00:00:00Z"}, catalog("balance_transactions"), state)
    assert [r["id"] for r in records_of(output, "balance_transactions")] == ["txn_late"]
    assert [r.qs for r in requests_mock.request_history] == [{"created[gte]": [str(cursor)], "limit": ["100"]}]
    saved = final_state(output, "balance_transactions")
    assert saved == {"created": pytest.approx(now - CLOCK_SKEW_SECONDS, abs=3)}  # began less the skew: newer than txn_late


def test_the_ids_of_the_newest_second_are_kept_when_it_is_within_the_clock_skew(requests_mock):
    now = int(time.time())
    newest_first(
        requests_mock,
        "/v1/file_links",
        [{"id": "link_1", "object": "file_link", "created": now - 5}, {"id": "link_2", "object": "file_link", "created": now - 5}],
    )
    first = read(SourceStripeProxy(), CONFIG, catalog("file_links"))
    assert final_state(first, "file_links") == {"created": now - 5, "at_cursor": ["link_1", "link_2"]}
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(), CONFIG, catalog("file_links"), state_of(file_links=final_state(first, "file_links")))
    assert records_of(second, "file_links") == []  # neither emitted again
    assert [r.qs["created[gte]"] for r in requests_mock.request_history] == [[str(now - 5)]]


def test_an_empty_stream_costs_one_request_first_and_when_idle_whatever_the_start_date(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/shipping_rates", [])
    config = {**CONFIG, "start_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 9 * 365 * DAY))}
    first = read(SourceStripeProxy(), config, catalog("shipping_rates"))
    assert [r.qs.get("created[gte]") for r in requests_mock.request_history] == [[str(now - 9 * 365 * DAY)]]  # one range, not nine years
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(), config, catalog("shipping_rates"), state_of(shipping_rates=final_state(first, "shipping_rates")))
    assert len(requests_mock.request_history) == 1 and records_of(second, "shipping_rates") == []


def test_a_read_from_an_old_cursor_walks_its_windows_saving_each(requests_mock):
    now = int(time.time())
    cursor = now - (3 * 365 - 1) * DAY
    newest_first(requests_mock, "/v1/shipping_rates", [{"id": "shr_1", "object": "shipping_rate", "created": cursor + 400 * DAY}])
    output = read(SourceStripeProxy(), CONFIG, catalog("shipping_rates"), state_of(shipping_rates={"created": cursor}))
    assert len(requests_mock.request_history) == 3  # three one-year windows (slice_range_days)
    assert [r["id"] for r in records_of(output, "shipping_rates")] == ["shr_1"]


def test_with_a_lookback_the_days_before_the_cursor_are_read_again_whole(requests_mock):
    now = int(time.time())
    cursor = now - 3 * DAY
    newest_first(requests_mock, "/v1/balance_transactions", [txn("txn_seen", cursor), txn("txn_before", cursor - DAY // 2)])
    state = state_of(balance_transactions={"created": cursor, "at_cursor": ["txn_seen"]})
    output = read(SourceStripeProxy(), {**CONFIG, "lookback_window_days": 1}, catalog("balance_transactions"), state)
    assert {r["id"] for r in records_of(output, "balance_transactions")} == {"txn_seen", "txn_before"}  # as asked


def test_a_child_read_by_its_own_created_keeps_the_ids_of_its_cursor_second(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/setup_intents", [{"id": "seti_1", "object": "setup_intent", "created": now - DAY}])
    attempts = [
        {"id": "setatt_seen", "object": "setup_attempt", "setup_intent": "seti_1", "created": now - 3600},
        {"id": "setatt_late", "object": "setup_attempt", "setup_intent": "seti_1", "created": now - 3600},
    ]
    newest_first(requests_mock, "/v1/setup_attempts", attempts)
    state = state_of(setup_attempts={"created": now - 3600, "at_cursor": ["setatt_seen"]})
    output = read(SourceStripeProxy(), CONFIG, catalog("setup_attempts"), state)
    assert [r["id"] for r in records_of(output, "setup_attempts")] == ["setatt_late"]
    assert final_state(output, "setup_attempts")["created"] == pytest.approx(now - CLOCK_SKEW_SECONDS, abs=3)


@pytest.mark.parametrize("bad", [["ok", 3], "txn_1", [""], [f"o{n}" for n in range(MAX_AT_CURSOR + 1)]])
def test_a_malformed_at_cursor_is_a_config_error_naming_it(bad):
    with pytest.raises(ConfigError, match="'at_cursor'"):
        Checkpoint.parse("balance_transactions", {"created": 5, "at_cursor": bad})


def test_a_payouts_transactions_are_read_for_the_new_payouts_however_old_the_transactions(requests_mock):
    """A balance transaction joins an automatic payout when the payout is made, days after it was
    created: the next read lists all the transactions of the payouts made since, only theirs."""
    t0 = int(time.time())
    payouts = [{"id": "po_1", "object": "payout", "created": t0 - 2 * DAY, "automatic": True}]
    paid_out = {"po_1": [txn("txn_a", t0 - 5 * DAY)]}
    newest_first(requests_mock, "/v1/payouts", payouts)
    requests_mock.get(
        "https://api.stripe.com/v1/balance_transactions",
        json=lambda request, context: {"object": "list", "data": paid_out[request.qs["payout"][0]], "has_more": False, "url": "/v1/x"},
    )

    def sync(at, state=None):
        requests_mock.reset_mock()
        output = read(SourceStripeProxy(clock=lambda: at), CONFIG, catalog("payout_balance_transactions"), state)
        asked = [(r.path, r.qs.get("payout", r.qs.get("created[gte]"))) for r in requests_mock.request_history]
        return output, asked, state_of(payout_balance_transactions=final_state(output, "payout_balance_transactions"))

    first, _, state = sync(t0)
    assert [r["id"] for r in records_of(first, "payout_balance_transactions")] == ["txn_a"]
    payouts.append({"id": "po_2", "object": "payout", "created": t0 + 3600, "automatic": True})
    newest_first(requests_mock, "/v1/payouts", payouts)
    paid_out["po_2"] = [txn("txn_b", t0 - DAY)]  # created before the first read began
    second, asked, state = sync(t0 + 2 * 3600, state)
    assert [r["id"] for r in records_of(second, "payout_balance_transactions")] == ["txn_b"]
    assert asked == [("/v1/payouts", [str(t0 - CLOCK_SKEW_SECONDS)]), ("/v1/balance_transactions", ["po_2"])]
    idle, asked, _ = sync(t0 + 3 * 3600, state)
    assert records_of(idle, "payout_balance_transactions") == []
    assert asked == [("/v1/payouts", [str(t0 + 2 * 3600 - CLOCK_SKEW_SECONDS)])]  # no payout made since: one request
