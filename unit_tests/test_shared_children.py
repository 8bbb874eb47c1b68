"""First reads that share and embed (source/children.py, streams.included_lists): a parent list
asks Stripe to include the lists its selected children read, per-parent requests are made only
for what is not included, one request serves every stream of a customer's sources, and active
entitlements cost nothing per customer when no feature is defined."""

import time
from collections import Counter

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.client import ApiResponse
from source_stripe_proxy.core.meter import RequestMeter
from source_stripe_proxy.source.children import ChildList, ChildPages
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from source_stripe_proxy.source.streams import included_lists
from unit_tests.test_events import BASE, CONFIG, catalog, newest_first, records_of, stripe_list

NOW = int(time.time())


def card(n, customer):
    return {"id": f"card_{n}", "object": "card", "customer": customer}


def test_a_parent_list_asks_to_include_what_its_selected_children_read():
    customers = STREAM_SPECS["customers"]
    assert included_lists(customers, ["customers", "customer_cards", "bank_accounts", "customer_tax_ids", "payment_methods"]) == [
        "sources",
        "tax_ids",
    ]
    assert included_lists(customers, ["source_transactions"]) == ["sources"]  # its parents are among the sources
    assert included_lists(customers, ["customers", "payment_methods", "customer_balance_transactions"]) == []  # not includable
    assert included_lists(STREAM_SPECS["checkout_sessions"], ["checkout_sessions_line_items", "customer_cards"]) == ["line_items"]


def sources_box(customer, rows, has_more=False):
    return {"object": "list", "data": rows, "has_more": has_more, "url": f"/v1/customers/{customer}/sources"}


def test_a_customer_s_included_sources_serve_every_stream_of_them_and_the_rest_is_listed_once(requests_mock):
    many = [card(n, "cus_many") for n in range(10)]  # the first 10 included, two more to list
    rest = [
        {"id": "ba_1", "object": "bank_account", "customer": "cus_many"},
        {"id": "src_1", "object": "source", "customer": "cus_many", "created": NOW - 50},
    ]
    customers = [
        {"id": "cus_many", "object": "customer", "created": NOW - 100, "sources": sources_box("cus_many", many, has_more=True)},
        {"id": "cus_few", "object": "customer", "created": NOW - 200, "sources": sources_box("cus_few", [card(99, "cus_few")])},
    ]
    newest_first(requests_mock, "/v1/customers", customers)
    requests_mock.get(f"{BASE}/v1/customers/cus_many/sources", json=stripe_list(rest))
    requests_mock.get(
        f"{BASE}/v1/sources/src_1/source_transactions",
        json=stripe_list([{"id": "srctxn_1", "object": "source_transaction", "source": "src_1", "created": NOW - 10}]),
    )
    streams = ["customers", "customer_cards", "bank_accounts", "customer_sources", "source_transactions"]
    output = read(SourceStripeProxy(), CONFIG, catalog(*streams, mode=SyncMode.full_refresh))

    sent = Counter(r.path for r in requests_mock.request_history)
    assert sent == {"/v1/customers": 1, "/v1/customers/cus_many/sources": 1, "/v1/sources/src_1/source_transactions": 1}
    listed = next(r for r in requests_mock.request_history if r.path == "/v1/customers")
    assert listed.qs["expand[]"] == ["data.sources"]
    more = next(r for r in requests_mock.request_history if r.path == "/v1/customers/cus_many/sources")
    assert more.qs == {"limit": ["100"], "starting_after": ["card_9"]}  # after the last included one
    assert {r["id"] for r in records_of(output, "customer_cards")} == {f"card_{n}" for n in (*range(10), 99)}
    assert [r["id"] for r in records_of(output, "bank_accounts")] == ["ba_1"]
    assert {r["id"] for r in records_of(output, "customer_sources")} == {f"card_{n}" for n in (*range(10), 99)} | {"ba_1", "src_1"}
    assert [r["id"] for r in records_of(output, "source_transactions")] == ["srctxn_1"]
    cost = next(m.log.message for m in output.logs if m.log.message.startswith("Stripe requests by stream"))
    assert "GET /v1/customers/{customer}/sources 1 for bank_accounts, customer_cards, customer_sources, source_transactions" in cost


def test_without_an_included_list_each_parent_s_children_are_listed_from_their_own_endpoint(requests_mock):
    newest_first(requests_mock, "/v1/customers", [{"id": "cus_1", "object": "customer", "created": NOW - 100}])  # expand ignored
    requests_mock.get(f"{BASE}/v1/customers/cus_1/cards", json=stripe_list([card(1, "cus_1")]))
    requests_mock.get(
        f"{BASE}/v1/customers/cus_1/tax_ids", json=stripe_list([{"id": "txi_1", "object": "tax_id", "customer": "cus_1", "created": NOW}])
    )
    output = read(SourceStripeProxy(), CONFIG, catalog("customer_cards", "customer_tax_ids", mode=SyncMode.full_refresh))
    assert [r["id"] for r in records_of(output, "customer_cards")] == ["card_1"]
    assert [r["id"] for r in records_of(output, "customer_tax_ids")] == ["txi_1"]
    assert sorted(r.path for r in requests_mock.request_history) == [
        "/v1/customers",
        "/v1/customers/cus_1/cards",
        "/v1/customers/cus_1/tax_ids",
    ]


