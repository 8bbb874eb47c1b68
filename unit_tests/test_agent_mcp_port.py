"""The agents' guardrails on the MCP server's low-level port, through the SDK's own in-process
client (``mcp.Client``): ``--confirm`` asks the person in both protocol eras (a request on the
session's back channel before 2026-07-28; from it, ``InputRequiredResult`` and a retry that
carries the answer), a call this connection mode cannot make is refused before the person is
asked, and the tool list's size with and without ``--accounts``. What ``execute`` receives is
what would be sent; no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import mcp_types
import pytest
from mcp import Client

from source_stripe_proxy.actions.audit import AuditLog
from source_stripe_proxy.actions.guardrails import Guardrails
from source_stripe_proxy.actions.mcp_server import MOVES_MONEY_META, build_parser, build_server, prepare
from source_stripe_proxy.actions.mcp_tools import StripeTools, ToolCallError
from source_stripe_proxy.core.stripe_facts import STRIPE_FILES_BASE

ERAS = ("legacy", "2026-07-28")
REFUND = {"entity": "refund", "action": "create", "params": {"charge": "ch_1Port", "amount": 1500}}
BUDGET = 25_000  # the default tools/list, as json.dumps writes it (unit_tests/test_mcp_slim_schemas.py)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, prepared: Any) -> Any:
        self.calls.append(prepared)
        return {"id": "re_1Sent", "object": "refund", "amount": 1500}


class Person:
    """An elicitation callback: accepts with confirm true, accepts with confirm false, or declines."""

    def __init__(self, answer: str) -> None:
        self.answer, self.messages = answer, []

    async def __call__(self, context: Any, params: Any) -> Any:
        self.messages.append(params.message)
        assert params.requested_schema["required"] == ["confirm"]
        if self.answer == "decline":
            return mcp_types.ElicitResult(action="decline")
        return mcp_types.ElicitResult(action="accept", content={"confirm": self.answer == "accept"})


def call(server: Any, era: str, tool: str, arguments: Any, **client_options: Any) -> Any:
    async def scenario() -> Any:
        async with Client(server, mode=era, **client_options) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(scenario())


def audit_lines(path: Any) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("era", ERAS)
def test_confirm_money_asks_in_either_era_and_sends_once_when_accepted(era, tmp_path):
    execute, person, log = Recorder(), Person("accept"), tmp_path / "audit.jsonl"
    tools = StripeTools(execute, guardrails=Guardrails(confirm="money"), audit=AuditLog([str(log)]))
    result = call(build_server(tools, instructions="test"), era, "stripe_call", REFUND, elicitation_callback=person)
    assert result.is_error is False and result.structured_content["id"] == "re_1Sent"
    assert len(person.messages) == 1 and "create refund" in person.messages[0] and "ch_1Port" in person.messages[0]
    assert [(c.method, c.path) for c in execute.calls] == [("POST", "/v1/refunds")]
    # One line for the call: the round that only asked (2026-07-28) wrote none.
    assert [(line["outcome"], line["object_id"]) for line in audit_lines(log)] == [("sent", "re_1Sent")]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("answer", ["decline", "accept-false"])
def test_a_declined_confirmation_sends_nothing_in_either_era(era, answer, tmp_path):
    execute, log = Recorder(), tmp_path / "audit.jsonl"
    tools = StripeTools(execute, guardrails=Guardrails(confirm="money"), audit=AuditLog([str(log)]))
    result = call(build_server(tools, instructions="test"), era, "stripe_call", REFUND, elicitation_callback=Person(answer))
    assert result.is_error is True and result.structured_content["error"]["code"] == "declined"
    assert execute.calls == [] and [line["outcome"] for line in audit_lines(log)] == ["declined"]


@pytest.mark.parametrize("era", ERAS)
def test_a_client_without_elicitation_gets_cannot_confirm_and_a_dry_run_is_not_asked(era):
    execute = Recorder()
    server = build_server(StripeTools(execute, guardrails=Guardrails(confirm="money")), instructions="test")
    refused = call(server, era, "stripe_call", REFUND)
    assert refused.is_error is True and refused.structured_content["error"]["code"] == "cannot_confirm"
    dry = call(server, era, "stripe_call", {**REFUND, "dry_run": True})
    assert dry.is_error is False and dry.structured_content["request"]["path"] == "/v1/refunds"
    assert execute.calls == []


def test_an_upload_paragon_cannot_forward_is_refused_before_the_person_is_asked(tmp_path):
    environ = {
        "PARAGON_PROJECT_ID": "proj_1",
        "PARAGON_USER_TOKEN": "paragon-PORT-token",
        "PARAGON_PROXY_HOST": "http://127.0.0.1:9",
    }  # nothing listens there: a request would fail otherwise
    log = tmp_path / "audit.jsonl"
    tools = prepare(build_parser().parse_args(["--confirm", "writes", "--audit-log", str(log)]), environ).tools
    asked: list[str] = []

    def ask(question: Any) -> Any:
        asked.append(question.message)
        raise AssertionError("nobody should be asked about a call that cannot go")

    upload = {
        "entity": "file",
        "action": "create",
        "params": {"purpose": "dispute_evidence", "file": {"name": "receipt.pdf", "content_base64": "JVBERi0="}},
    }
    with pytest.raises(ToolCallError) as caught:
        tools.call("stripe_call", upload, ask=ask)
    error = caught.value.error["error"]
    assert error["code"] == "connection_mode" and "JSON request bodies" in error["message"] and asked == []
    assert [(line["outcome"], line["reason"]) for line in audit_lines(log)] == [("refused", "connection_mode")]


def test_paragon_routes_a_download_through_its_target_header_and_direct_keys_go_to_the_files_host():
    from source_stripe_proxy.core.modes import MODES

    paragon, direct, pink = (MODES[name].other_hosts for name in ("paragon", "api_key", "pinkconnect"))
    url, headers = paragon.route("https://proxy.example/projects/p/sdk/proxy/stripe", STRIPE_FILES_BASE, "/v1/quotes/qt_1/pdf")
    assert url == "https://proxy.example/projects/p/sdk/proxy/stripe"
    assert dict(headers) == {"X-Paragon-Proxy-Url": f"{STRIPE_FILES_BASE}/v1/quotes/qt_1/pdf", "X-Paragon-Use-Raw-Response": "1"}
    assert paragon.cannot(STRIPE_FILES_BASE, upload=False) == "" and "multipart" in paragon.cannot(STRIPE_FILES_BASE, upload=True)
    assert direct.route("https://api.stripe.com", STRIPE_FILES_BASE, "/v1/files") == (f"{STRIPE_FILES_BASE}/v1/files", ())
    assert direct.route("http://127.0.0.1:12111", STRIPE_FILES_BASE, "/v1/files")[0] == "http://127.0.0.1:12111/v1/files"
    assert "files.stripe.com" in pink.cannot(STRIPE_FILES_BASE, upload=False)


def listed(**options: Any) -> list[Any]:
    server = build_server(StripeTools(Recorder(), **options), instructions="test")

    async def scenario() -> Any:
        async with Client(server, mode="legacy") as client:
            return (await client.list_tools()).tools

    return asyncio.run(scenario())


def chars(tools: list[Any]) -> int:
    return len(json.dumps({"tools": [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools]}))


def test_the_tool_list_with_the_search_tool_and_money_marks_fits_and_accounts_add_only_account():
    plain, accounts = listed(), listed(guardrails=Guardrails(accounts="all"))
    assert "stripe_search_actions" in [tool.name for tool in plain] and chars(plain) <= BUDGET
    assert [tool.name for tool in plain if tool.meta] == ["stripe_call"]
    assert plain[[t.name for t in plain].index("stripe_call")].meta == {MOVES_MONEY_META: True}
    reaching = [tool.name for tool in accounts if "account" in tool.input_schema["properties"]]
    assert reaching == [tool.name for tool in plain if tool.annotations.open_world_hint]  # search, describe: no account
    entry = len(json.dumps({"account": accounts[0].input_schema["properties"]["account"]})) - 2 + len(", ")
    assert chars(accounts) - chars(plain) == entry * len(reaching)  # nothing else grows with --accounts


def test_a_dry_run_of_an_upload_paragon_cannot_forward_is_refused_too(tmp_path):
    environ = {"PARAGON_PROJECT_ID": "proj_1", "PARAGON_USER_TOKEN": "paragon-PORT-token", "PARAGON_PROXY_HOST": "http://127.0.0.1:9"}
    log = tmp_path / "audit.jsonl"
    tools = prepare(build_parser().parse_args(["--audit-log", str(log)]), environ).tools
    upload = {
        "entity": "file",
        "action": "create",
        "dry_run": True,
        "params": {"purpose": "dispute_evidence", "file": {"name": "receipt.pdf", "content_base64": "JVBERi0="}},
    }
    with pytest.raises(ToolCallError) as caught:
        tools.call("stripe_call", upload)
    assert caught.value.error["error"]["code"] == "connection_mode"
    assert [(line["outcome"], line["reason"]) for line in audit_lines(log)] == [("refused", "connection_mode")]
    dry = tools.call(
        "stripe_call", {"entity": "customer", "action": "create", "dry_run": True, "params": {"email": "a@example.com", "name": "A"}}
    )
    assert dry["request"]["path"] == "/v1/customers"  # what Paragon can carry is still shown
