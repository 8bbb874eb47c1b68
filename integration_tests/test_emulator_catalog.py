"""The emulator serves every list endpoint of the stream catalogue (stripe_emulator/catalog.py),
over real HTTP: the seeded objects, newest first, paged and filtered as Stripe does, their
events, and Stripe's 400 for a product the account has not enabled."""

import pytest
import requests

from stripe_emulator import StripeEmulator, catalog
from stripe_emulator.billing import update

KEY = "sk_test_catalogKEY1234"
T0 = 1_718_000_000
CONNECTED = "acct_1CatalogConnectd"


class Api:
    def __init__(self, base, key=KEY, account=None):
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        if account:
            self.session.headers["Stripe-Account"] = account
        self.base = base

    def get(self, path, **params):
        return self.session.get(self.base + path, params=params, timeout=10)

    def walk(self, path, **params):
        """Every object of a list, one per page (limit=1) to exercise starting_after."""
        out = []
        paged = not any(s["path"] == path_template(path) and not s["paged"] for s in catalog.CATALOGUE.values())
        while True:
            cursor = {"limit": 1, **({"starting_after": out[-1]["id"]} if out else {})} if paged else {}
            page = self.get(path, **cursor, **params)
            assert page.status_code == 200, page.text
            body = page.json()
            out += body["data"]
            assert len(out) < 1000, "paging does not advance"
            if not body["has_more"]:
                return out


def path_template(path):
    """/v1/accounts/acct_1/capabilities -> /v1/accounts/{account}/capabilities (a catalogue path)."""
    for template in catalog.STREAMS_BY_PATH:
        if catalog._pattern(template).fullmatch(path):
            return template
    return path


@pytest.fixture(scope="module")
def seeded():
    """An account with a few parents of every kind, then every catalogue stream seeded."""
    with StripeEmulator(api_key=KEY, seed=11) as emu:
        emu.set_time(T0)
        store = emu.store
        store.bulk_add("customers", 3, created_start=T0 - 1000)
        product = store.add("products", {"name": "Gold"})
        price = store.add("prices", {"product": product["id"], "unit_amount": 500, "recurring": {"interval": "month"}})
        store.add("subscriptions", {"customer": store.all("customers")[0]["id"], "items": [{"price": price["id"]}]})
        store.add("credit_notes", {})
        emu.add_connected_account(CONNECTED)
        added = catalog.seed(store)
        yield emu, added


def test_every_generic_stream_is_seeded(seeded):
    _, added = seeded
    generic = set(catalog.generic_streams())
    assert len(generic) > 80
    assert set(added) == generic  # every stream got objects, children included
    assert {"customer_tax_ids", "persons", "usage_records", "treasury_transactions", "source_transactions"} <= set(added)


def _lists_of(emu, name):
    """(path, params) of each list the stream's objects are under: one per parent."""
    stream = catalog.CATALOGUE[name]
    params = dict(stream["params"])
    if stream.get("window"):
        day = T0 - T0 % 86400
        params.update({stream["window"]["start_param"]: day - 86400, stream["window"]["end_param"]: day + 86400})
    parents = catalog._parent_ids(emu.store, stream, 2)
    for parent in parents:
        path, query = stream["path"], dict(params)
        parent_id = parent
        if isinstance(parent, tuple):  # per meter and per customer
            parent_id, *others = parent
            query.update(zip((stream.get("also_per") or {}).get("query_params", {}), others, strict=True))
        if stream.get("account_path_param"):
            path = path.replace("{" + stream["account_path_param"] + "}", parent_id)
        elif stream["parent"]:
            parent_obj = next(o for o in catalog._objects_of(emu.store, stream["parent"]["stream"]) if o["id"] == parent_id)
            for param, field in stream["parent"]["path_params"].items():
                path = path.replace("{" + param + "}", parent_obj[field])
            for param, field in stream["parent"]["query_params"].items():
                query[param] = parent_obj[field] if isinstance(parent_obj[field], str) else parent_obj[field]["id"]
        yield path, query


@pytest.mark.parametrize("name", sorted(set(catalog.generic_streams())))
def test_lists_return_exactly_the_seeded_objects_newest_first(seeded, name):
    emu, added = seeded
    api = Api(emu.url)
    seen = []
    for path, params in _lists_of(emu, name):
        rows = api.walk(path, **params)
        seen += [row["id"] for row in rows]
        created = catalog.CATALOGUE[name]["created_field"]
        if created:
            assert [r[created] for r in rows] == sorted((r[created] for r in rows), reverse=True)
        for row in rows:
            assert row["object"] in catalog.CATALOGUE[name]["objects"]
    assert sorted(seen) == sorted(listed_by(emu, added, name))


def listed_by(emu, added, name):
    """The objects seeded for the stream, and those of its kinds seeded for the other streams of
    its family (a customer's cards are among its sources; those sources that are cards are cards)."""
    kinds = set(catalog.CATALOGUE[name]["objects"])
    by_id = catalog.state(emu.store).by_id
    found = set(added[name])
    for member in catalog.FAMILY.get(name, ()):
        found |= {oid for oid in added.get(member, ()) if by_id[member][oid]["object"] in kinds}
    return found


