"""Streams of the generated catalogue through the source, with Stripe mocked by requests-mock:
child streams (per parent by path or query, filtered parents, added parent ids, children read
by their own `created`), the one events read (types grouped, or every event routed by type and
object), events that name a parent to re-list, and streams an account can't read told apart
from real errors by Stripe's error body."""

import time

import jsonschema
import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.core.errors import InvalidRequestError, PermissionDeniedError
from source_stripe_proxy.data import load_schema
from source_stripe_proxy.source.availability import unavailable
from source_stripe_proxy.source.cursors import CLOCK_SKEW_SECONDS
from source_stripe_proxy.source.events_read import EventSample, group_types, share_events_read
from source_stripe_proxy.source.reader import EVENTS_PHASE, LIST_PHASE, ReadPlan
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from unit_tests.test_events import CONFIG, DAY, catalog, event, final_state, newest_first, records_of, state_of, stripe_list

BASE = "https://api.stripe.com"


def customer(n, created):
    return {"id": f"cus_{n}", "object": "customer", "created": created, "metadata": {}}


def paths(requests_mock):
    return [r.path for r in requests_mock.request_history]


def by_parent(requests_mock, path_of, rows_of, url="/v1/x"):
    """A child list per parent: ``path_of(parent)`` -> ``rows_of[parent]``, paged by starting_after."""
    for parent, rows in rows_of.items():

        def answer(request, context, rows=rows):
            limit = int(request.qs.get("limit", ["10"])[0])
            start = 0
            if "starting_after" in request.qs:
                start = [r["id"] for r in rows].index(request.qs["starting_after"][0]) + 1
            page = rows[start : start + limit]
            return stripe_list(page, has_more=start + limit < len(rows), url=url)

        requests_mock.get(f"{BASE}{path_of(parent)}", json=answer)


# -- child streams ----------------------------------------------------------------------


def test_a_childs_records_come_from_its_parents_and_the_parent_list_is_read_once(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(n, now - n * DAY) for n in range(1, 4)])
    tax_ids = {
        f"cus_{n}": [{"id": f"txi_{n}_{k}", "object": "tax_id", "customer": f"cus_{n}", "created": now - 10} for k in range(n)]
        for n in range(1, 4)
    }
    by_parent(requests_mock, lambda c: f"/v1/customers/{c}/tax_ids", tax_ids)
    output = read(
        SourceStripeProxy(),
        {**CONFIG, "page_size": 2, "concurrency": 1},
        catalog("customers", "customer_tax_ids", mode=SyncMode.full_refresh),
    )
    assert sorted(r["id"] for r in records_of(output, "customer_tax_ids")) == sorted(t["id"] for rows in tax_ids.values() for t in rows)
    assert len(records_of(output, "customers")) == 3
    assert [p for p in paths(requests_mock) if p == "/v1/customers"] == ["/v1/customers", "/v1/customers"]  # 3 customers, 2 a page: once
    assert paths(requests_mock).count("/v1/customers/cus_3/tax_ids") == 2  # its 3 tax ids, 2 a page
    validator = jsonschema.Draft7Validator(load_schema("customer_tax_ids"))
    for record in records_of(output, "customer_tax_ids"):
        validator.validate(record)
        assert record["is_deleted"] is False and record["updated"] == now - 10


def test_only_parents_matching_the_filter_are_asked_and_the_parent_id_is_added(requests_mock):
    now = int(time.time())
    payouts = [
        {"id": "po_auto", "object": "payout", "created": now - 20, "automatic": True},
        {"id": "po_manual", "object": "payout", "created": now - 10, "automatic": False},
    ]
    newest_first(requests_mock, "/v1/payouts", payouts)
    txns = [{"id": "txn_1", "object": "balance_transaction", "created": now - 30}]
    requests_mock.get(f"{BASE}/v1/balance_transactions", json=stripe_list(txns))
    output = read(SourceStripeProxy(), CONFIG, catalog("payout_balance_transactions", mode=SyncMode.full_refresh))
    asked = [r.qs for r in requests_mock.request_history if r.path == "/v1/balance_transactions"]
    assert asked == [{"payout": ["po_auto"], "limit": ["100"]}]  # `payout=` only matches automatic payouts
    assert records_of(output, "payout_balance_transactions") == [{**txns[0], "payout": "po_auto", "updated": now - 30}]


