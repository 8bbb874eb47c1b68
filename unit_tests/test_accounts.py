"""Many Stripe Connect accounts in one connection (`account_ids`), with Stripe mocked by
requests-mock: one job per (stream, account) with Stripe-Account, records and primary key
carry account_id, state per account, "all" lists the accounts, and validation."""

import json
import time

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover, read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.options import parse_account_ids
from source_stripe_proxy.source.state import parse_state
from unit_tests.test_events import BASE, CONFIG, DAY, catalog, customer, event, final_state, records_of, state_of, stripe_list

ACCOUNTS = ["acct_1Alpha", "acct_2Beta"]


def accounts_in(state):
    """Each account's checkpoint (as a dict) in a per-account state of any shape."""
    return {account: checkpoint.to_dict() for account, checkpoint in parse_state("stream", state, per_account=True)[0].items()}


def per_account_server(requests_mock, path, data_by_account):
    """A list endpoint answering with each account's objects (by Stripe-Account), or 403."""
    seen = []

    def answer(request, context):
        account = request.headers.get("Stripe-Account")
        seen.append((account, dict(request.qs)))
        if account not in data_by_account:
            context.status_code = 403
            return {"error": {"type": "invalid_request_error", "code": "account_invalid", "message": "no access to this account"}}
        rows = data_by_account[account]
        if "types[]" in request.qs:
            rows = [r for r in rows if r["type"] in request.qs["types[]"]]
        return stripe_list(rows)

    requests_mock.get(f"{BASE}{path}", json=answer)
    return seen


def test_discover_keys_records_by_account_only_when_account_ids_is_set():
    plain = {s.name: s for s in discover(SourceStripeProxy(), CONFIG).catalog.catalog.streams}
    multi = {s.name: s for s in discover(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}).catalog.catalog.streams}
    assert plain["customers"].source_defined_primary_key == [["id"]]
    assert multi["customers"].source_defined_primary_key == [["account_id"], ["id"]]
    assert all(multi[name].source_defined_primary_key == [["account_id"], *plain[name].source_defined_primary_key] for name in plain)
    assert multi["customers"].json_schema["properties"]["account_id"]["type"] == ["null", "string"]


def test_every_stream_is_read_once_per_account_with_state_per_account(requests_mock):
    now = int(time.time())
    # the same id in two accounts is two records: the key is [account_id, id]
    seen = per_account_server(
        requests_mock,
        "/v1/customers",
        {ACCOUNTS[0]: [customer(1, now - DAY), customer(2, now - 2 * DAY)], ACCOUNTS[1]: [customer(1, now - 3 * DAY)]},
    )
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"))
    records = records_of(output, "customers")
    assert sorted((r["account_id"], r["id"]) for r in records) == [(ACCOUNTS[0], "cus_1"), (ACCOUNTS[0], "cus_2"), (ACCOUNTS[1], "cus_1")]
    assert sorted(account for account, _ in seen) == ACCOUNTS
    accounts = accounts_in(final_state(output, "customers"))
    assert set(accounts) == set(ACCOUNTS)
    # complete: each account's events start when the read began, and so does `created`: the same for both
    assert (
        accounts[ACCOUNTS[0]] == accounts[ACCOUNTS[1]]
        and accounts[ACCOUNTS[0]]["created"] == accounts[ACCOUNTS[0]]["events_since"] > now - DAY
    )
    assert output.get_stream_statuses("customers")[-1].name == "COMPLETE"


def test_each_account_resumes_from_its_own_state(requests_mock):
    now = int(time.time())
    per_account_server(requests_mock, "/v1/events", {ACCOUNTS[0]: [event(1, "customer.updated", customer(7, now - DAY), now - 60)]})
    list_calls = per_account_server(requests_mock, "/v1/customers", {ACCOUNTS[1]: [customer(8, now - DAY)]})
    state = state_of(customers={"accounts": {ACCOUNTS[0]: {"created": now - DAY, "events_since": now - 3600}}})
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"), state)
    assert sorted((r["account_id"], r["id"], r["updated"]) for r in records_of(output, "customers")) == [
        (ACCOUNTS[0], "cus_7", now - 60),  # from its events
        (ACCOUNTS[1], "cus_8", now - DAY),  # a first read: listed
    ]
    assert [account for account, _ in list_calls] == [ACCOUNTS[1]]
    accounts = accounts_in(final_state(output, "customers"))
    assert "events_since" in accounts[ACCOUNTS[0]] and "events_since" in accounts[ACCOUNTS[1]]


def test_all_lists_the_connected_accounts_with_the_platform_key(requests_mock):
    now = int(time.time())

    def accounts_page(request, context):
        assert "Stripe-Account" not in request.headers  # the platform's own list
        if "starting_after" not in request.qs:
            return stripe_list([{"id": ACCOUNTS[0], "object": "account"}], has_more=True)
        return stripe_list([{"id": ACCOUNTS[1], "object": "account"}])

    requests_mock.get(f"{BASE}/v1/accounts", json=accounts_page)
    seen = per_account_server(requests_mock, "/v1/products", {a: [{"id": "prod_1", "object": "product", "created": now}] for a in ACCOUNTS})
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": "all"}, catalog("products", mode=SyncMode.full_refresh))
    assert sorted(r["account_id"] for r in records_of(output, "products")) == ACCOUNTS
    assert sorted(a for a, _ in seen) == ACCOUNTS


