"""The source against our Stripe emulator: newest-first lists, created filters, prices,
incremental resumes, faults on the wire and permission errors, in every connection mode."""

import re

import pytest

from integration_tests.harness import SECRETS, configured_catalog, run_connector, state_from
from source_stripe_proxy.source.cursors import CLOCK_SKEW_SECONDS

ALL_STREAMS = ["customers", "subscriptions", "products", "plans", "prices", "balance_transactions"]
DAY = 86_400
NOW = 1_760_000_000  # the emulator's frozen clock, far behind ours: the connector goes by Stripe's


def seed(emulator):
    """A small but realistic account; returns the expected ids per stream."""
    emulator.set_time(NOW)
    store = emulator.store
    customers = store.bulk_add("customers", 230, created_start=NOW - 229 * DAY, created_step=DAY)  # the newest now
    products = [store.add("products", {"name": f"Plan {i}", "created": NOW - (50 - i) * DAY})["id"] for i in range(12)]
    prices = [
        store.add(
            "prices",
            {"product": p, "unit_amount": 1000 + i, "currency": "usd", "recurring": {"interval": "month"}, "created": NOW - (40 - i) * DAY},
        )["id"]
        for i, p in enumerate(products)
    ]
    plans = [
        store.add("plans", {"product": p, "amount": 500, "currency": "usd", "interval": "year", "created": NOW - (30 - i) * DAY})["id"]
        for i, p in enumerate(products[:5])
    ]
    subscriptions = []
    for i in range(15):
        sub = store.add(
            "subscriptions", {"customer": customers[i], "items": [{"price": prices[i % len(prices)]}], "created": NOW - (20 - i) * DAY}
        )
        subscriptions.append(sub["id"])
    for sub_id in subscriptions[:4]:  # canceled ones must still be read
        emulator_cancel(emulator, sub_id)
    balance = store.bulk_add("balance_transactions", 140, created_start=NOW - 140 * DAY, created_step=DAY)
    return {
        "customers": set(customers),
        "products": set(products),
        "prices": set(prices),
        "plans": set(plans),
        "subscriptions": set(subscriptions),
        "balance_transactions": set(balance),
    }


def emulator_cancel(emulator, sub_id):
    import requests

    response = requests.delete(
        f"{emulator.url}/v1/subscriptions/{sub_id}", headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=10
    )
    assert response.json()["status"] == "canceled"


def read_all(config, streams=ALL_STREAMS, sync_mode="full_refresh", state=None):
    return run_connector("source", "read", config, configured_catalog(streams, sync_mode=sync_mode), state=state)


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_every_stream_is_read_completely_once_through_each_mode(mode, stripe_emulator, connection_configs):
    expected = seed(stripe_emulator)
    result = read_all(connection_configs(mode, stripe_emulator))
    assert result.returncode == 0, result.stdout[-4000:]
    for stream in ALL_STREAMS:
        result.assert_read_exactly(stream, expected[stream])
        assert result.statuses(stream) == ["STARTED", "RUNNING", "COMPLETE"]
    # never the same page twice, even when ranges are split across workers
    list_calls = [r for r in stripe_emulator.requests.snapshot() if r["method"] == "GET" and r["path"].startswith("/v1/")]
    pages = [(r["path"], tuple(sorted((k, tuple(v)) for k, v in r["query"].items()))) for r in list_calls]
    assert len(pages) == len(set(pages))
    assert 9 <= len(pages) <= 20  # 9 pages read one after another; splits add a few range heads
    assert all(r["query"].get("status") == ["all"] for r in list_calls if r["path"] == "/v1/subscriptions")


def test_incremental_resume_reads_exactly_what_was_created_since(stripe_emulator, connection_configs):
    """Immutable streams keep the `created` cursor (mutable ones switch to events: test_change_capture.py)."""
    seed(stripe_emulator)
    config = connection_configs("api_key", stripe_emulator, start_date="2024-01-01T00:00:00Z", slice_range_days=90)
    first = read_all(config, ["balance_transactions"], sync_mode="incremental")
    assert first.returncode == 0, first.stdout[-3000:]
    state = state_from(first)
    cursor = state[0]["stream"]["stream_state"]["created"]
    assert state[0]["stream"]["stream_state"] == {"created": cursor}  # no events cursor for an immutable stream
    # everything created before the read began by Stripe's clock (its Date), less the clock skew, was read
    assert NOW - CLOCK_SKEW_SECONDS - 2 <= cursor <= NOW - CLOCK_SKEW_SECONDS
    assert cursor > max(r["created"] for r in first.records_of("balance_transactions"))

    stripe_emulator.advance(3600)
    new_ids = set(stripe_emulator.store.bulk_add("balance_transactions", 7, created_start=NOW + 3600))
    requests_before = len(stripe_emulator.requests.snapshot())
    second = read_all(config, ["balance_transactions"], sync_mode="incremental", state=state)
    assert second.returncode == 0
    ids = {r["id"] for r in second.records_of("balance_transactions")}
    assert ids == new_ids  # everything created since, nothing read before
    resumed = [r["query"] for r in stripe_emulator.requests.snapshot()[requests_before:] if r["path"] == "/v1/balance_transactions"]
    assert resumed[0]["created[gte]"] == [str(cursor)]  # resumes at the cursor, not before


