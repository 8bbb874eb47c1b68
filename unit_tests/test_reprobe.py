"""A product the account has not enabled is asked about at most once a day (source/availability.py):
what a read learns is kept in the stream's state; the syncs of the next day report the stream as
before (skipped, or INCOMPLETE with the config error) without a request; a day later it is asked
again. A missing permission is asked about every sync. The clock is the source's, moved by the test."""

import time

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import read

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.source.availability import REPROBE_SECONDS
from source_stripe_proxy.source.state import unpack_states
from unit_tests.test_child_streams import stripe_error
from unit_tests.test_events import BASE, CONFIG, catalog, customer, final_state, newest_first, records_of, state_of

NOT_ENABLED = "Your account is not set up to use Issuing. Please visit https://dashboard.stripe.com/issuing/overview to get started."
SKIP = {**CONFIG, "unavailable_streams": "skip"}


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def states_of(output):
    """Every stream's last state, as the platform passes them to the next sync."""
    names = {m.state.stream.stream_descriptor.name for m in output.state_messages}
    return state_of(**{name: final_state(output, name) for name in names})


def asked(requests_mock, path):
    return sum(1 for r in requests_mock.request_history if r.path == path)


def warnings(output):
    return [m.log.message for m in output.logs if m.log.level.name == "WARN"]


def test_a_product_not_enabled_is_asked_about_once_a_day_and_reported_every_sync(requests_mock):
    clock = Clock(int(time.time()) - 3 * REPROBE_SECONDS)
    newest_first(requests_mock, "/v1/customers", [customer(1, clock.now - 60)])
    newest_first(requests_mock, "/v1/events", [])
    requests_mock.get(f"{BASE}/v1/issuing/cards", **stripe_error(400, NOT_ENABLED))
    requests_mock.get(f"{BASE}/v1/issuing/physical_bundles", **stripe_error(400, NOT_ENABLED))
    streams = catalog(
        "customers", "cards", "issuing_tokens", "issuing_physical_bundles"
    )  # tokens: a child of cards; bundles: full refresh only
    unreadable = ["cards", "issuing_physical_bundles", "issuing_tokens"]

    first = read(SourceStripeProxy(clock), SKIP, streams)
    assert asked(requests_mock, "/v1/issuing/cards") == 1 and asked(requests_mock, "/v1/issuing/physical_bundles") == 1
    for name in unreadable:
        saved = final_state(first, name)["unavailable"]
        assert saved == {"checked": clock.now, "reason": "Issuing is not enabled on this account", "said": NOT_ENABLED}
    state = states_of(first)

    clock.now += REPROBE_SECONDS - 60  # the same day: not asked again, reported as before
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(clock), SKIP, streams, state)
    assert [r.path for r in requests_mock.request_history] == ["/v1/events"]  # customers' changes; nothing of Issuing
    skipped = [w for w in warnings(second) if w.startswith("Skipping stream")]
    assert sorted(w.split()[2].rstrip(":") for w in skipped) == unreadable and all("Issuing is not enabled" in w for w in skipped)
    for name in unreadable:
        assert second.get_stream_statuses(name)[-1].name == "INCOMPLETE" and not records_of(second, name)
        assert final_state(second, name)["unavailable"]["checked"] == clock.now - REPROBE_SECONDS + 60  # unchanged
    analytics = [m.trace.analytics.value for m in second.analytics_messages if m.trace.analytics.type == "stream_unavailable_skipped"]
    assert sorted(analytics) == unreadable

    clock.now += 120  # a day after it was asked: asked again, and what it says is kept
    requests_mock.reset_mock()
    third = read(SourceStripeProxy(clock), SKIP, streams, states_of(second))
    assert asked(requests_mock, "/v1/issuing/cards") == 1 and asked(requests_mock, "/v1/issuing/physical_bundles") == 1
    assert final_state(third, "cards")["unavailable"]["checked"] == clock.now