def test_an_account_the_platform_can_no_longer_reach_is_dropped_with_one_warning(requests_mock):
    now = int(time.time())
    # acct_2Beta answers Stripe's 403 account_invalid on every stream (disconnected since the last sync)
    per_account_server(requests_mock, "/v1/customers", {ACCOUNTS[0]: [customer(1, now - DAY)]})
    per_account_server(requests_mock, "/v1/plans", {ACCOUNTS[0]: [{"id": "plan_1", "object": "plan", "created": now - DAY}]})
    saved = {ACCOUNTS[1]: {"created": now - 9 * DAY}}
    state = state_of(customers={"accounts": saved}, plans={"accounts": saved})
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers", "plans"), state)
    assert not output.errors
    assert [r["account_id"] for r in records_of(output, "customers")] == [ACCOUNTS[0]]
    for stream in ("customers", "plans"):
        assert output.get_stream_statuses(stream)[-1].name == "COMPLETE"
        assert set(accounts_in(final_state(output, stream))) == {ACCOUNTS[0]}
    warnings = [m.log.message for m in output.logs if m.log.level.name == "WARN" and ACCOUNTS[1] in m.log.message]
    assert len(warnings) == 1 and "no access" in warnings[0]  # one warning, not one per stream


def test_every_account_unreachable_is_a_config_error_not_an_empty_success(requests_mock):
    per_account_server(requests_mock, "/v1/customers", {})
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"), expecting_exception=True)
    errors = [e.trace.error for e in output.errors]
    assert errors and errors[-1].failure_type.value == "config_error"
    assert "None of the 2 Connect account(s)" in errors[-1].message and ACCOUNTS[1] in errors[-1].message


def test_one_account_failing_otherwise_fails_only_its_read_and_is_named(requests_mock):
    now = int(time.time())

    def answer(request, context):
        if request.headers.get("Stripe-Account") == ACCOUNTS[1]:
            context.status_code = 400  # a real error (it names a param), not an unreadable stream
            return {"error": {"type": "invalid_request_error", "param": "created", "message": "Invalid created"}}
        return stripe_list([customer(1, now - DAY)])

    requests_mock.get(f"{BASE}/v1/customers", json=answer)
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"), expecting_exception=True)
    assert [r["account_id"] for r in records_of(output, "customers")] == [ACCOUNTS[0]]
    assert output.get_stream_statuses("customers")[-1].name == "INCOMPLETE"
    assert ACCOUNTS[1] in output.errors[-1].trace.error.message  # the closing error names the account
    accounts = accounts_in(final_state(output, "customers"))
    assert "events_since" in accounts[ACCOUNTS[0]]  # the good account's read is kept: next time, its events
    assert "events_since" not in accounts.get(ACCOUNTS[1], {})  # the failed one is read again from the start


def test_a_single_account_state_is_not_applied_to_several_accounts(requests_mock):
    now = int(time.time())
    seen = per_account_server(requests_mock, "/v1/customers", {a: [customer(1, now - DAY)] for a in ACCOUNTS})
    state = state_of(customers={"created": now - 2 * DAY, "events_since": now - 3600})
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("customers"), state)
    assert all("created[gte]" not in qs for _, qs in seen)  # each account from the start
    assert any("not per account" in m.log.message for m in output.logs)


@pytest.mark.parametrize(
    "value", [["acct_ok", "cus_123"], ["acct_ok", "acct_ok"], "acct_1Alpha", [""], ["acct_has space"], {"acct": 1}, ["ALL"]]
)
def test_bad_account_ids_are_config_errors_that_name_the_field_not_the_value(value):
    with pytest.raises(ConfigError) as error:
        parse_account_ids({"account_ids": value})
    assert "'account_ids'" in error.value.message
    assert "cus_123" not in error.value.message and "space" not in error.value.message


def test_account_ids_and_account_id_are_exclusive():
    with pytest.raises(ConfigError, match="not both"):
        parse_account_ids({"account_id": "acct_1", "account_ids": ["acct_2"]})
    assert parse_account_ids({"account_ids": ["all"]}) == ("all",)
    assert parse_account_ids({"account_ids": []}) is None
    assert parse_account_ids({"account_ids": ACCOUNTS}) == tuple(ACCOUNTS)


def test_records_validate_with_account_id_and_state_round_trips(requests_mock):
    now = int(time.time())
    per_account_server(requests_mock, "/v1/plans", {a: [{"id": "plan_1", "object": "plan", "created": now - DAY}] for a in ACCOUNTS})
    first = read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("plans"))
    state = final_state(first, "plans")
    json.dumps(state)  # plain JSON for the platform
    events = per_account_server(requests_mock, "/v1/events", {a: [] for a in ACCOUNTS})
    read(SourceStripeProxy(), {**CONFIG, "account_ids": ACCOUNTS}, catalog("plans"), state_of(plans=state))
    assert sorted(a for a, _ in events) == ACCOUNTS  # both accounts moved on to events


def test_the_closing_error_names_a_handful_of_failed_accounts_and_counts_the_rest(requests_mock):
    now = int(time.time())
    accounts = [f"acct_{i}Many" for i in range(1, 13)]

    def answer(request, context):
        if request.headers.get("Stripe-Account") != accounts[0]:
            context.status_code = 400
            return {"error": {"type": "invalid_request_error", "param": "created", "message": "Invalid created"}}
        return stripe_list([customer(1, now - DAY)])

    requests_mock.get(f"{BASE}/v1/customers", json=answer)
    output = read(SourceStripeProxy(), {**CONFIG, "account_ids": accounts}, catalog("customers"), expecting_exception=True)
    message = output.errors[-1].trace.error.message
    assert "11 account(s)" in message and "and 6 more" in message
    assert sum(account in message for account in accounts[1:]) == 5  # five named, the rest counted
    assert len([e for e in output.errors if e.trace.error.stream_descriptor]) == 1  # one error trace for the stream