def test_lookback_window_rereads_a_margin(stripe_emulator, connection_configs):
    seed(stripe_emulator)
    config = connection_configs("api_key", stripe_emulator, lookback_window_days=10)
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"created": NOW - 30 * DAY}}}]
    result = read_all(config, ["customers"], sync_mode="incremental", state=state)
    created = [r["created"] for r in result.records_of("customers")]
    assert min(created) == NOW - 40 * DAY and len(created) == 41  # one a day from NOW-40d to NOW


@pytest.mark.parametrize("mode", ["paragon", "pinkconnect"])
def test_faults_through_the_proxy_heal_without_losing_or_duplicating_records(mode, stripe_emulator, connection_configs):
    expected = seed(stripe_emulator)
    config = connection_configs(mode, stripe_emulator, max_retries=6, request_timeout_seconds=2)
    proxy = connection_configs.proxies[(mode, stripe_emulator.url)]
    proxy.faults.retry_after = 0
    # one fault of each kind, never more than two in a row for one request
    kinds = ["429", "500", "reset", "truncate", "429_no_retry_after", "drop", "502", "html_502", "503"]
    proxy.faults.script([entry for kind in kinds for entry in (kind, None)])
    stripe_emulator.faults.retry_after = 0
    stripe_emulator.faults.script([None, "500", None, "reset"])
    result = read_all(config)
    assert result.returncode == 0, result.stdout[-4000:]
    for stream in ALL_STREAMS:
        ids = [r["id"] for r in result.records_of(stream)]
        assert sorted(ids) == sorted(expected[stream]), stream
    retries = int(re.search(r"Stripe requests: \d+ \((\d+) of them retries\)", result.stdout).group(1))
    assert retries == sum(proxy.faults.injected.values()) + sum(stripe_emulator.faults.injected.values())


def test_revoked_key_ends_the_sync_with_a_config_error_naming_the_field(stripe_emulator, connection_configs):
    seed(stripe_emulator)
    config = connection_configs("api_key", stripe_emulator)
    config["credentials"]["api_key"] = "sk_test_revokedSECRETkey9"
    result = read_all(config, ["customers"])
    assert result.returncode != 0
    errors = result.errors()
    assert errors and all(e["failure_type"] == "config_error" for e in errors)
    assert "credentials.api_key" in errors[0]["message"]
    assert "sk_test_revokedSECRETkey9" not in result.stdout + result.stderr
    assert len([r for r in stripe_emulator.requests.snapshot() if r["path"] == "/v1/customers"]) == 1  # 401 is not retried


def test_a_forbidden_stream_fails_loudly_instead_of_reading_empty(stripe_emulator, connection_configs):
    seed(stripe_emulator)
    stripe_emulator.add_restricted_key("rk_test_limitedSECRET5", {"customers": "read"})
    config = connection_configs("api_key", stripe_emulator)
    config["credentials"]["api_key"] = "rk_test_limitedSECRET5"
    result = read_all(config, ["customers", "plans"])
    assert result.returncode != 0
    assert result.statuses("customers")[-1] == "COMPLETE" and len(result.records_of("customers")) == 230
    assert result.statuses("plans")[-1] == "INCOMPLETE"
    plan_errors = [e for e in result.errors() if "plans" in e["message"] or "/v1/plans" in e["message"]]
    assert plan_errors and plan_errors[0]["failure_type"] == "config_error"
    assert "permission" in plan_errors[0]["message"]


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_no_secret_reaches_any_output_in_any_command(mode, stripe_emulator, connection_configs):
    seed(stripe_emulator)
    good = connection_configs(mode, stripe_emulator)
    outputs = [
        run_connector("source", "spec"),
        run_connector("source", "check", good, extra_args=["--debug"]),
        run_connector("source", "discover", good, extra_args=["--debug"]),
        run_connector("source", "read", good, configured_catalog(["customers", "plans"]), extra_args=["--debug"]),
    ]
    # failure paths: the proxy's own 401, then Stripe's 401 behind it, then a 5xx storm
    stripe_emulator.faults.retry_after = 0
    if mode != "api_key":
        proxy = connection_configs.proxies[(mode, stripe_emulator.url)]
        proxy.faults.script(["401_proxy"])
        outputs.append(run_connector("source", "check", good, extra_args=["--debug"]))
    stripe_emulator.faults.script(["401_proxy"] * 3)
    outputs.append(run_connector("source", "read", good, configured_catalog(["customers"]), extra_args=["--debug"]))
    stripe_emulator.faults.script(["500"] * 5)
    outputs.append(run_connector("source", "read", {**good, "max_retries": 2}, configured_catalog(["customers"]), extra_args=["--debug"]))
    failed = [
        o for o in outputs[4:] if o.returncode != 0 or any(m.get("connectionStatus", {}).get("status") == "FAILED" for m in o.messages)
    ]
    assert len(failed) == len(outputs) - 4, "every failure path must really fail"
    for output in outputs:
        text = output.stdout + output.stderr
        for secret in SECRETS:
            assert secret not in text
