"""stripe_emulator.persistence: an emulator saved to a file comes back as it was, over HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from stripe_emulator import StripeEmulator
from stripe_emulator.persistence import load_from_file, restore, save_to_file, snapshot

KEY = "sk_test_persistence_0001"
CONNECTED = "acct_1PersistedConnect"


def client(emu, account=None):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    if account:
        session.headers["Stripe-Account"] = account

    def call(method, path, **data):
        response = session.request(
            method, f"{emu.url}{path}", params=data if method == "GET" else None, data=data if method != "GET" else None, timeout=10
        )
        return response.status_code, response.json()

    return call


def list_all(call, resource, **params):
    objects, after = [], None
    while True:
        query = dict(params, limit=7, **({"starting_after": after} if after else {}))
        status, page = call("GET", f"/v1/{resource}", **query)
        assert status == 200, page
        objects += page["data"]
        if not page["has_more"]:
            return objects
        after = page["data"][-1]["id"]


def fill(emu):
    """Objects of every kind, made the ways tests and demos make them."""
    call = client(emu)
    emu.set_time(1_700_000_000)
    product = call("POST", "/v1/products", name="Widget", **{"metadata[external_id]": "w-1"})[1]
    price = call("POST", "/v1/prices", product=product["id"], unit_amount=500, currency="usd", **{"recurring[interval]": "month"})[1]
    call("POST", "/v1/plans", product=product["id"], amount=5000, currency="usd", interval="year")
    customers = []
    for i in range(12):
        emu.advance(60 if i % 3 else 0)  # some share a second: their list order must survive too
        customers.append(
            call("POST", "/v1/customers", email=f"p{i}@example.com", name=f"P {i}", **{"metadata[external_id]": f"crm-{i}"})[1]
        )
    call("POST", "/v1/subscriptions", customer=customers[0]["id"], **{"items[0][price]": price["id"]})
    emu.store.bulk_add("customers", 5, created_start=1_600_000_000)
    emu.store.bulk_add("balance_transactions", 4, created_start=1_650_000_000)
    assert call("DELETE", f"/v1/customers/{customers[1]['id']}")[0] == 200
    emu.add_connected_account(CONNECTED)
    client(emu, CONNECTED)("POST", "/v1/customers", email="connected@example.com")
    emu.clock.unfreeze()
    return customers


RESOURCES = ("customers", "products", "prices", "plans", "subscriptions", "balance_transactions", "events")


def everything(emu):
    call = client(emu)
    seen = {resource: list_all(call, resource) for resource in RESOURCES if resource != "subscriptions"}
    seen["subscriptions"] = list_all(call, "subscriptions", status="all")
    seen["accounts"] = list_all(call, "accounts")
    seen["connected customers"] = list_all(client(emu, CONNECTED), "customers")
    return seen


def test_saved_emulator_comes_back_the_same(tmp_path):
    path = tmp_path / "saved" / "stripe.json"
    with StripeEmulator(api_key=KEY) as first:
        customers = fill(first)
        before = everything(first)
        save_to_file(first, path)
    assert json.loads(path.read_text())["format"] == "stripe-emulator-store"

    second = StripeEmulator(api_key=KEY)
    assert load_from_file(second, path) is True
    with second:
        after = everything(second)
        assert after == before  # same objects, same ids, same created, same list order
        assert len(after["customers"]) == 12 - 1 + 5 and len(after["connected customers"]) == 1
        call = client(second)
        # Deleted customers stay retrievable as deleted, as in Stripe.
        assert call("GET", f"/v1/customers/{customers[1]['id']}")[1].get("deleted") is True
        # Loaded objects are searchable at once, even where search lags writes.
        second.search_lag_seconds = 3600
        status, found = call("GET", "/v1/customers/search", query="metadata['external_id']:'crm-5'")
        assert status == 200 and [c["id"] for c in found["data"]] == [customers[5]["id"]]
        # New objects come after the loaded ones: newest first, no id or order clash.
        new = call("POST", "/v1/customers", email="new@example.com")[1]
        listed = list_all(call, "customers")
        assert listed[0]["id"] == new["id"] and len(listed) == len(after["customers"]) + 1
        assert len({c["id"] for c in listed}) == len(listed)


def test_round_trip_of_the_data_itself():
    with StripeEmulator(api_key=KEY) as first:
        fill(first)
        data = snapshot(first)
    second = StripeEmulator(api_key=KEY)
    restore(second, json.loads(json.dumps(data)))  # through JSON, as on disk
    assert snapshot(second) == data


def test_missing_file_loads_nothing(tmp_path):
    emu = StripeEmulator(api_key=KEY)
    assert load_from_file(emu, tmp_path / "nope.json") is False
    assert emu.store.count("customers") == 0


def test_refuses_to_mix_or_misread(tmp_path):
    path = tmp_path / "stripe.json"
    with StripeEmulator(api_key=KEY) as first:
        fill(first)
        save_to_file(first, path)
        with pytest.raises(ValueError, match="already has objects"):
            load_from_file(first, path)  # loading into a store that has objects would mix two accounts
    with pytest.raises(ValueError, match="platform account"):
        load_from_file(StripeEmulator(api_key=KEY, account_id="acct_1SomeoneElse00"), path)
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a stripe-emulator-store"):
        load_from_file(StripeEmulator(api_key=KEY), path)


def test_save_is_atomic(tmp_path, monkeypatch):
    """A failed save leaves the previous file whole (and no temporary file behind)."""
    path = tmp_path / "stripe.json"
    with StripeEmulator(api_key=KEY) as emu:
        fill(emu)
        save_to_file(emu, path)
        good = path.read_text()
        monkeypatch.setattr(json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            save_to_file(emu, path)
    assert path.read_text() == good
    assert [p.name for p in tmp_path.iterdir()] == ["stripe.json"]


def test_a_seeded_emulator_loaded_from_a_file_never_reuses_a_saved_id(tmp_path):
    """A seeded store draws its ids from the seed: after a load it must not draw the saved ones again."""
    with StripeEmulator(api_key="sk_test_seededIDS", seed=9) as first:
        saved = set(first.store.bulk_add("customers", 50)) | {first.store.add("products", {"name": "P"})["id"]}
        save_to_file(first, tmp_path / "seeded.json")
    ids = []
    for _ in range(2):
        with StripeEmulator(api_key="sk_test_seededIDS", seed=9) as again:
            assert load_from_file(again, tmp_path / "seeded.json")
            new = [again.store.add("customers", {})["id"] for _ in range(50)] + [again.store.add("products", {"name": "Q"})["id"]]
            assert not saved & set(new) and again.store.count("customers") == 100
            ids.append(new)
    assert ids[0] == ids[1]  # still deterministic from the seed


def test_the_catalogues_generic_objects_come_back_too(tmp_path):
    from stripe_emulator import catalog

    path = tmp_path / "store.json"
    with StripeEmulator(api_key="sk_test_catalogSaved1", seed=4) as first:
        customer = first.store.add("customers", {"email": "a@example.com"})["id"]
        rate = catalog.add(first.store, "tax_rates")["id"]
        tax_id = catalog.add(first.store, "customer_tax_ids", parent_id=customer)["id"]
        catalog.disable_product(first.store, "Issuing")
        save_to_file(first, path)
    second = StripeEmulator(api_key="sk_test_catalogSaved1", seed=4)
    assert load_from_file(second, path)
    with second:
        headers = {"Authorization": "Bearer sk_test_catalogSaved1"}
        assert [r["id"] for r in requests.get(f"{second.url}/v1/tax_rates", headers=headers, timeout=30).json()["data"]] == [rate]
        assert [
            r["id"] for r in requests.get(f"{second.url}/v1/customers/{customer}/tax_ids", headers=headers, timeout=30).json()["data"]
        ] == [tax_id]
        assert requests.get(f"{second.url}/v1/tax_rates/{rate}", headers=headers, timeout=30).status_code == 200
        assert requests.get(f"{second.url}/v1/issuing/cards", headers=headers, timeout=30).status_code == 400
        assert catalog.add(second.store, "tax_rates")["id"] != rate


def run_emulator_command(*args, timeout=120):
    import subprocess
    import sys

    from integration_tests.harness import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "stripe_emulator", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_the_command_serves_a_saved_account_in_the_background_and_saves_it_back_when_stopped(tmp_path):
    import os
    import re
    import time

    with StripeEmulator(api_key=KEY) as first:
        kept = first.store.add("customers", {"email": "kept@example.com"})
        save_to_file(first, tmp_path / "account.json")
    started = run_emulator_command(
        "--port", "0", "--api-key", KEY, "--load", str(tmp_path / "account.json"), "--save", str(tmp_path / "after.json"), "--detach"
    )
    assert started.returncode == 0, started.stderr
    url = re.search(r"on (http://127\.0\.0\.1:\d+) in the background", started.stdout).group(1)
    pid = int(re.search(r"kill (\d+)", started.stdout).group(1))
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {KEY}"
        listed = session.get(f"{url}/v1/customers", timeout=10).json()["data"]
        assert [c["id"] for c in listed] == [kept["id"]]
        added = session.post(f"{url}/v1/customers", data={"email": "new@example.com"}, timeout=10).json()
    finally:
        os.kill(pid, 15)  # as `kill PID` from the printed line: the account is saved first
    deadline = time.monotonic() + 60
    while not (tmp_path / "after.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with StripeEmulator(api_key=KEY) as again:
        assert load_from_file(again, tmp_path / "after.json")
        assert sorted(c["id"] for c in again.store.all("customers")) == sorted([kept["id"], added["id"]])


def test_the_command_says_what_is_wrong_with_a_file_to_load(tmp_path):
    missing = run_emulator_command("--port", "0", "--load", str(tmp_path / "nothing.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "scripts/sync.sh" in missing.stderr
    (tmp_path / "other.json").write_text(json.dumps({"customers": []}))
    other = run_emulator_command("--port", "0", "--load", str(tmp_path / "other.json"))
    assert other.returncode == 2 and "not an account saved by the emulator" in other.stderr
    assert not missing.stdout and not other.stdout
