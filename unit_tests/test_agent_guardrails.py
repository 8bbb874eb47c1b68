"""The agents' guardrails without a network: the money marks and amount fields of the generated
table, the amount cap at any depth, the accounts policy, the confirmation rule and message,
the audit log's lines, and the limits read from options, environment and config."""

from __future__ import annotations

import json
import os
import threading

import pytest

from source_stripe_proxy.actions.attempts import ACCEPTED, CANNOT, DECLINED, Attempt
from source_stripe_proxy.actions.audit import AuditLog, ids_of, is_stripe_id
from source_stripe_proxy.actions.catalog import action_spec, find_action
from source_stripe_proxy.actions.connection import prepare_call
from source_stripe_proxy.actions.guardrails import (
    Amount,
    GuardrailRefusal,
    Guardrails,
    amounts_of,
    confirmation_message,
    limits_from,
    parse_accounts,
    parse_max_amount,
)
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.data import resources

# The examples of actions that move money.
MOVES_MONEY = [
    ("create", "refund"),
    ("create", "payout"),
    ("create", "transfer"),
    ("create", "topup"),
    ("create", "application_fee_refund"),
    ("create", "credit_note"),
    ("create", "payment_intent"),
    ("confirm", "payment_intent"),
    ("capture", "payment_intent"),
    ("create", "charge"),
    ("capture", "charge"),
    ("pay", "invoice"),
]
KEEPS_STILL = [
    ("update", "refund"),
    ("cancel", "payout"),
    ("create", "customer"),
    ("list", "charge"),
    ("get", "payment_intent"),
    ("finalize", "invoice"),
    ("test_expire", "refund"),
]


@pytest.mark.parametrize("action,entity", MOVES_MONEY)
def test_the_table_marks_what_moves_money_with_why(action, entity):
    spec = action_spec(entity, action)
    assert spec.moves_money and spec.moves_money_because
    assert resources.operation(entity, action)["moves_money"] is True


@pytest.mark.parametrize("action,entity", KEEPS_STILL)
def test_edits_cancellations_reads_and_test_helpers_move_no_money(action, entity):
    assert action_spec(entity, action).moves_money is False


def test_amount_fields_are_the_specs_amounts_at_any_depth():
    assert action_spec("refund", "create").amount_fields == (("amount",),)
    session = set(action_spec("checkout_session", "create").amount_fields)
    assert ("line_items", "*", "price_data", "unit_amount") in session
    assert ("line_items", "*", "price_data", "unit_amount_decimal") in session
    assert not any("quantity" in field for field in session)
    assert action_spec("invoice", "pay").amount_fields == ()
    assert action_spec("customer", "list").amount_fields == ()  # reads are never capped


def call(action, entity, **params):
    return prepare_call(action, entity, params)


