"""Hundreds of Connect accounts in one connection (issue 20), over real HTTP against our emulator:
each account read exactly, STATE small (sizes computed from the messages), a newly connected
account read whole while the others stay incremental, a disconnected one dropped with one
warning, one failing account failing only itself, and a changed customer caught in its account (a many-account first read killed and
resumed: test_resume_after_kill.py). Counts and sizes only, never time."""

import json
import time
from collections import Counter

import pytest
import requests

from integration_tests.harness import configured_catalog, run_connector, state_from
from source_stripe_proxy.source.state import parse_state

ACCOUNTS = 300
STREAMS = ["customers", "balance_transactions"]
FAST = {"requests_per_second": 2000, "endpoint_requests_per_second": 2000, "concurrency": 16}


def catalog():
    made = configured_catalog(STREAMS, sync_mode="incremental")
    for entry in made["streams"]:
        entry["cursor_field"] = ["updated"] if entry["stream"]["name"] == "customers" else ["created"]
    return made


def seed(emulator, count, at):
    """``count`` connected accounts, account i with i % 4 customers and i % 3 balance transactions
    (some have none), each account's objects at its own times. Returns (stream, account, id) triples."""
    emulator.set_time(at)
    accounts = emulator.add_connected_accounts(count, created_start=at - 10 * count * 3600, created_step=3600)
    return accounts, add_objects(emulator, accounts, at)


def add_objects(emulator, accounts, at):
    expected = set()
    for i, account in enumerate(accounts):
        store = emulator.store_for(account)
        for stream, n in (("customers", i % 4), ("balance_transactions", i % 3)):
            newest = at - 600 - 17 * i
            for oid in store.bulk_add(stream, n, created_start=newest - 60 * n, created_step=60) if n else ():
                expected.add((stream, account, oid))
    return expected


def read_triples(result):
    return Counter((r["stream"], r["data"]["account_id"], r["data"]["id"]) for r in result.records)


def state_sizes(result):
    """Bytes of each STATE message as the connector wrote it (one line of stdout each)."""
    return [len(line) for line in result.stdout.splitlines() if line.startswith(('{"type":"STATE"', '{"type": "STATE"'))]


def accounts_in(state, stream):
    entry = next(s for s in state if s["stream"]["stream_descriptor"]["name"] == stream)
    return {a: cp.to_dict() for a, cp in parse_state(stream, entry["stream"]["stream_state"], per_account=True)[0].items()}


def list_requests(emulator, path):
    """The accounts (Stripe-Account) of every request to ``path`` since the log was cleared."""
    found = []
    for entry in emulator.requests:
        if entry["path"] == path:
            headers = {k.lower(): v for k, v in entry["headers"].items()}
            found.append(headers.get("stripe-account"))
    return found


def warnings_naming(result, account):
    return [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] == "WARN" and account in m["log"]["message"]]


@pytest.fixture
def connected(stripe_emulator, connection_configs):
    at = int(time.time()) - 3600
    accounts, expected = seed(stripe_emulator, ACCOUNTS, at)
    stripe_emulator.clock.unfreeze()
    return accounts, expected, connection_configs("api_key", stripe_emulator, account_ids="all", **FAST)