def test_created_filters_and_ending_before(seeded):
    emu, _ = seeded
    api = Api(emu.url)
    newer = catalog.add(emu.store, "tax_rates", {"created": T0 + 50})
    catalog.add(emu.store, "tax_rates", {"created": T0 - 50})
    assert [r["id"] for r in api.get("/v1/tax_rates", **{"created[gt]": T0}).json()["data"]] == [newer["id"]]
    everything = api.walk("/v1/tax_rates")
    before = api.get("/v1/tax_rates", ending_before=everything[2]["id"], limit=1).json()
    assert [r["id"] for r in before["data"]] == [everything[1]["id"]] and before["has_more"] is True


def test_bad_parameters_are_refused_as_stripe_does(seeded):
    emu, _ = seeded
    api = Api(emu.url)
    missing = api.get("/v1/setup_attempts")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "parameter_missing"
    assert missing.json()["error"]["param"] == "setup_intent"
    unknown = api.get("/v1/tax_rates", colour="blue")
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "colour"
    assert api.get("/v1/tax_rates", limit=101).status_code == 400
    assert api.get("/v1/tax_rates", starting_after="txr_missing").status_code == 400


def test_retrieve_and_unknown_ids(seeded):
    emu, added = seeded
    api = Api(emu.url)
    rate = api.get(f"/v1/tax_rates/{added['tax_rates'][0]}")
    assert rate.status_code == 200 and rate.json()["id"] == added["tax_rates"][0]
    assert api.get("/v1/tax_rates/txr_nope").status_code == 404


def test_external_accounts_filter_by_object(seeded):
    emu, _ = seeded
    api = Api(emu.url)
    path = f"/v1/accounts/{emu.account_id}/external_accounts"
    cards = api.walk(path, object="card")
    assert cards and {row["object"] for row in cards} == {"card"}
    assert len(api.walk(path)) == len(cards) + len(api.walk(path, object="bank_account"))


def test_seeded_objects_are_announced_in_events(seeded):
    emu, added = seeded
    api = Api(emu.url)
    events = api.walk("/v1/events", **{"types[]": ["tax_rate.created", "issuing_card.created"]})
    ids = {event["data"]["object"]["id"] for event in events}
    assert ids == set(added["tax_rates"]) | set(added["cards"])
    assert not api.walk("/v1/events", type="usage_record_summary.*")  # no events for those


def test_a_product_not_enabled_answers_stripes_400_and_only_for_its_streams():
    with StripeEmulator(api_key=KEY, seed=3) as emu:
        catalog.seed(emu.store, streams=["cards", "issuing_tokens", "tax_rates"])
        api = Api(emu.url)
        assert api.get("/v1/issuing/cards").status_code == 200
        catalog.disable_product(emu.store, "Issuing")
        for path, params in [("/v1/issuing/cards", {}), ("/v1/issuing/tokens", {"card": "ic_1"})]:
            resp = api.get(path, **params)
            assert resp.status_code == 400
            assert resp.json()["error"] == {
                "message": "Your account is not set up to use Issuing. Please visit "
                "https://dashboard.stripe.com/issuing/overview to get started.",
                "type": "invalid_request_error",
            }
        assert api.get("/v1/tax_rates").status_code == 200
        other = api.get("/v1/tax_rates", colour="x").json()["error"]  # an ordinary 400 stays different
        assert other["param"] == "colour" and "not set up" not in other["message"]
        catalog.enable_product(emu.store, "Issuing")
        assert api.get("/v1/issuing/cards").status_code == 200


def test_connected_accounts_have_their_own_objects_and_products():
    with StripeEmulator(api_key=KEY, seed=5) as emu:
        emu.add_connected_account(CONNECTED)
        connected = emu.store_for(CONNECTED)
        mine = catalog.seed(connected, streams=["tax_rates", "cards"])
        catalog.disable_product(emu.store, "Issuing")  # the platform's switch, not the connected account's
        platform, other = Api(emu.url), Api(emu.url, account=CONNECTED)
        assert platform.walk("/v1/tax_rates") == []
        assert [r["id"] for r in other.walk("/v1/tax_rates")] == list(reversed(mine["tax_rates"]))  # newest first
        assert platform.get("/v1/issuing/cards").status_code == 400
        assert other.get("/v1/issuing/cards").status_code == 200


def test_hand_written_routes_still_win(seeded):
    emu, _ = seeded
    api = Api(emu.url)
    customers = api.walk("/v1/customers")
    assert len(customers) == 3 and customers[0]["object"] == "customer"
    update(emu.store, "customers", customers[0]["id"], name="Changed")  # billing helpers untouched
    assert api.get(f"/v1/customers/{customers[0]['id']}").json()["name"] == "Changed"