def test_amounts_are_found_in_nested_lists_with_their_currency():
    prepared = call(
        "create",
        "checkout_session",
        mode="payment",
        success_url="https://example.com",
        line_items=[
            {"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 1500, "product_data": {"name": "A"}}},
            {"quantity": 2, "price_data": {"currency": "jpy", "unit_amount_decimal": "700.5", "product_data": {"name": "B"}}},
        ],
    )
    found = amounts_of(prepared.spec.amount_fields, prepared.body)
    assert found == [
        Amount("line_items[0][price_data][unit_amount]", 1500, "eur"),
        Amount("line_items[1][price_data][unit_amount_decimal]", 700.5, "jpy"),
    ]
    assert found[0].shown() == "15.00 EUR (1500)"


def test_amount_shown_in_major_units_by_currency():
    assert Amount("amount", 1000, "usd").shown() == "10.00 USD (1000)"
    assert Amount("amount", 1000, "jpy").shown() == "1,000 JPY (1000)"
    assert Amount("amount", 1000, "kwd").shown() == "1.000 KWD (1000)"
    assert Amount("amount", 1000, None).shown() == "1000 in the smallest currency unit"


def test_the_cap_names_the_parameter_and_the_cap():
    rails = Guardrails(max_amount=5000)
    over = [Amount("transfer_data[amount]", 5001, "usd")]
    with pytest.raises(GuardrailRefusal) as caught:
        rails.check_amounts("create payment_intent", True, over)
    assert caught.value.param == "transfer_data[amount]" and caught.value.reason == "max_amount"
    assert "5000" in caught.value.message and "5001" in caught.value.message
    assert caught.value.to_dict()["error"]["code"] == "max_amount"
    rails.check_amounts("create payment_intent", True, [Amount("amount", 5000, "usd")])  # at the cap: allowed
    with pytest.raises(GuardrailRefusal, match="no amount"):
        rails.check_amounts("pay invoice", True, [])  # a money move the cap cannot see
    rails.check_amounts("create customer", False, [])  # nothing to cap
    Guardrails().check_amounts("pay invoice", True, [Amount("amount", 10**9, "usd")])  # no cap: nothing refused


@pytest.mark.parametrize("value", ["-1", "1.5", "ten", True, 10**13, [1]])
def test_a_bad_cap_is_a_config_error_naming_the_option(value):
    with pytest.raises(ConfigError, match="--max-amount"):
        parse_max_amount(value, "--max-amount")


def test_accounts_policy():
    configured = Guardrails(configured_account="acct_1Configured")
    assert configured.account_for(None) is None and configured.account_for("acct_1Configured") == "acct_1Configured"
    with pytest.raises(GuardrailRefusal, match="--accounts") as caught:
        configured.account_for("acct_1Other")
    assert (caught.value.param, caught.value.reason) == ("account", "account")
    listed = Guardrails(accounts=frozenset({"acct_1A", "acct_1B"}))
    assert listed.account_for("acct_1A") == "acct_1A"
    with pytest.raises(GuardrailRefusal, match="acct_1A, acct_1B") as caught:
        listed.account_for("acct_1C")
    assert caught.value.accepted == ("acct_1A", "acct_1B")
    assert Guardrails(accounts="all").account_for("acct_1Anything") == "acct_1Anything"
    for bad in ("cus_1", "acct_", "acct_1 2", 42):
        with pytest.raises(GuardrailRefusal, match="connected account id"):
            Guardrails(accounts="all").account_for(bad)


def test_accounts_option_parsing():
    assert parse_accounts("acct_1A, acct_1B", "--accounts") == frozenset({"acct_1A", "acct_1B"})
    assert parse_accounts("all", "--accounts") == "all"
    assert parse_accounts(["acct_1A"], "accounts") == frozenset({"acct_1A"})
    assert parse_accounts(None, "--accounts") is None
    for bad in ("cus_1", ",", "acct_1A,everyone"):
        with pytest.raises(ConfigError, match="--accounts"):
            parse_accounts(bad, "--accounts")


def test_every_limit_given_holds_at_once():
    config = {"max_amount": 9000, "accounts": ["acct_1A", "acct_1B"], "audit_log": "/tmp/config.jsonl"}
    environ = {"STRIPE_CONNECTION_MAX_AMOUNT": "7000", "STRIPE_CONNECTION_ACCOUNTS": "all"}
    cap, accounts, logs = limits_from(config, environ, max_amount="8000", accounts="acct_1B,acct_1C", audit_log="/tmp/a.jsonl")
    assert cap == 7000  # the lowest
    assert accounts == frozenset({"acct_1B"})  # in every list
    assert logs == ["/tmp/a.jsonl", "/tmp/config.jsonl"]  # each one gets the lines
    assert limits_from({}, {}) == (None, None, [])
    with pytest.raises(ConfigError, match="STRIPE_CONNECTION_MAX_AMOUNT"):
        limits_from({}, {"STRIPE_CONNECTION_MAX_AMOUNT": "lots"})
    with pytest.raises(ConfigError, match="in common"):
        limits_from({"accounts": ["acct_1A"]}, {}, accounts="acct_1B")


def test_which_calls_need_the_persons_confirmation():
    money, writes, none = Guardrails(confirm="money"), Guardrails(confirm="writes"), Guardrails()
    assert money.needs_confirmation(read_only=False, moves_money=True)
    assert not money.needs_confirmation(read_only=False, moves_money=False)
    assert writes.needs_confirmation(read_only=False, moves_money=False)
    assert not writes.needs_confirmation(read_only=True, moves_money=False)
    assert not none.needs_confirmation(read_only=False, moves_money=True)


def test_the_confirmation_message_says_what_will_happen():
    message = confirmation_message("create refund", [Amount("amount", 2500, "usd")], {"charge": "ch_1Abc"}, "acct_1Seller")
    for part in ("create refund", "25.00 USD (2500)", "charge ch_1Abc", "acct_1Seller"):
        assert part in message
    assert "no amount given" in confirmation_message("pay invoice", [], {"invoice": "in_1"}, None)


# -- one attempt: the order of the steps, what is sent, what is written ------------------------------------


class Sender:
    def __init__(self):
        self.sent = []

    def __call__(self, prepared):
        self.sent.append(prepared)
        return {"id": "re_1Sent", "object": "refund"}


def test_an_attempt_asks_before_sending_and_sends_nothing_when_declined(tmp_path):
    audit = AuditLog([str(tmp_path / "audit.jsonl")])
    asked = []
    spec = find_action("create", "refund")
    params = {"charge": "ch_1Abc", "amount": 700}
    for answer in (ACCEPTED, DECLINED, CANNOT):
        send = Sender()
        attempt = Attempt(
            Guardrails(confirm="money"), "stripe_call", audit, ask=lambda message, answer=answer: asked.append(message) or answer
        )
        if answer == ACCEPTED:
            assert attempt.run(spec, params, send=send)["id"] == "re_1Sent" and len(send.sent) == 1
        else:
            with pytest.raises(GuardrailRefusal) as caught:
                attempt.run(spec, params, send=send)
            assert send.sent == [] and caught.value.reason == ("declined" if answer == DECLINED else "cannot_confirm")
    assert len(asked) == 3 and "7.00" not in asked[0] and "700" in asked[0]  # a refund names no currency
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(entry["outcome"], entry.get("reason")) for entry in lines] == [
        ("sent", None),
        ("declined", None),
        ("refused", "cannot_confirm"),
    ]
    assert lines[0]["object_id"] == "re_1Sent" and lines[0]["ids"] == {"charge": "ch_1Abc"}


