"""The destination against our Stripe emulator (and the proxy emulators in front of it).

Real HTTP on loopback: the emulator honours Idempotency-Key like Stripe (replays the
first response, refuses a reused key with other parameters) and its Search API can be
told to lag writes (``search_lag_seconds``), which is what makes these tests meaningful.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from integration_tests.harness import (
    REPO_ROOT,
    api_key_config,
    assert_no_secrets,
    by_external_id,
    catalog_dict,
    configured_catalog,
    customers,
    input_messages,
    paragon_config,
    pinkconnect_config,
    posts,
    products,
    record,
    run_connector,
    state,
    write,
)
from source_stripe_proxy.destination.idempotency import derived_product_id

FAST = {"requests_per_second": 1000, "endpoint_requests_per_second": 1000}  # no limits to honour here
CUSTOMER_COUNT, PRODUCT_COUNT = 50, 20
MEASUREMENTS = Path(tempfile.gettempdir()) / "destination_stripe_proxy_measurements.json"


def _full_input():
    return input_messages([("customers", customers(CUSTOMER_COUNT)), ("products", products(PRODUCT_COUNT))])


def _requests_by_kind(server):
    return Counter(f"{r['method']} {r['path'].split('/')[2]}{'/search' if r['path'].endswith('/search') else ''}" for r in server.requests)


def _save_measurement(name, value):
    data = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.exists() else {}
    data[name] = value
    MEASUREMENTS.write_text(json.dumps(data, indent=2, sort_keys=True))


def test_write_read_back_rewrite_and_change(stripe_emulator):
    config = api_key_config(stripe_emulator.url, **FAST)

    # 1. Write 50 customers and 20 products.
    first = write(config, _full_input())
    assert first.error is None
    assert first.stream("customers")["created"] == CUSTOMER_COUNT
    assert first.stream("products")["created"] == PRODUCT_COUNT
    assert first.total("rejected") == 0 and first.total("updated") == 0
    first_requests = len(stripe_emulator.requests)
    assert first.summary["requests"] == first_requests  # the summary counts what the server saw
    assert stripe_emulator.store.count("customers") == CUSTOMER_COUNT
    assert stripe_emulator.store.count("products") == PRODUCT_COUNT
    # Every POST carried a deterministic Idempotency-Key of our format.
    keys = [r["headers"].get("Idempotency-Key") for r in posts(stripe_emulator)]
    assert all(k and k.startswith(("sp-customers-create-", "sp-products-create-")) for k in keys)
    assert len(set(keys)) == len(keys)

    # 2. Read them back with the source.
    read = run_connector("source", "read", config=config, catalog=configured_catalog(["customers", "products"]))
    assert read.returncode == 0, read.stderr[-2000:]
    read_customers = by_external_id(read.records_of("customers"))
    read_products = by_external_id(read.records_of("products"))
    assert sorted(read_customers) == sorted(c["external_id"] for c in customers(CUSTOMER_COUNT))
    for row in customers(CUSTOMER_COUNT):
        [obj] = read_customers[row["external_id"]]
        assert (obj["email"], obj["name"], obj["description"], obj["phone"]) == (
            row["email"],
            row["name"],
            row["description"],
            row["phone"],
        )
        assert obj["address"]["line1"] == row["address"]["line1"] and obj["address"]["country"] == "US"
        assert obj["metadata"] == {**row["metadata"], "external_id": row["external_id"]}
    for row in products(PRODUCT_COUNT):
        [obj] = read_products[row["external_id"]]
        assert obj["id"] == derived_product_id(row["external_id"])
        assert (obj["name"], obj["description"], obj["active"]) == (row["name"], row["description"], row["active"])
        assert obj["metadata"] == {"category": "widgets", "external_id": row["external_id"]}

    # 3. The same input again: nothing new, everything unchanged, no writes at all.
    stripe_emulator.requests.clear()
    again = write(config, _full_input())
    assert again.total("unchanged") == CUSTOMER_COUNT + PRODUCT_COUNT
    assert again.total("created") == again.total("updated") == 0
    assert posts(stripe_emulator) == []
    assert stripe_emulator.store.count("customers") == CUSTOMER_COUNT and stripe_emulator.store.count("products") == PRODUCT_COUNT
    again_requests = len(stripe_emulator.requests)

    # 4. Change some fields: those objects are updated, the rest stay unchanged.
    changed_customers = customers(CUSTOMER_COUNT)
    for row in changed_customers[:10]:
        row["name"] = row["name"] + " Jr."
        row["metadata"] = {"plan": "platinum"}
    changed_products = products(PRODUCT_COUNT)
    for row in changed_products[:5]:
        row["active"] = not row["active"]
        row["description"] = ""  # "" clears a field
    stripe_emulator.requests.clear()
    changed = write(config, input_messages([("customers", changed_customers), ("products", changed_products)]))
    assert changed.stream("customers")["updated"] == 10 and changed.stream("customers")["unchanged"] == 40
    assert changed.stream("products")["updated"] == 5 and changed.stream("products")["unchanged"] == 15
    change_requests = len(stripe_emulator.requests)
    stored = by_external_id(stripe_emulator.store.all("customers"))
    for row in changed_customers[:10]:
        [obj] = stored[row["external_id"]]
        assert obj["name"].endswith(" Jr.") and obj["metadata"]["plan"] == "platinum"
    for row in changed_products[:5]:
        obj = stripe_emulator.store.get("products", derived_product_id(row["external_id"]))
        assert obj["active"] is row["active"] and obj["description"] is None
    update_keys = [r["headers"]["Idempotency-Key"] for r in posts(stripe_emulator)]
    assert len(update_keys) == 15 and all("-update-" in k for k in update_keys)

    _save_measurement(
        "emulator_round_trip",
        {
            "first_write": {**first.summary["total"], "requests": first_requests, "records": first.summary["records"]},
            "same_input_again": {**again.summary["total"], "requests": again_requests},
            "changed_input": {**changed.summary["total"], "requests": change_requests},
            "per_stream_first_write": first.summary["streams"],
        },
    )


def test_lost_response_is_retried_without_a_duplicate(stripe_emulator):
    """The create is committed but its response is lost: the retry replays it (same key)."""
    config = api_key_config(stripe_emulator.url, concurrency=1, **FAST)  # the fault script follows request order
    stripe_emulator.faults.only_paths("/v1/customers").script([None, "commit_then_reset"])  # search ok, then the POST
    result = write(config, input_messages([("customers", customers(3))]))
    assert result.error is None
    assert stripe_emulator.faults.injected["commit_then_reset"] == 1
    assert stripe_emulator.idempotent_replays == 1
    assert stripe_emulator.store.count("customers") == 3
    assert result.stream("customers")["created"] == 3  # our own retry, so still "created"


def test_search_lag_rerun_replays_instead_of_duplicating(stripe_emulator):
    """Search can't see the first run's customers; the deterministic key still prevents duplicates."""
    stripe_emulator.search_lag_seconds = 600
    config = api_key_config(stripe_emulator.url, **FAST)
    rows = customers(8)
    first = write(config, input_messages([("customers", rows)]))
    assert first.stream("customers")["created"] == 8
    second = write(config, input_messages([("customers", rows)]))
    assert stripe_emulator.store.count("customers") == 8
    assert stripe_emulator.idempotent_replays == 8
    assert second.stream("customers")["unchanged"] == 8 and second.stream("customers")["created"] == 0


def test_search_lag_with_email_matching_survives_changed_data(stripe_emulator):
    """With match_customers_by_email the lookup is strongly consistent, so even changed data can't duplicate."""
    stripe_emulator.search_lag_seconds = 600
    config = api_key_config(stripe_emulator.url, match_customers_by_email=True, **FAST)
    write(config, input_messages([("customers", customers(5))]))
    changed = customers(5, name="Renamed")
    second = write(config, input_messages([("customers", changed)]))
    assert stripe_emulator.store.count("customers") == 5
    assert second.stream("customers")["updated"] == 5
    assert {c["name"] for c in stripe_emulator.store.all("customers")} == {"Renamed"}