def test_a_first_read_is_exact_per_account_and_its_state_small_then_an_idle_sync_costs_two_requests_an_account(stripe_emulator, connected):
    accounts, expected, config = connected
    first = run_connector("source", "read", config, catalog())
    assert first.returncode == 0, first.stdout[-3000:]
    read = read_triples(first)
    assert set(read) == expected and all(count == 1 for count in read.values())  # each object of each account, once
    for stream in STREAMS:
        first.assert_read_exactly(stream, {oid for s, _, oid in expected if s == stream})
        assert first.statuses(stream)[-1] == "COMPLETE"
    sizes = state_sizes(first)
    assert sizes and sum(sizes) <= 1024 * ACCOUNTS and max(sizes) <= 256 * 1024, (sum(sizes), max(sizes))
    state = state_from(first)
    # every account whose customers were listed is known; its events are read next time
    assert set(accounts_in(state, "customers")) == set(accounts)
    assert all("events_since" in cp for cp in accounts_in(state, "customers").values())
    customers = next(s["stream"]["stream_state"] for s in state if s["stream"]["stream_descriptor"]["name"] == "customers")
    assert "differ" not in customers and len(json.dumps(customers)) <= 20 * ACCOUNTS  # in step: an id each, nothing more

    stripe_emulator.requests.clear()
    idle = run_connector("source", "read", config, catalog(), state=state)
    assert idle.returncode == 0, idle.stdout[-3000:]
    assert not idle.records_of("customers")
    assert Counter(list_requests(stripe_emulator, "/v1/events")) == Counter(accounts)  # one shared events read each
    assert list_requests(stripe_emulator, "/v1/customers") == []
    assert len(stripe_emulator.requests) <= 2.2 * ACCOUNTS
    idle_sizes = state_sizes(idle)
    assert sum(idle_sizes) <= 512 * ACCOUNTS, sum(idle_sizes)


def test_accounts_come_and_go_and_a_change_in_one_account_is_caught(stripe_emulator, connected):
    accounts, _expected, config = connected
    first = run_connector("source", "read", config, catalog())
    assert first.returncode == 0, first.stdout[-3000:]

    new = stripe_emulator.add_connected_accounts(3)
    new_objects = add_objects(stripe_emulator, [new[0], new[1], new[2]], int(time.time()) - 120)
    gone = accounts[7]
    stripe_emulator.disconnect_account(gone)
    changed_account = accounts[5]  # 5 % 4 = 1 customer
    changed = stripe_emulator.store_for(changed_account).all("customers")[0]["id"]
    answer = requests.post(
        f"{stripe_emulator.url}/v1/customers/{changed}",
        data={"email": "moved@example.com"},
        headers={"Authorization": f"Bearer {stripe_emulator.api_key}", "Stripe-Account": changed_account},
        timeout=30,
    )
    assert answer.status_code == 200
    stripe_emulator.requests.clear()

    second = run_connector("source", "read", config, catalog(), state=state_from(first))
    assert second.returncode == 0, second.stdout[-3000:]
    read = read_triples(second)
    # the new accounts are read whole; of the others only the changed customer
    assert {t for t in read if t[1] in new} == new_objects
    assert [(r["account_id"], r["id"], r["email"]) for r in second.records_of("customers") if r["account_id"] not in new] == [
        (changed_account, changed, "moved@example.com")
    ]
    assert sorted(list_requests(stripe_emulator, "/v1/customers")) == sorted(new)  # listed: the new accounts only
    assert gone not in list_requests(stripe_emulator, "/v1/events")  # not listed any more: not read
    # the disconnected account: one warning naming it, out of every stream's state, the sync fine
    assert len(warnings_naming(second, gone)) == 1
    state = state_from(second)
    for stream in STREAMS:
        assert second.statuses(stream)[-1] == "COMPLETE"
        assert gone not in accounts_in(state, stream)
    assert set(new) <= set(accounts_in(state, "customers"))


def test_a_configured_account_that_answers_account_invalid_is_dropped_once_and_fails_nothing(stripe_emulator, connection_configs):
    at = int(time.time()) - 3600
    accounts, _expected = seed(stripe_emulator, 12, at)
    stripe_emulator.clock.unfreeze()
    config = connection_configs("api_key", stripe_emulator, account_ids=accounts, **FAST)
    first = run_connector("source", "read", config, catalog())
    assert first.returncode == 0
    revoked = accounts[6]
    stripe_emulator.disconnect_account(revoked)  # still in account_ids: Stripe answers 403 account_invalid
    second = run_connector("source", "read", config, catalog(), state=state_from(first))
    assert second.returncode == 0, second.stdout[-3000:]
    assert not second.errors()
    assert len(warnings_naming(second, revoked)) == 1  # one, though two streams were refused
    assert all(second.statuses(stream)[-1] == "COMPLETE" for stream in STREAMS)
    assert all(revoked not in accounts_in(state_from(second), stream) for stream in STREAMS)