def test_children_without_a_parent_field_get_the_one_the_connector_adds(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/checkout/sessions", [{"id": "cs_1", "object": "checkout.session", "created": now - 5}])
    requests_mock.get(f"{BASE}/v1/checkout/sessions/cs_1/line_items", json=stripe_list([{"id": "li_1", "object": "item"}]))
    output = read(SourceStripeProxy(), CONFIG, catalog("checkout_sessions_line_items", mode=SyncMode.full_refresh))
    [record] = records_of(output, "checkout_sessions_line_items")
    assert record["checkout_session_id"] == "cs_1" and record["updated"] == now - 5  # the parent's time: it changes with it
    jsonschema.Draft7Validator(load_schema("checkout_sessions_line_items")).validate(record)


def test_a_child_read_by_its_own_created_lists_every_parent_and_keeps_its_own_cursor(requests_mock):
    now = int(time.time())
    intents = [{"id": f"seti_{n}", "object": "setup_intent", "created": now - 50 * DAY + n} for n in range(2)]
    newest_first(requests_mock, "/v1/setup_intents", intents)
    attempts = {
        "seti_0": [{"id": "setatt_old", "object": "setup_attempt", "setup_intent": "seti_0", "created": now - 40 * DAY}],
        "seti_1": [{"id": "setatt_new", "object": "setup_attempt", "setup_intent": "seti_1", "created": now - DAY}],
    }

    def answer(request, context):  # ignores created[gte]: the reader keeps only the new ones itself
        return stripe_list(attempts[request.qs["setup_intent"][0]])

    requests_mock.get(f"{BASE}/v1/setup_attempts", json=answer)
    first = read(SourceStripeProxy(), CONFIG, catalog("setup_attempts"))
    assert {r["id"] for r in records_of(first, "setup_attempts")} == {"setatt_old", "setatt_new"}
    # every attempt created before the read began (less the clock skew) has been read: not the newest intent's time
    assert final_state(first, "setup_attempts")["created"] == pytest.approx(now - CLOCK_SKEW_SECONDS, abs=3)
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(), CONFIG, catalog("setup_attempts"), state_of(setup_attempts={"created": now - 2 * DAY}))
    assert {r["id"] for r in records_of(second, "setup_attempts")} == {"setatt_new"}
    intents_asked = [r.qs for r in requests_mock.request_history if r.path == "/v1/setup_intents"]
    assert intents_asked == [{"limit": ["100"]}]  # every intent: an old one may have a new attempt
    assert {r.qs["created[gte]"][0] for r in requests_mock.request_history if r.path == "/v1/setup_attempts"} == {str(now - 2 * DAY)}


def test_meter_summaries_are_read_per_meter_and_customer_in_aligned_windows(requests_mock):
    now = int(time.time())
    meter_created = now - 3 * DAY
    newest_first(requests_mock, "/v1/billing/meters", [{"id": "mtr_1", "object": "billing.meter", "created": meter_created}])
    newest_first(requests_mock, "/v1/customers", [customer(1, now - DAY), customer(2, now - DAY)])
    requests_mock.get(
        f"{BASE}/v1/billing/meters/mtr_1/event_summaries",
        json=lambda r, c: stripe_list([{"id": f"sum_{r.qs['customer'][0]}", "object": "billing.meter_event_summary", "meter": "mtr_1"}]),
    )
    output = read(SourceStripeProxy(), CONFIG, catalog("billing_meter_event_summaries", mode=SyncMode.full_refresh))
    assert sorted(r["id"] for r in records_of(output, "billing_meter_event_summaries")) == ["sum_cus_1", "sum_cus_2"]
    asked = [r.qs for r in requests_mock.request_history if r.path.endswith("/event_summaries")]
    start, end = meter_created - meter_created % DAY, -(-now // DAY) * DAY
    assert sorted(q["customer"][0] for q in asked) == ["cus_1", "cus_2"]
    assert all(q["start_time"] == [str(start)] and q["end_time"] == [str(end)] and q["value_grouping_window"] == ["day"] for q in asked)


def test_a_parent_gone_since_it_was_listed_has_no_children(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(1, now - 5)])
    requests_mock.get(
        f"{BASE}/v1/customers/cus_1/tax_ids",
        status_code=404,
        json={"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer: 'cus_1'"}},
    )
    output = read(SourceStripeProxy(), CONFIG, catalog("customer_tax_ids", mode=SyncMode.full_refresh))
    assert records_of(output, "customer_tax_ids") == [] and output.get_stream_statuses("customer_tax_ids")[-1].name == "COMPLETE"