def test_active_entitlements_cost_one_request_when_no_feature_is_defined(requests_mock):
    newest_first(requests_mock, "/v1/customers", [{"id": f"cus_{n}", "object": "customer", "created": NOW - n} for n in range(30)])
    requests_mock.get(f"{BASE}/v1/entitlements/features", json=stripe_list([]))
    requests_mock.get(f"{BASE}/v1/entitlements/active_entitlements", json=stripe_list([]))
    read(SourceStripeProxy(), CONFIG, catalog("entitlements_active_entitlements", mode=SyncMode.full_refresh))
    assert sorted(r.path for r in requests_mock.request_history) == ["/v1/customers", "/v1/entitlements/features"]
    features = [r.qs for r in requests_mock.request_history if r.path == "/v1/entitlements/features"]
    assert features == [{"limit": ["1"]}]  # archived ones too: no `archived` filter

    requests_mock.reset_mock()
    requests_mock.get(f"{BASE}/v1/entitlements/features", json=stripe_list([{"id": "feat_1", "object": "entitlements.feature"}]))
    read(SourceStripeProxy(), CONFIG, catalog("entitlements_active_entitlements", mode=SyncMode.full_refresh))
    assert Counter(r.path for r in requests_mock.request_history)["/v1/entitlements/active_entitlements"] == 30  # one per customer


class CountingClient:
    def __init__(self):
        self.meter = RequestMeter()
        self.sent = Counter()

    def send(self, method, path, params=None, account_id=None):
        self.sent[(path, params.get("starting_after"))] += 1
        return ApiResponse(200, {"object": "list", "data": [{"id": f"{path}:{params.get('starting_after')}"}], "has_more": False}, {})


def test_a_shared_list_is_asked_once_each_member_gets_its_own_copy_and_one_that_leaves_frees_its_share():
    client = CountingClient()
    pages = ChildPages(client, workers=2, page_size=100)
    group = ("acct", "/v1/customers/{customer}/sources")
    for consumer, stream in ((1, "customer_cards"), (2, "bank_accounts"), (3, "customer_sources")):
        pages.join(group, consumer, stream)
    request = ChildList({"id": "cus_1"}, "/v1/customers/cus_1/sources", {}, starting_after="card_9", share=group)
    try:
        first = [objects for _, objects in pages.lists([request], None, consumer=1)]
        second = [objects for _, objects in pages.lists([request], None, consumer=2)]
        assert first == second and first[0][0] is not second[0][0]  # copies: each stream changes its own
        assert client.sent == {("/v1/customers/cus_1/sources", "card_9"): 1}
        assert pages._shared  # kept for the third member
        pages.leave(group, 3)
        assert not pages._shared  # ... until it leaves
        later = ChildList({"id": "cus_2"}, "/v1/customers/cus_2/sources", {}, starting_after="card_3", share=group)
        list(pages.lists([later], None, consumer=1))
        list(pages.lists([later], None, consumer=2))
        assert client.sent[("/v1/customers/cus_2/sources", "card_3")] == 1 and not pages._shared
    finally:
        pages.close()


def test_pages_kept_for_a_member_that_lags_or_never_asks_are_bounded_and_asked_again_for_it_alone():
    client = CountingClient()
    pages = ChildPages(client, workers=1, page_size=100)  # at most 2 pages kept
    group = ("acct", "/v1/customers/{customer}/sources")
    for consumer, stream in ((1, "customer_cards"), (2, "source_transactions"), (3, "bank_accounts")):
        pages.join(group, consumer, stream)
    requests = [ChildList({"id": f"cus_{n}"}, f"/v1/customers/cus_{n}/sources", {}, starting_after="card_9", share=group) for n in range(6)]
    try:
        kept = []
        for request in requests:  # the first member reads ahead; the others have taken nothing yet
            list(pages.lists([request], None, consumer=1))
            kept.append(len(pages._shared))
        assert kept == [1, 2, 2, 2, 2, 2]  # never more than pages_kept, however many the first one reads
        assert pages.pages_kept == 2
        late = [objects for request in requests for _, objects in pages.lists([request], None, consumer=2)]
        assert late == [[{"id": f"/v1/customers/cus_{n}/sources:card_9"}] for n in range(6)]  # nothing lost for the late one
        # The four let go were asked again for it alone; the two kept were not asked again.
        assert [client.sent[(r.path, "card_9")] for r in requests] == [2, 2, 2, 2, 1, 1]
        assert len(pages._shared) == 2  # the last two, still kept for the third member, which never asks
        pages.leave(group, 3)
        assert not pages._shared
    finally:
        pages.close()