def test_killed_writer_rerun_neither_duplicates_nor_loses(stripe_emulator, tmp_path):
    """SIGKILL the console script mid-run (search lagging too), then run again to completion."""
    stripe_emulator.search_lag_seconds = 600
    stripe_emulator.latency = 0.005
    config = api_key_config(stripe_emulator.url, requests_per_second=200, endpoint_requests_per_second=200)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_dict(["customers", "products"])))
    script = Path(sys.executable).with_name("destination-stripe-proxy")
    process = subprocess.Popen(
        [str(script), "write", "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    lines = "".join(json.dumps(m) + "\n" for m in _full_input())
    process.stdin.write(lines.encode())
    process.stdin.close()
    deadline = time.monotonic() + 20
    while len(posts(stripe_emulator)) < 30 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    assert process.poll() is None, "the writer finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    output = process.stdout.read().decode()
    assert_no_secrets(output)
    echoed = [json.loads(line)["state"]["data"]["marker"] for line in output.splitlines() if '"STATE"' in line]
    created_before = stripe_emulator.store.count("customers") + stripe_emulator.store.count("products")
    assert 0 < created_before < CUSTOMER_COUNT + PRODUCT_COUNT
    assert all(isinstance(m, int) and m <= created_before for m in echoed)  # no STATE ran ahead of the writes

    rerun = write(api_key_config(stripe_emulator.url, **FAST), _full_input())
    assert rerun.error is None
    assert stripe_emulator.store.count("customers") == CUSTOMER_COUNT
    assert stripe_emulator.store.count("products") == PRODUCT_COUNT
    assert rerun.total("created") == CUSTOMER_COUNT + PRODUCT_COUNT - created_before
    assert rerun.total("created") + rerun.total("unchanged") == CUSTOMER_COUNT + PRODUCT_COUNT
    _save_measurement(
        "killed_then_rerun",
        {
            "objects_before_kill": created_before,
            "states_echoed_before_kill": len(echoed),
            **rerun.summary["total"],
            "replays": stripe_emulator.idempotent_replays,
        },
    )
    stored = by_external_id(stripe_emulator.store.all("customers"))
    for row in customers(CUSTOMER_COUNT):
        [obj] = stored[row["external_id"]]  # exactly one each
        assert obj["email"] == row["email"] and obj["name"] == row["name"]
    for row in products(PRODUCT_COUNT):
        assert stripe_emulator.store.get("products", derived_product_id(row["external_id"]))["name"] == row["name"]


def test_bad_records_are_rejected_reported_and_the_rest_written(stripe_emulator):
    config = api_key_config(stripe_emulator.url, **FAST)
    good = customers(4)
    rows = [
        good[0],
        {"external_id": "bad-email", "email": "not-an-email"},  # Stripe: email_invalid
        good[1],
        {"id": "cus_doesnotexist", "name": "Ghost"},  # Stripe: resource_missing
        {"external_id": "bad-field", "favourite_colour": "blue"},  # ours: unknown_field
        good[2],
        good[3],
    ]
    product_rows = [products(1)[0], {"external_id": "nameless", "description": "no name"}]  # Stripe: parameter_missing
    result = write(config, input_messages([("customers", rows), ("products", product_rows)], state_every=3))
    assert result.error is None
    assert result.stream("customers") | {"requests": 0} == {
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "rejected": 3,
        "skipped": 0,
        "requests": 0,
    }
    assert result.stream("products")["created"] == 1 and result.stream("products")["rejected"] == 1
    reports = {(r["stream"], r["ordinal"]): r for r in result.rejections()}
    assert reports[("customers", 2)]["error"] == {
        "type": "invalid_request_error",
        "code": "email_invalid",
        "param": "email",
        "message": "Invalid email address: not-an-email",
        "http_status": 400,
    }
    assert reports[("customers", 4)]["error"]["code"] == "resource_missing"
    assert reports[("customers", 4)]["error"]["param"] == "id"
    assert reports[("customers", 4)]["key"] == "id cus_doesnotexist"
    assert reports[("customers", 5)]["error"]["code"] == "unknown_field"
    assert reports[("customers", 5)]["error"]["param"] == "favourite_colour"
    assert reports[("products", 2)]["error"]["code"] == "parameter_missing"
    assert reports[("products", 2)]["error"]["param"] == "name"
    # Reports carry the key, never the record's other values.
    assert all("blue" not in text and "Ghost" not in text for text in result.logs("ERROR"))
    assert sorted(c["metadata"]["external_id"] for c in stripe_emulator.store.all("customers")) == [r["external_id"] for r in good]
    # STATE messages all came through, each after the records before it.
    assert [m["state"]["data"]["marker"] for m in result.of_type("STATE")] == [3, 6, 9, "end"]
    _save_measurement("bad_records", {**result.summary["total"], "requests": len(stripe_emulator.requests)})


def test_fail_fast_stops_at_the_first_rejection(stripe_emulator):
    config = api_key_config(stripe_emulator.url, fail_fast=True, **FAST)
    rows = [*customers(2), {"external_id": "bad", "email": "nope"}, *customers(2, start=2)]
    result = write(config, input_messages([("customers", rows)], state_every=1))
    assert result.error is not None and result.error.failure_type.value == "config_error"
    assert "customers record #3" in str(result.error) and "email_invalid" in str(result.error)
    assert stripe_emulator.store.count("customers") == 2
    assert [m["state"]["data"]["marker"] for m in result.of_type("STATE")] == [1, 2]
    assert result.summary["total"]["rejected"] == 1 and result.summary["total"]["created"] == 2


def test_dry_run_writes_nothing_and_reports_the_plan(stripe_emulator):
    config = api_key_config(stripe_emulator.url, **FAST)
    write(config, input_messages([("customers", customers(3))]))
    stripe_emulator.requests.clear()
    changed = customers(3)
    changed[0]["name"] = "Changed"
    result = write(
        dict(config, dry_run=True),
        input_messages([("customers", changed + customers(2, start=3)), ("products", products(2))]),
    )
    assert posts(stripe_emulator) == []
    assert result.summary["dry_run"] is True
    assert result.stream("customers")["created"] == 2 and result.stream("customers")["updated"] == 1
    assert result.stream("customers")["unchanged"] == 2
    assert result.stream("products")["created"] == 2
    plan = [text for text in result.logs("INFO") if text.startswith("Dry run: would")]
    assert len(plan) == 5 and any("would update customers record #1" in text for text in plan)


def test_append_dedup_keeps_the_last_record_per_key(stripe_emulator):
    config = api_key_config(stripe_emulator.url, **FAST)
    rows = [dict(customers(1)[0], name=f"Version {v}") for v in range(3)] + customers(1, start=1)
    result = write(config, input_messages([("customers", rows)], state_every=100), streams=["customers"], mode="append_dedup")
    assert result.stream("customers")["skipped"] == 2 and result.stream("customers")["created"] == 2
    assert stripe_emulator.store.count("customers") == 2
    assert {c["name"] for c in stripe_emulator.store.all("customers")} == {"Version 2", "User 1"}
    # append (no dedup) writes every record in order; the last still wins.
    stripe_emulator.requests.clear()
    rows = [dict(customers(1)[0], name=f"Again {v}") for v in range(2)]
    appended = write(config, input_messages([("customers", rows)]), streams=["customers"])
    assert appended.stream("customers")["updated"] == 2
    assert {c["name"] for c in stripe_emulator.store.all("customers")} == {"Again 1", "User 1"}


@pytest.mark.parametrize("proxy_kind", ["paragon", "pinkconnect"])
def test_through_the_proxies(request, stripe_emulator, proxy_kind):
    proxy = request.getfixturevalue(f"{proxy_kind}_proxy")
    make_config = paragon_config if proxy_kind == "paragon" else pinkconnect_config
    config = make_config(proxy, **FAST)
    data = input_messages([("customers", customers(5)), ("products", products(3))])
    first = write(config, data)
    assert first.error is None
    assert first.total("created") == 8
    assert stripe_emulator.store.count("customers") == 5 and stripe_emulator.store.count("products") == 3
    assert len(proxy.requests) == len(stripe_emulator.requests) == first.summary["requests"]
    forwarded_keys = [r["headers"].get("Idempotency-Key") for r in posts(stripe_emulator)]
    assert all(k and k.startswith("sp-") for k in forwarded_keys)
    again = write(config, data)
    assert again.total("unchanged") == 8
    bad = write(config, input_messages([("customers", [{"external_id": "x", "email": "broken"}])]))
    assert bad.rejections()[0]["error"]["code"] == "email_invalid"


def test_cli_spec_check_and_write_end_to_end(stripe_emulator):
    config = api_key_config(stripe_emulator.url, **FAST)
    spec = run_connector("destination", "spec")
    assert spec.returncode == 0
    [spec_message] = spec.of_type("SPEC")
    assert spec_message["spec"]["supported_destination_sync_modes"] == ["append", "append_dedup"]

    check = run_connector("destination", "check", config=config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"

    stdin = "".join(
        json.dumps(m) + "\n" for m in [record("customers", customers(1)[0]), state(1), record("products", products(1)[0]), state(2)]
    )
    result = run_connector("destination", "write", config=config, catalog=catalog_dict(["customers", "products"]), stdin=stdin)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_no_secrets(result.stdout + result.stderr)
    kinds = [(m["type"], m.get("state", {}).get("data", {}).get("marker")) for m in result.messages if m["type"] in ("STATE", "TRACE")]
    assert kinds == [("STATE", 1), ("STATE", 2), ("TRACE", None)]
    assert stripe_emulator.store.count("customers") == 1 and stripe_emulator.store.count("products") == 1


def test_cli_rejects_a_bad_catalog_before_writing(stripe_emulator):
    config = api_key_config(stripe_emulator.url)
    stdin = json.dumps(record("customers", customers(1)[0])) + "\n"
    catalog = catalog_dict(["customers", "invoices"])
    result = run_connector("destination", "write", config=config, catalog=catalog, stdin=stdin)
    assert result.returncode != 0
    [error] = result.errors()
    assert error["failure_type"] == "config_error" and "'invoices'" in error["message"]
    assert len(stripe_emulator.requests) == 0
