"""The MCP tool table with the agents' guardrails, without the SDK or a network: the search
tool, `account` in the schemas only when accounts are allowed, the person's confirmation
through the table's ``ask`` (question -> answer), the audit by tool name, uploads as content
and a PDF as a binary result. ``execute`` is a recorder: what it receives is what would be sent."""

from __future__ import annotations

import json

import pytest

from source_stripe_proxy.actions.attempts import ACCEPTED, CANNOT, DECLINED
from source_stripe_proxy.actions.audit import AuditLog
from source_stripe_proxy.actions.guardrails import Guardrails
from source_stripe_proxy.actions.mcp_tools import AccessPolicy, Answer, BinaryResult, StripeTools, ToolCallError

PDF = b"%PDF-1.4\n%%EOF\n"
# What the person's answer is, as the table's ``ask`` hands it back (MCP's elicitation result).
ANSWERS = {ACCEPTED: Answer("accept", {"confirm": True}), DECLINED: Answer("decline"), CANNOT: Answer("unavailable")}


class Recorder:
    def __init__(self, answer=None):
        self.calls, self.answer = [], answer

    def __call__(self, prepared):
        self.calls.append(prepared)
        return self.answer if self.answer is not None else {"id": "obj_1Made", "object": prepared.spec.returns}


def error_of(tools: StripeTools, name: str, arguments: dict, **kwargs) -> dict:
    with pytest.raises(ToolCallError) as caught:
        tools.call(name, arguments, **kwargs)
    return caught.value.error["error"]


def test_the_search_tool_answers_plain_words_within_the_policy():
    tools = StripeTools(Recorder(), policy=AccessPolicy(allow=["refund", "charge"]))
    found = tools.call("stripe_search_actions", {"query": "refund a charge", "limit": 5})
    assert found["results"] and {r["entity"] for r in found["results"]} <= {"refund", "charge"}
    assert "stripe_call" in found["note"]
    assert error_of(tools, "stripe_search_actions", {"query": "x", "verbose": True})["param"] == "verbose"
    definition = tools.tools["stripe_search_actions"]
    assert (definition.read_only, definition.open_world, definition.input_schema["required"]) == (True, False, ["query"])
    assert "stripe_search_actions" not in StripeTools(Recorder(), policy=AccessPolicy(deny=["stripe_search_actions"])).tools


def test_account_is_offered_only_when_accounts_are_allowed():
    plain = StripeTools(Recorder())
    assert "account" not in plain.tools["create_customer"].input_schema["properties"]
    assert "account" not in plain.tools["stripe_call"].input_schema["properties"]
    execute = Recorder()
    allowed = StripeTools(execute, guardrails=Guardrails(accounts=frozenset({"acct_1A"})))
    assert "account" in allowed.tools["create_customer"].input_schema["properties"]
    allowed.call("get_customer", {"customer_id": "cus_1", "account": "acct_1A"})
    assert execute.calls[-1].account == "acct_1A"
    assert error_of(allowed, "get_customer", {"customer_id": "cus_1", "account": "acct_1B"})["code"] == "account"
    assert error_of(plain, "stripe_call", {"entity": "customer", "action": "list", "account": "acct_1A"})["code"] == "account"
    assert len(execute.calls) == 1


def test_the_person_is_asked_through_the_callback_and_declining_sends_nothing():
    refund = {"entity": "refund", "action": "create", "params": {"charge": "ch_1Abc", "amount": 900}}
    asked = []
    for answer, code in ((ACCEPTED, None), (DECLINED, "declined"), (CANNOT, "cannot_confirm")):
        execute = Recorder()
        tools = StripeTools(execute, guardrails=Guardrails(confirm="money"))
        ask = lambda question, answer=answer: asked.append(question.message) or ANSWERS[answer]  # noqa: E731 - a one-line helper of this test
        if code is None:
            assert tools.call("stripe_call", refund, ask=ask)["id"] == "obj_1Made" and len(execute.calls) == 1
        else:
            assert error_of(tools, "stripe_call", refund, ask=ask)["code"] == code and execute.calls == []
    assert len(asked) == 3 and "create refund" in asked[0] and "ch_1Abc" in asked[0]
    tools = StripeTools(Recorder(), guardrails=Guardrails(confirm="money"))
    assert error_of(tools, "stripe_call", refund)["code"] == "cannot_confirm"  # no callback: nobody to ask
    assert tools.call("create_customer", {"email": "a@b.co", "name": "A"})["id"]  # no money moves: not asked
    dry = tools.call("stripe_call", {**refund, "dry_run": True})
    assert dry["dry_run"] is True  # a dry run sends nothing, so it is not asked about