# -- the one events read -----------------------------------------------------------------


def plans_of(types_by_stream, account=None):
    return [
        ReadPlan(
            name=name,
            path="/v1/events",
            fixed_params={"types": types},
            intervals=((1, None),),
            phase=EVENTS_PHASE,
            account_id=account,
            splittable=False,
        )
        for name, types in types_by_stream.items()
    ]


def test_beyond_20_types_the_sample_decides_between_one_read_of_everything_and_a_read_per_group():
    many = {f"stream_{n}": [f"thing_{n}.created", f"thing_{n}.updated"] for n in range(15)}  # 30 types: 2 groups
    assert [len(g) for g in group_types(list(many.values()))] == [20, 10]
    plans = plans_of(many)
    # a day of events at one a second, almost none of the selected streams' types: two filtered reads
    rare = EventSample(("charge.succeeded",) * 99 + ("thing_1.created",), has_more=True, span_seconds=100, window_seconds=86_400)
    grouped = share_events_read(plans, {None: rare})
    assert len({p.read_key for p in grouped}) == 2 and all(len(p.fixed_params["types"]) <= 20 for p in grouped)
    assert {tuple(p.fixed_params["types"]) for p in grouped if p.name == "stream_1"} == {
        tuple(next(g for g in group_types(list(many.values())) if "thing_1.created" in g))
    }
    # most events wanted: grouping could only add requests, so one read of every event
    busy = EventSample(tuple(f"thing_{n % 15}.created" for n in range(100)), has_more=True, span_seconds=100, window_seconds=86_400)
    assert {p.fixed_params == {} for p in share_events_read(plans, {None: busy})} == {True}
    # few events: one page holds them all, one request
    few = EventSample(("charge.succeeded",) * 7, has_more=False, span_seconds=5, window_seconds=86_400)
    assert {p.fixed_params == {} for p in share_events_read(plans, {None: few})} == {True}
    assert group_types([[f"t{n}.x" for n in range(21)]]) is None  # never split one stream's types


def test_the_events_reads_of_all_streams_become_one_read_with_a_types_filter_when_it_fits():
    few = share_events_read(plans_of({"customers": ["customer.created"], "products": ["product.created", "product.deleted"]}))
    assert {p.read_key for p in few} == {few[0].read_key}  # one read
    assert few[0].fixed_params == {"types": ["customer.created", "product.created", "product.deleted"]}
    many = {f"stream_{n}": [f"thing_{n}.created", f"thing_{n}.updated"] for n in range(11)}  # 22 types
    events_list = ReadPlan(name="events", path="/v1/events", fixed_params={}, intervals=((5, None),), phase=LIST_PHASE)
    shared = share_events_read(plans_of(many) + plans_of({"other": ["x.created"]}, account="acct_1") + [events_list])
    assert {p.fixed_params == {} for p in shared if p.account_id is None and p.phase == EVENTS_PHASE} == {True}  # every event
    assert len({p.read_key for p in shared if p.account_id is None}) == 1  # the events stream joins the read
    assert [p.fixed_params for p in shared if p.account_id == "acct_1"] == [{"types": ["x.created"]}]  # each account its own


