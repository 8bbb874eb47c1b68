"""Requests counted once where they are sent (core/meter.py) and told by stream (source/read_cost.py):
a stream's own, a read shared by several streams (counted once, with the streams it served), a
re-fetch from a stream's detail endpoint, and the sync's own."""

import threading

import requests_mock as requests_mock_module

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.meter import Counted, RequestMeter
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.source.read_cost import read_cost
from source_stripe_proxy.source.reader import ReadPlan

API_KEY = "sk_test_readCost0000"


def plan(name, path, account=None):
    return ReadPlan(name=name, path=path, fixed_params={}, intervals=((None, None),), account_id=account)


def test_the_client_counts_each_request_under_its_endpoint_account_and_the_caller_s_label():
    client = StripeClient(
        ConnectionSettings.from_config({"credentials": {"auth_type": "api_key", "api_key": API_KEY}}), sleep=lambda s: None
    )
    with requests_mock_module.Mocker() as mock:
        mock.get("https://api.stripe.com/v1/customers/cus_1/tax_ids", json={"object": "list", "data": [], "has_more": False})
        mock.get("https://api.stripe.com/v1/customers", [{"status_code": 500, "json": {}}, {"json": {"object": "list", "data": []}}])
        before = client.meter.snapshot()
        with client.meter.serving(("customer_tax_ids",)):
            client.get("/v1/customers/cus_1/tax_ids", account_id="acct_1")
        client.get("/v1/customers")  # retried once: two requests
    counted = client.meter.since(before)
    assert counted == {
        Counted("GET", "/v1/customers/{customer}/tax_ids", "acct_1", ("customer_tax_ids",)): 1,
        Counted("GET", "/v1/customers", None, ()): 2,
    }
    assert client.meter.label() == ()  # the label ends with its block


def test_a_label_belongs_to_the_thread_that_set_it():
    meter = RequestMeter()
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        meter.count("GET", "/v1/charges", None)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with meter.serving(("customers",)):
        inside.set()
        done.wait()
        meter.count("GET", "/v1/customers", None)
    thread.join()
    assert meter.snapshot() == {Counted("GET", "/v1/charges", None, ()): 1, Counted("GET", "/v1/customers", None, ("customers",)): 1}


def test_requests_are_told_by_stream_shared_reads_once_with_their_streams():
    plans = [
        plan("customers", "/v1/customers"),
        plan("customer_tax_ids", "/v1/customers"),  # a child: its plan reads the parent's list
        plan("events", "/v1/events"),
        plan("charges", "/v1/events"),  # follows events: the same read
        plan("tax_rates", "/v1/tax_rates"),
    ]
    counts = {
        Counted("GET", "/v1/customers", None): 3,
        Counted("GET", "/v1/events", None): 2,
        Counted("GET", "/v1/tax_rates", None): 1,
        Counted("GET", "/v1/customers/{customer}/tax_ids", None, ("customer_tax_ids",)): 40,
        Counted("GET", "/v1/customers/{customer}/sources", None, ("bank_accounts", "customer_cards")): 4,
        Counted("GET", "/v1/charges/{charge}", None): 5,  # re-fetched after their events
        Counted("GET", "/v1/account", None): 1,
    }
    cost = read_cost(counts, plans)
    assert cost.total == 56
    assert cost.own == {"customer_tax_ids": 40, "charges": 5, "tax_rates": 1}
    assert cost.shared == {
        ("GET /v1/customers", ("customer_tax_ids", "customers")): 3,
        ("GET /v1/events", ("charges", "events")): 2,
        ("GET /v1/customers/{customer}/sources", ("bank_accounts", "customer_cards")): 4,
    }
    assert cost.other == {"GET /v1/account": 1}
    line = cost.line()
    assert line.startswith("Stripe requests by stream, 56 in all: own reads: customer_tax_ids 40, charges 5, tax_rates 1; ")
    assert "GET /v1/customers 3 for customer_tax_ids, customers" in line and line.endswith("the sync's own: GET /v1/account 1.")


def test_each_account_s_list_is_its_own_and_many_streams_are_named_briefly():
    names = [f"s{n}" for n in range(8)]
    plans = [plan(name, "/v1/events", "acct_1") for name in names] + [plan("customers", "/v1/customers", "acct_2")]
    cost = read_cost({Counted("GET", "/v1/events", "acct_1"): 1, Counted("GET", "/v1/customers", "acct_1"): 1}, plans)
    assert cost.shared == {("GET /v1/events", tuple(names)): 1}
    assert cost.other == {"GET /v1/customers": 1}  # no plan of acct_1 reads customers
    assert "for s0, s1, s2, s3, s4 and 3 more streams" in cost.line()