def test_audit_lines_name_the_tool(tmp_path):
    path = tmp_path / "audit.jsonl"
    tools = StripeTools(
        Recorder(), policy=AccessPolicy(deny=["delete_customer"]), audit=AuditLog([str(path)]), guardrails=Guardrails(max_amount=100)
    )
    tools.call("create_customer", {"email": "hidden@example.com", "name": "Hidden"})
    error_of(tools, "stripe_call", {"entity": "customer", "action": "delete", "params": {"customer": "cus_1Abc"}})
    error_of(tools, "create_price", {"product_id": "prod_1", "amount": 101, "currency": "usd"})
    tools.call("get_customer", {"customer_id": "cus_1Abc"})  # a read: no line
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(entry["tool"], entry["outcome"], entry.get("reason")) for entry in lines] == [
        ("create_customer", "sent", None),
        ("stripe_call", "refused", "policy"),
        ("create_price", "refused", "max_amount"),
    ]
    assert "hidden@example.com" not in path.read_text() and lines[0]["object_id"] == "obj_1Made"


def test_an_upload_takes_content_only_and_a_pdf_comes_back_as_a_binary_result():
    execute = Recorder()
    tools = StripeTools(execute)
    described = tools.call("stripe_describe", {"entity": "file", "action": "create"})
    assert described["input_schema"]["properties"]["file"]["required"] == ["name", "content_base64"]
    made = tools.call(
        "stripe_call",
        {
            "entity": "file",
            "action": "create",
            "params": {"purpose": "dispute_evidence", "file": {"name": "a.pdf", "content_base64": "JVBERi0="}},
        },
    )
    assert made["id"] and execute.calls[-1].uploads["file"].content == b"%PDF-"
    assert (
        error_of(
            tools, "stripe_call", {"entity": "file", "action": "create", "params": {"purpose": "dispute_evidence", "file": "/etc/passwd"}}
        )["param"]
        == "file"
    )
    assert "save_to" not in tools.call("stripe_describe", {"entity": "quote", "action": "pdf"})["input_schema"]["properties"]
    assert (
        error_of(tools, "stripe_call", {"entity": "quote", "action": "pdf", "params": {"quote": "qt_1", "save_to": "/tmp/x.pdf"}})["param"]
        == "save_to"
    )
    pdf_tools = StripeTools(Recorder(answer=PDF))
    result = pdf_tools.call("stripe_call", {"entity": "quote", "action": "pdf", "params": {"quote": "qt_1Q"}})
    assert isinstance(result, BinaryResult)
    assert (result.data, result.mime_type, result.name, result.uri) == (
        PDF,
        "application/pdf",
        "quote-qt_1Q.pdf",
        "stripe://quotes/qt_1Q/pdf",
    )
    assert json.loads(pdf_tools.render(result)) == {
        "object": "file_content",
        "name": "quote-qt_1Q.pdf",
        "type": "application/pdf",
        "bytes": len(PDF),
        "uri": "stripe://quotes/qt_1Q/pdf",
    }


def test_the_money_mark_on_tools():
    tools = StripeTools(Recorder())
    assert tools.tools["stripe_call"].moves_money is True
    assert not any(tool.moves_money for name, tool in tools.tools.items() if name != "stripe_call")
    assert StripeTools(Recorder(), policy=AccessPolicy(read_only=True)).tools["stripe_call"].moves_money is False
    assert "Some actions move money" in tools.tools["stripe_call"].description