def test_a_read_is_neither_capped_confirmed_nor_audited(tmp_path):
    path = tmp_path / "audit.jsonl"
    send = Sender()
    attempt = Attempt(Guardrails(max_amount=1, confirm="writes"), "get_customer", AuditLog([str(path)]), ask=None)
    attempt.run(find_action("list", "charge"), {"limit": 3}, send=send)
    assert len(send.sent) == 1 and path.read_text() == ""


# -- the audit log ----------------------------------------------------------------------------------------


def test_audit_lines_hold_ids_and_amounts_only_and_never_a_secret(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog([str(path)], secrets=("sk_test_auditSECRET",))
    line = log.record(
        tool="stripe_call",
        entity="refund",
        action="create",
        account="acct_1A",
        outcome="failed",
        idempotency_key="stripe-connection-1",
        amounts=[Amount("amount", 10, "usd")],
        ids=ids_of({"charge": "ch_1Abc", "reason": "requested_by_customer", "note": "sk_test_auditSECRET", "key": "rk_live_abcdefgh"}, {}),
        error={"type": "card_error", "code": "card_declined", "message": "Your card ... 4242", "http_status": 402},
    )
    assert line["ids"] == {"charge": "ch_1Abc"}  # not the reason, the note, nor a key-shaped value
    assert line["error"] == {"type": "card_error", "code": "card_declined", "http_status": 402}  # not Stripe's message
    written = json.loads(path.read_text())
    assert written == line and written["time"].endswith("Z")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert is_stripe_id("cus_NffrFeUfNV2Hib") and not is_stripe_id("whsec_abcdef123") and not is_stripe_id("Jane Doe")


def test_audit_lines_from_many_threads_never_interleave(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog([str(path)])

    def write(n):
        for i in range(50):
            log.record(
                tool=f"t{n}", entity="refund", action="create", account=None, outcome="sent", ids={"charge": f"ch_{n}x{i:04d}" + "A" * 200}
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["outcome"] == "sent" for line in lines)


def test_an_audit_log_that_cannot_be_opened_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="audit log"):
        AuditLog([str(tmp_path / "missing-dir" / "audit.jsonl")])