def test_one_events_read_routes_each_event_to_its_streams_by_type_and_object(requests_mock):
    now = int(time.time())
    since = now - 3600
    card = {"id": "card_1", "object": "card", "customer": "cus_1", "created": now - DAY}
    bank = {"id": "ba_1", "object": "bank_account", "customer": "cus_1"}
    events = [
        event(1, "customer.source.created", card, now - 50),
        event(2, "customer.source.updated", bank, now - 40),
        event(3, "customer.updated", customer(1, now - DAY), now - 30),
        event(4, "product.created", {"id": "prod_1", "object": "product", "created": now - 20}, now - 20),
    ]
    events += [
        event(10 + n, "charge.succeeded", {"id": f"ch_{n}", "object": "charge", "created": now - 100}, now - 100 + n) for n in range(5)
    ]
    newest_first(requests_mock, "/v1/events", events)
    requests_mock.get(
        f"{BASE}/v1/customers/cus_1/balance_transactions",
        json=stripe_list([{"id": "cbtxn_1", "object": "customer_balance_transaction", "customer": "cus_1", "created": now - 30}]),
    )
    streams = ["customers", "customer_cards", "bank_accounts", "customer_sources", "customer_balance_transactions", "products", "charges"]
    state = state_of(**{name: {"events_since": since} for name in streams})
    output = read(SourceStripeProxy(), {**CONFIG, "page_size": 3}, catalog(*streams), state)
    got = {name: sorted(r["id"] for r in records_of(output, name)) for name in streams}
    assert got == {
        "customers": ["cus_1"],
        "customer_cards": ["card_1"],
        "bank_accounts": ["ba_1"],
        "customer_sources": ["ba_1", "card_1"],
        "customer_balance_transactions": ["cbtxn_1"],
        "products": ["prod_1"],
        "charges": [f"ch_{n}" for n in range(5)],
    }
    sample, *reads = [r.qs for r in requests_mock.request_history if r.path == "/v1/events"]
    assert sample == {"created[gte]": [str(since)], "limit": ["3"]}  # their types are more than 20: what do the events hold?
    assert len(reads) == 3  # every event is wanted, so one read of them all: 9 events, 3 a page, for seven streams
    assert all("types[]" not in qs for qs in reads)
    for name in streams:
        assert final_state(output, name)["events_since"] >= since


def test_an_application_fees_refunds_follow_their_own_events_and_the_fees(requests_mock):
    now = int(time.time())
    refund = {"id": "fr_1", "object": "fee_refund", "fee": "fee_1", "created": now - 60}
    fee = {
        "id": "fee_2",
        "object": "application_fee",
        "created": now - DAY,
        "refunds": stripe_list([{"id": "fr_2", "object": "fee_refund", "fee": "fee_2", "created": now - 30}]),
    }
    newest_first(
        requests_mock,
        "/v1/events",
        [event(1, "application_fee.refund.updated", refund, now - 60), event(2, "application_fee.refunded", fee, now - 30)],
    )
    output = read(
        SourceStripeProxy(), CONFIG, catalog("application_fees_refunds"), state_of(application_fees_refunds={"events_since": now - 3600})
    )
    assert sorted(r["id"] for r in records_of(output, "application_fees_refunds")) == [
        "fr_1",
        "fr_2",
    ]  # a new refund comes as the fee's event


# -- streams an account can't read --------------------------------------------------------


def stripe_error(status, message, param=None):
    error = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    return {"status_code": status, "json": {"error": error}}


