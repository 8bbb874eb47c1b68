"""The source against localstripe, an independent stateful Stripe fake from PyPI.

Objects are created in localstripe with plain HTTP calls (not our client), then read back
through every connection mode: directly, and through our Paragon and PinkConnect proxy
emulators placed in front of localstripe. localstripe lists oldest first and has no
prices endpoint and no `created` filters, so those streams/filters are tested against our
own emulator elsewhere.
"""

import re

import pytest
import requests

from integration_tests.harness import configured_catalog, run_connector, state_from

LOCALSTRIPE_STREAMS = ["customers", "products", "plans", "subscriptions", "balance_transactions"]
CUSTOMER_COUNT = 130  # more than one page of 100


@pytest.fixture(scope="module")
def seeded(localstripe):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer sk_test_seed"

    def create(path, **data):
        response = session.post(f"{localstripe.url}/v1/{path}", data=data)
        response.raise_for_status()
        return response.json()

    customers = [create("customers", email=f"user{i}@example.com", name=f"User {i}") for i in range(CUSTOMER_COUNT)]
    products = [create("products", name=f"Product {i}") for i in range(4)]
    plans = [create("plans", product=p["id"], amount=1000 * (i + 1), currency="usd", interval="month") for i, p in enumerate(products)]
    subscriptions = [
        create("subscriptions", customer=customers[i]["id"], **{"items[0][plan]": plans[i % len(plans)]["id"]}, trial_period_days=7)
        for i in range(3)
    ]
    canceled = session.delete(f"{localstripe.url}/v1/subscriptions/{subscriptions[0]['id']}").json()
    assert canceled["status"] == "canceled"
    return {
        "customers": {c["id"] for c in customers},
        "products": {p["id"] for p in products},
        "plans": {p["id"] for p in plans},
        "subscriptions": {s["id"] for s in subscriptions},
        "canceled_subscription": subscriptions[0]["id"],
    }


def _existing_ids(localstripe, stream):
    """What localstripe holds overall (other tests in the session may add objects)."""
    ids, params = set(), {"limit": 100}
    path = stream
    if stream == "subscriptions":
        params["status"] = "all"
    while True:
        page = requests.get(f"{localstripe.url}/v1/{path}", params=params, headers={"Authorization": "Bearer sk_test_x"}, timeout=30).json()
        ids |= {o["id"] for o in page["data"]}
        if not page["has_more"]:
            return ids
        params["starting_after"] = page["data"][-1]["id"]


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_full_read_through_each_mode_returns_what_localstripe_holds(mode, seeded, localstripe, connection_configs):
    config = connection_configs(mode, localstripe)
    result = run_connector("source", "read", config, configured_catalog(LOCALSTRIPE_STREAMS))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for stream in LOCALSTRIPE_STREAMS:
        result.assert_read_exactly(stream, _existing_ids(localstripe, stream))
        assert result.statuses(stream)[-1] == "COMPLETE"

    read_ids = {s: {r["id"] for r in result.records_of(s)} for s in LOCALSTRIPE_STREAMS}
    for stream in ("customers", "products", "plans", "subscriptions"):
        assert seeded[stream] <= read_ids[stream]
    assert seeded["canceled_subscription"] in read_ids["subscriptions"]  # status=all was sent

    counts = re.search(r"Stripe requests: (\d+) \((\d+) of them retries\)", result.stdout)
    assert counts, "the read reports its request count"
    print(f"\n[{mode}] records: " + ", ".join(f"{s}={len(read_ids[s])}" for s in LOCALSTRIPE_STREAMS) + f"; requests: {counts.group(1)}")


def test_incremental_first_sync_then_resume_reads_only_new_objects(seeded, localstripe, connection_configs):
    config = connection_configs("api_key", localstripe)
    catalog = configured_catalog(["customers"], sync_mode="incremental")
    first = run_connector("source", "read", config, catalog)
    assert first.returncode == 0, first.stdout[-3000:]
    assert seeded["customers"] <= {r["id"] for r in first.records_of("customers")}
    state = state_from(first)
    assert state and state[0]["stream"]["stream_state"]["created"] > 0

    # The resumed read follows /v1/events with `types[]`, which localstripe rejects (a gap of
    # the fake, not of Stripe): it must fail loudly rather than silently return nothing.
    assert "events_since" in state[0]["stream"]["stream_state"]
    second = run_connector("source", "read", config, catalog, state=state)
    assert second.returncode != 0
    assert second.statuses("customers")[-1] == "INCOMPLETE"
    assert "/v1/events" in second.errors()[0]["message"]