def test_a_restricted_key_without_the_permission_gets_a_403(seeded):
    emu, _ = seeded
    emu.add_restricted_key("rk_test_customersOnly", {"customers": "read"})
    api = Api(emu.url, key="rk_test_customersOnly")
    assert api.get("/v1/customers").status_code == 200
    refused = api.get("/v1/tax_rates")
    assert refused.status_code == 403
    assert "rak_tax_rates_read" in refused.json()["error"]["message"]


def test_the_command_line_seeds_the_catalogue_and_disables_products():
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stripe_emulator",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--seed-customers",
            "2",
            "--seed-catalog",
            "1",
            "--disable-product",
            "Treasury",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert b"Stripe emulator on" in proc.stdout.readline()
        api = Api(f"http://127.0.0.1:{port}")
        assert len(api.walk("/v1/tax_rates")) == 1
        customer = api.walk("/v1/customers")[0]["id"]
        assert len(api.walk(f"/v1/customers/{customer}/tax_ids")) == 1
        assert api.get("/v1/treasury/financial_accounts").status_code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- lists a customer holds only when asked (Stripe's includes) ----------------------------


@pytest.fixture
def customer_with_sources():
    with StripeEmulator(api_key=KEY, seed=5) as emu:
        emu.set_time(T0)
        store = emu.store
        quiet = store.add("customers", {"email": "quiet@example.com"})["id"]
        busy = store.add("customers", {"email": "busy@example.com"})["id"]
        cards = []
        for _ in range(9):
            cards.append(catalog.add(store, "customer_cards", parent_id=busy)["id"])
            emu.advance(1)
        bank = catalog.add(store, "bank_accounts", parent_id=busy)["id"]
        emu.advance(1)
        source = catalog.add(store, "customer_sources", {"object": "source"}, parent_id=busy)["id"]
        emu.advance(1)
        tax_id = catalog.add(store, "customer_tax_ids", parent_id=busy)["id"]
        product = store.add("products", {"name": "Gold"})["id"]
        price = store.add("prices", {"product": product, "unit_amount": 500, "recurring": {"interval": "month"}})["id"]
        live = store.add("subscriptions", {"customer": busy, "items": [{"price": price}]})["id"]
        store.add("subscriptions", {"customer": busy, "items": [{"price": price}], "status": "canceled"})
        yield emu, {"quiet": quiet, "busy": busy, "cards": cards, "bank": bank, "source": source, "tax_id": tax_id, "live": live}


def test_a_customer_list_includes_the_lists_asked_for_as_stripe_does(customer_with_sources):
    emu, made = customer_with_sources
    api = Api(emu.url)
    plain = api.get("/v1/customers").json()["data"]
    assert all("sources" not in c and "tax_ids" not in c and "subscriptions" not in c for c in plain)  # only when asked
    body = api.get("/v1/customers", **{"expand[]": ["data.sources", "data.tax_ids", "data.subscriptions"]}).json()
    by_id = {c["id"]: c for c in body["data"]}
    busy, quiet = by_id[made["busy"]], by_id[made["quiet"]]
    sources = busy["sources"]
    newest_first = [made["source"], made["bank"], *reversed(made["cards"])]
    assert sources["object"] == "list" and sources["url"] == f"/v1/customers/{made['busy']}/sources"
    assert [s["id"] for s in sources["data"]] == newest_first[:10] and sources["has_more"] is True  # the first 10
    rest = api.get(f"/v1/customers/{made['busy']}/sources", starting_after=sources["data"][-1]["id"], limit=100).json()
    assert [s["id"] for s in rest["data"]] == newest_first[10:] and rest["has_more"] is False
    assert [t["id"] for t in busy["tax_ids"]["data"]] == [made["tax_id"]] and busy["tax_ids"]["has_more"] is False
    assert [s["id"] for s in busy["subscriptions"]["data"]] == [made["live"]]  # current ones: not the canceled one
    assert quiet["sources"] == {"object": "list", "data": [], "has_more": False, "url": f"/v1/customers/{made['quiet']}/sources"}
    one = api.get(f"/v1/customers/{made['busy']}", **{"expand[]": ["tax_ids"]}).json()
    assert [t["id"] for t in one["tax_ids"]["data"]] == [made["tax_id"]] and "sources" not in one
    refused = api.get("/v1/customers", **{"expand[]": "data.nothing"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "expand"


def test_a_customer_s_sources_are_listed_whole_and_each_kind_at_its_own_endpoint(customer_with_sources):
    emu, made = customer_with_sources
    api = Api(emu.url)
    base = f"/v1/customers/{made['busy']}"
    assert {s["id"] for s in api.walk(base + "/sources")} == {*made["cards"], made["bank"], made["source"]}
    assert {s["id"] for s in api.walk(base + "/cards")} == set(made["cards"])
    assert {s["id"] for s in api.walk(base + "/bank_accounts")} == {made["bank"]}
    assert api.get(f"{base}/sources/{made['bank']}").json()["object"] == "bank_account"
    assert api.get(f"{base}/cards/{made['bank']}").status_code == 404  # a bank account is no card