def test_one_account_failing_otherwise_fails_only_itself_and_is_read_whole_next_time(stripe_emulator, connection_configs):
    at = int(time.time()) - 3600
    accounts, expected = seed(stripe_emulator, 20, at)
    stripe_emulator.clock.unfreeze()
    broken = accounts[9]  # 9 % 4 = 1 customer, 9 % 3 = 0 balance transactions
    stripe_emulator.fail_account(broken, 500)  # every request for it: Stripe's 500 api_error
    config = connection_configs("api_key", stripe_emulator, account_ids="all", max_retries=0, **FAST)
    first = run_connector("source", "read", config, catalog())
    assert first.returncode != 0
    # every other account read exactly; the broken one named in one error trace per stream and in the closing error
    assert set(read_triples(first)) == {t for t in expected if t[1] != broken}
    errors = first.errors()
    assert broken in errors[-1]["message"] and errors[-1]["failure_type"] == "transient_error", errors[-1]
    assert sorted(e["stream_descriptor"]["name"] for e in errors if e.get("stream_descriptor")) == sorted(STREAMS)
    assert all(first.statuses(stream)[-1] == "INCOMPLETE" for stream in STREAMS)
    state = state_from(first)
    customers = accounts_in(state, "customers")
    assert all("events_since" in customers[a] for a in accounts if a != broken)
    assert "events_since" not in customers.get(broken, {})  # its first read did not end: it is read again

    stripe_emulator.fail_account(broken, None)
    stripe_emulator.requests.clear()
    second = run_connector("source", "read", config, catalog(), state=state)
    assert second.returncode == 0, second.stdout[-3000:]
    read = read_triples(second)
    assert {t for t in read if t[1] == broken} == {t for t in expected if t[1] == broken}  # its objects now
    assert {t for t in read if t[0] == "customers"} == {t for t in expected if t[0] == "customers" and t[1] == broken}
    assert list_requests(stripe_emulator, "/v1/customers") == [broken]  # the others stayed incremental
    assert "events_since" in accounts_in(state_from(second), "customers")[broken]


def test_the_emulator_connects_thousands_of_accounts_and_answers_for_a_disconnected_one_as_stripe_does(stripe_emulator):
    headers = {"Authorization": f"Bearer {stripe_emulator.api_key}"}
    accounts = stripe_emulator.add_connected_accounts(2000)
    listed, after = [], None
    while True:
        page = requests.get(
            f"{stripe_emulator.url}/v1/accounts",
            params={"limit": 100, **({"starting_after": after} if after else {})},
            headers=headers,
            timeout=30,
        ).json()
        listed += [a["id"] for a in page["data"]]
        if not page["has_more"]:
            break
        after = listed[-1]
    assert sorted(listed) == sorted(accounts) and listed == stripe_emulator.connected_accounts()  # newest first, each once
    account = accounts[42]
    stripe_emulator.store_for(account).add("customers", {"email": "kept@example.com"})
    stripe_emulator.disconnect_account(account)
    answer = requests.get(f"{stripe_emulator.url}/v1/customers", headers={**headers, "Stripe-Account": account}, timeout=30)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "account_invalid" and f"does not have access to account '{account}'" in error["message"]
    assert account not in stripe_emulator.connected_accounts()
    deauthorized = stripe_emulator.events[0]
    assert deauthorized["type"] == "account.application.deauthorized" and deauthorized["account"] == account
    stripe_emulator.add_connected_account(account)  # connected again: its objects are back
    again = requests.get(f"{stripe_emulator.url}/v1/customers", headers={**headers, "Stripe-Account": account}, timeout=30).json()
    assert [c["email"] for c in again["data"]] == ["kept@example.com"]