def test_a_product_not_enabled_and_a_bad_parameter_are_told_apart_by_stripes_error_body(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(1, now - 5)])
    requests_mock.get(
        f"{BASE}/v1/issuing/cards",
        **stripe_error(
            400, "Your account is not set up to use Issuing. Please visit https://dashboard.stripe.com/issuing/overview to get started."
        ),
    )
    requests_mock.get(f"{BASE}/v1/tax_rates", **stripe_error(400, "Received unknown parameter: colour", param="colour"))
    output = read(
        SourceStripeProxy(), CONFIG, catalog("customers", "cards", "tax_rates", mode=SyncMode.full_refresh), expecting_exception=True
    )
    assert len(records_of(output, "customers")) == 1 and output.get_stream_statuses("customers")[-1].name == "COMPLETE"
    errors = {e.trace.error.stream_descriptor.name: e.trace.error for e in output.errors if e.trace.error.stream_descriptor}
    assert errors["cards"].failure_type.value == "config_error"
    assert "Stream 'cards' can't be read: Issuing is not enabled on this account" in errors["cards"].message
    assert errors["tax_rates"].failure_type.value == "system_error"  # a bug or a bad parameter: a real error
    assert "can't be read" not in errors["tax_rates"].message and "colour" in errors["tax_rates"].message
    for name in ("cards", "tax_rates"):
        assert output.get_stream_statuses(name)[-1].name == "INCOMPLETE"
    closing = output.errors[-1].trace.error
    assert "1 selected stream(s) can't be read" in closing.message and "cards (Issuing is not enabled on this account)" in closing.message
    assert "did not sync completely: tax_rates" in closing.message and closing.failure_type.value == "system_error"


def test_skip_lets_the_sync_succeed_but_never_hides_a_real_error(requests_mock):
    now = int(time.time())
    newest_first(requests_mock, "/v1/customers", [customer(1, now - 5)])
    requests_mock.get(f"{BASE}/v1/treasury/financial_accounts", **stripe_error(400, "Your account is not set up to use Treasury."))
    config = {**CONFIG, "unavailable_streams": "skip"}
    ok = read(
        SourceStripeProxy(),
        config,
        catalog("customers", "treasury_transactions", "treasury_financial_accounts", mode=SyncMode.full_refresh),
    )
    assert not ok.errors and len(records_of(ok, "customers")) == 1
    warnings = [m.log.message for m in ok.logs if m.log.level.value == "WARN"]
    assert sum("Treasury is not enabled" in w for w in warnings) == 2  # the child inherits its parent's product
    requests_mock.get(f"{BASE}/v1/treasury/financial_accounts", **stripe_error(400, "Invalid limit", param="limit"))
    failed = read(SourceStripeProxy(), config, catalog("treasury_financial_accounts", mode=SyncMode.full_refresh), expecting_exception=True)
    assert failed.errors and failed.errors[-1].trace.error.failure_type.value == "system_error"


@pytest.mark.parametrize(
    "error, reason",
    [
        (
            InvalidRequestError(
                "x", http_status=400, error_type="invalid_request_error", stripe_message="Your account is not set up to use Climate."
            ),
            "Climate is not enabled on this account",
        ),
        (
            InvalidRequestError(
                "x", http_status=400, error_type="invalid_request_error", stripe_message="Your account is not set up to use Issuing"
            ),
            "Issuing is not enabled on this account",
        ),
        (
            PermissionDeniedError(
                "x",
                http_status=403,
                error_type="invalid_request_error",
                stripe_message=(
                    "The provided key 'rk_test_***' does not have the required permissions for this endpoint on account 'acct_1'. "
                    "Having the 'rak_issuing_card_read' permission would allow this request to continue."
                ),
            ),
            "the key lacks permission rak_issuing_card_read",
        ),
        (
            PermissionDeniedError("x", http_status=403, error_type="invalid_request_error", stripe_message="Forbidden"),
            "the key lacks a permission for it",
        ),
    ],
)
def test_what_makes_a_stream_unreadable(error, reason):
    assert unavailable(STREAM_SPECS["cards"], error).reason == reason


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError(
            "x",
            http_status=400,
            error_type="invalid_request_error",
            param="limit",
            stripe_message="Your account is not set up to use Issuing",
        ),
        InvalidRequestError(
            "x", http_status=404, error_type="invalid_request_error", stripe_message="Your account is not set up to use Issuing"
        ),
        InvalidRequestError("x", http_status=400, error_type="invalid_request_error", stripe_message="Invalid timestamp"),
        PermissionDeniedError("x", http_status=403, error_type="proxy_error", stripe_message="denied", source="paragon"),
    ],
)
def test_what_stays_a_real_error(error):
    assert unavailable(STREAM_SPECS["cards"], error) is None


# -- the pool of child requests ------------------------------------------------------------