def test_with_fail_the_known_stream_fails_the_sync_as_before_saying_when_stripe_said_so(requests_mock):
    clock = Clock(int(time.time()) - 2 * REPROBE_SECONDS)
    newest_first(requests_mock, "/v1/customers", [customer(1, clock.now - 60)])
    newest_first(requests_mock, "/v1/events", [])
    requests_mock.get(f"{BASE}/v1/issuing/cards", **stripe_error(400, NOT_ENABLED))
    streams = catalog("customers", "cards")
    first = read(SourceStripeProxy(clock), CONFIG, streams, expecting_exception=True)
    clock.now += 3600
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(clock), CONFIG, streams, states_of(first), expecting_exception=True)
    assert asked(requests_mock, "/v1/issuing/cards") == 0
    assert second.get_stream_statuses("cards")[-1].name == "INCOMPLETE" and second.get_stream_statuses("customers")[-1].name == "COMPLETE"
    errors = {e.trace.error.stream_descriptor.name: e.trace.error for e in second.errors if e.trace.error.stream_descriptor}
    assert errors["cards"].failure_type.value == "config_error"
    message = errors["cards"].message
    assert message.startswith("Stream 'cards' can't be read: Issuing is not enabled on this account")
    assert (
        time.strftime("Stripe said so at %Y-%m-%d %H:%M UTC", time.gmtime(clock.now - 3600)) in message
        and "asked again once a day" in message
    )
    closing = second.errors[-1].trace.error
    assert "1 selected stream(s) can't be read" in closing.message and closing.failure_type.value == "config_error"


def test_a_product_enabled_since_is_read_at_the_next_probe_and_forgotten(requests_mock):
    clock = Clock(int(time.time()) - 3 * REPROBE_SECONDS)
    learned = {"checked": clock.now - REPROBE_SECONDS - 1, "reason": "Issuing is not enabled on this account", "said": NOT_ENABLED}
    newest_first(requests_mock, "/v1/issuing/cards", [{"id": "ic_1", "object": "issuing.card", "created": clock.now - 60}])
    state = state_of(cards={"unavailable": learned})
    output = read(SourceStripeProxy(clock), SKIP, catalog("cards"), state)
    assert [r["id"] for r in records_of(output, "cards")] == ["ic_1"]
    assert "unavailable" not in final_state(output, "cards")


def test_a_missing_permission_is_asked_about_every_sync(requests_mock):
    clock = Clock(int(time.time()) - REPROBE_SECONDS)
    lacking = {
        "status_code": 403,
        "json": {
            "error": {
                "type": "invalid_request_error",
                "message": (
                    "The provided key 'rk_test_***' does not have the required permissions. "
                    "Having the 'rak_tax_rate_read' permission would allow this request to continue."
                ),
            }
        },
    }
    requests_mock.get(f"{BASE}/v1/tax_rates", **lacking)
    first = read(SourceStripeProxy(clock), SKIP, catalog("tax_rates"))
    assert not any("unavailable" in str(m.state.stream.stream_state.__dict__) for m in first.state_messages)  # nothing kept
    clock.now += 60
    read(SourceStripeProxy(clock), SKIP, catalog("tax_rates"), states_of(first))
    assert asked(requests_mock, "/v1/tax_rates") == 2


def test_per_account_each_account_remembers_its_own(requests_mock):
    clock = Clock(int(time.time()) - 2 * REPROBE_SECONDS)

    def answer(request, context):
        if request.headers.get("Stripe-Account") == "acct_1NoIssuing":
            context.status_code = 400
            return {"error": {"type": "invalid_request_error", "message": NOT_ENABLED}}
        return {"object": "list", "data": [{"id": "ic_2", "object": "issuing.card", "created": clock.now - 60}], "has_more": False}

    requests_mock.get(f"{BASE}/v1/issuing/cards", json=answer)
    config = {**SKIP, "account_ids": ["acct_1NoIssuing", "acct_2Issuing"]}
    first = read(SourceStripeProxy(clock), config, catalog("cards", mode=SyncMode.incremental))
    assert set(unpack_states("cards", final_state(first, "cards"))["acct_1NoIssuing"]) == {"unavailable"}  # no read began
    clock.now += 60
    requests_mock.reset_mock()
    second = read(SourceStripeProxy(clock), config, catalog("cards"), states_of(first))
    accounts = [r.headers.get("Stripe-Account") for r in requests_mock.request_history if r.path == "/v1/issuing/cards"]
    assert "acct_1NoIssuing" not in accounts  # the other account is read as ever (from its events)
    assert any("Skipping stream cards of acct_1NoIssuing" in w for w in warnings(second))
    assert second.get_stream_statuses("cards")[-1].name == "INCOMPLETE"