class PagedChildren:
    """Child lists of 3 pages each; counts pages answered, to compare with pages taken."""

    def __init__(self):
        import threading as threads

        from source_stripe_proxy.core.meter import RequestMeter

        self.lock = threads.Lock()
        self.answered = 0
        self.meter = RequestMeter()

    def send(self, method, path, params=None, account_id=None):
        from source_stripe_proxy.core.client import ApiResponse

        start = int(params.get("starting_after", "0:-1").split(":")[1]) + 1
        rows = [{"id": f"{path}:{n}"} for n in range(start, min(start + params["limit"], 3 * params["limit"]))]
        with self.lock:
            self.answered += 1
        return ApiResponse(
            200, {"object": "list", "data": rows, "has_more": rows[-1]["id"].endswith(f":{3 * params['limit'] - 1}") is False}, {}
        )


def test_child_pages_in_memory_are_bounded_for_the_whole_sync_and_nested_callers_never_wait_for_each_other():
    import threading as threads

    from source_stripe_proxy.source.children import PAGES_PER_WORKER, ChildList, ChildPages

    fake = PagedChildren()
    pages = ChildPages(fake, workers=3, page_size=2)
    taken, worst, lock = [0], [0], threads.Lock()

    def caller(n):
        requests = [ChildList({}, f"/v1/c{n}_{k}", {}) for k in range(10)]

        def took():  # a slow consumer: pages pile up as far as the bound lets them
            with lock:
                taken[0] += 1
                worst[0] = max(worst[0], fake.answered - taken[0])
            time.sleep(0.003)

        for request, _objects in pages.lists(requests, None):
            took()
            for _inner, _ in pages.lists([ChildList({}, request.path + "/x", {})], None):  # a grandchild level, nested
                took()

    threads_ = [threads.Thread(target=caller, args=(n,)) for n in range(5)]
    for thread in threads_:
        thread.start()
    for thread in threads_:
        thread.join(60)
    pages.close()
    assert not any(thread.is_alive() for thread in threads_)  # no caller waited forever
    assert taken[0] == fake.answered == 5 * 10 * 3 * (1 + 3)  # every page of every list, each once, at both levels
    assert worst[0] <= PAGES_PER_WORKER * 3 + 2 * 5  # the bound, plus one page per caller at each level


class WindowPages:
    """Stands in for ``ChildPages``: draws up to ``window`` lists ahead of the page it hands
    over (as the pool keeps that many requests in flight), answering each with one child."""

    def __init__(self, window):
        self.window = window
        self.client = None
        self.page_size = 100

    def lists(self, lists, account_id, consumer=None):
        from collections import deque

        lists, drawn = iter(lists), deque()
        while True:
            while len(drawn) < self.window:
                request = next(lists, None)
                if request is None:
                    break
                drawn.append(request)
            if not drawn:
                return
            request = drawn.popleft()
            yield request, [{"id": "txn_of_" + request.path.split("/")[3], "object": "source_transaction", "created": 1}]


def test_a_level_below_a_listed_level_takes_later_parents_while_earlier_requests_are_in_flight():
    """Sources come a customer at a time (a chunk per page of a customer's sources); their
    transactions are listed per source. The level below must draw the next customers' sources
    while the first ones' requests are in flight, not wait for each customer's batch to end."""
    from source_stripe_proxy.source.children import ChildLink

    link = ChildLink(STREAM_SPECS["source_transactions"], WindowPages(window=4), None, now=2_000_000_000)
    taken = []

    def sources():
        for n in range(6):  # six customers, one source each
            taken.append(n)
            yield [{"id": f"src_{n}", "object": "source", "customer": f"cus_{n}", "created": 1}]

    chunks = link.children_of(sources())
    first = next(chunks)
    assert [row["id"] for row in first] == ["txn_of_src_0"]
    assert taken == [0, 1, 2, 3]  # four parents' requests drawn before the first page is handed over
    rest = [row["id"] for chunk in chunks for row in chunk]
    assert rest == [f"txn_of_src_{n}" for n in range(1, 6)] and taken == list(range(6))
