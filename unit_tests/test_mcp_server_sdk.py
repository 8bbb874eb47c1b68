"""The tool table on the SDK's public low-level server, through the SDK's own in-process client
(``mcp.Client``): what is listed, what a call returns, and the hook by which a guard asks the
person at the client (MCP elicitation) before a call is sent, in both protocol eras: the
handshake era (a request on the session's back channel) and 2026-07-28 (the question comes back
as ``InputRequiredResult`` and the client's retry carries the answer). ``execute`` records what
would be sent; no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import mcp_types
import pytest
from mcp import Client

from source_stripe_proxy.actions.connection import PreparedCall
from source_stripe_proxy.actions.errors import ActionInputError
from source_stripe_proxy.actions.mcp_server import build_server
from source_stripe_proxy.actions.mcp_tools import (
    AccessPolicy,
    CallContext,
    Question,
    StripeTools,
    ToolDefinition,
)

MODES = ("legacy", "2026-07-28")  # the handshake era, and the era of InputRequiredResult
CONFIRM = Question(
    "Send this write to Stripe?", {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[PreparedCall] = []

    def __call__(self, prepared: PreparedCall) -> Any:
        self.calls.append(prepared)
        return {"id": "cus_1", "object": "customer", "email": "a@example.com"}


def run(server: Any, mode: str, steps, **client_options) -> Any:
    async def scenario() -> Any:
        async with Client(server, mode=mode, **client_options) as client:
            assert (client.protocol_version == mode) == (mode != "legacy")
            return await steps(client)

    return asyncio.run(scenario())


def answering(action: str, content: Any = None, asked: list[Any] | None = None):
    async def callback(context, params):
        if asked is not None:
            asked.append(params.message)
        return mcp_types.ElicitResult(action=action, content=content)

    return callback


def confirming_guard(seen: list[Any]):
    """A guard as the money guardrails will be: ask first, refuse unless the person confirms."""

    def guard(prepared: PreparedCall, context: CallContext) -> None:
        answer = context.ask(CONFIRM)
        seen.append((context.tool, prepared.method, answer.action))
        if not (answer.accepted and answer.content.get("confirm") is True):
            raise ActionInputError(f"Not confirmed ({answer.action}): nothing was sent.", param="confirm")

    return guard


@pytest.mark.parametrize("mode", MODES)
def test_the_listed_tools_are_the_tables(mode):
    tools = StripeTools(Recorder())
    listed = run(build_server(tools, instructions="test"), mode, lambda client: client.list_tools()).tools
    assert [tool.name for tool in listed] == list(tools.tools)
    for tool in listed:
        want = tools.tools[tool.name]
        assert (tool.input_schema, tool.description, tool.title) == (want.input_schema, want.description, want.title)
        hints = tool.annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
            want.read_only,
            want.destructive,
            want.idempotent,
            want.open_world,
        )


@pytest.mark.parametrize("mode", MODES)
def test_a_guard_asks_the_person_and_the_call_is_sent_once_confirmed(mode):
    execute, seen, asked = Recorder(), [], []
    server = build_server(StripeTools(execute, guards=[confirming_guard(seen)]), instructions="test")
    result = run(
        server,
        mode,
        lambda client: client.call_tool("create_customer", {"email": "a@example.com", "name": "A"}),
        elicitation_callback=answering("accept", {"confirm": True}, asked),
    )
    assert result.is_error is False and result.structured_content["id"] == "cus_1"
    assert asked == [CONFIRM.message]
    assert seen == [("create_customer", "POST", "accept")]  # asked once, in either era
    assert [(c.method, c.path) for c in execute.calls] == [("POST", "/v1/customers")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_a_declined_question_refuses_the_call_and_nothing_is_sent(mode, action):
    execute, seen = Recorder(), []
    server = build_server(StripeTools(execute, guards=[confirming_guard(seen)]), instructions="test")
    result = run(
        server,
        mode,
        lambda client: client.call_tool("create_customer", {"email": "a@example.com", "name": "A"}),
        elicitation_callback=answering(action),
    )
    assert result.is_error is True
    error = json.loads(result.content[0].text)["error"]
    assert error["param"] == "confirm" and action in error["message"] and result.structured_content == {"error": error}
    assert execute.calls == [] and seen == [("create_customer", "POST", action)]


@pytest.mark.parametrize("mode", MODES)
def test_a_client_that_cannot_be_asked_gets_unavailable_and_dry_runs_ask_nothing(mode):
    execute, seen = Recorder(), []
    server = build_server(StripeTools(execute, guards=[confirming_guard(seen)]), instructions="test")

    async def steps(client):
        refused = await client.call_tool("create_customer", {"email": "a@example.com", "name": "A"})
        dry = await client.call_tool("create_customer", {"email": "a@example.com", "name": "A", "dry_run": True})
        return refused, dry

    refused, dry = run(server, mode, steps)
    assert refused.is_error is True and "unavailable" in refused.content[0].text
    assert dry.is_error is False and dry.structured_content["request"]["path"] == "/v1/customers"
    assert seen == [("create_customer", "POST", "unavailable")] and execute.calls == []


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_or_hidden_tool_is_refused_in_plain_words(mode):
    server = build_server(StripeTools(Recorder(), policy=AccessPolicy(read_only=True)), instructions="test")

    async def steps(client):
        return (
            await client.call_tool("create_customer", {"email": "a@example.com", "name": "A"}),
            await client.call_tool("no_such_tool", {}),
        )

    hidden, unknown = run(server, mode, steps)
    assert hidden.is_error and "Unknown tool: create_customer" in hidden.content[0].text
    assert "read-only" in hidden.content[0].text and "list_customers" in hidden.content[0].text
    assert unknown.is_error and "Unknown tool: no_such_tool" in unknown.content[0].text
    assert "read-only" not in unknown.content[0].text


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_added_to_the_table_is_listed_and_called(mode):
    tools = StripeTools(Recorder())
    received = []
    tools.add(
        ToolDefinition(
            name="echo_account",
            title="Echo",
            description="Says what it was given.",
            input_schema={"type": "object", "properties": {"word": {"type": "string"}}, "additionalProperties": False},
            read_only=True,
            destructive=False,
            idempotent=True,
            open_world=False,
            run=lambda arguments, context: received.append((context.tool, arguments)) or {"said": arguments["word"]},
        )
    )
    with pytest.raises(ValueError, match="already"):
        tools.add(tools.tools["echo_account"])

    async def steps(client):
        return (await client.list_tools()).tools, await client.call_tool("echo_account", {"word": "hi"})

    listed, result = run(build_server(tools, instructions="test"), mode, steps)
    assert listed[-1].name == "echo_account" and listed[-1].annotations.open_world_hint is False
    assert result.structured_content == {"said": "hi"} and received == [("echo_account", {"word": "hi"})]


@pytest.fixture
def restored_logging():
    """main() routes the process's logging to stderr; put it back for the tests after this one."""
    import logging

    root = logging.getLogger()
    names = ("source_stripe_proxy.mcp", "source_stripe_proxy.actions", "uvicorn.error")
    saved = (list(root.handlers), root.level, {n: (logging.getLogger(n).level, logging.getLogger(n).propagate) for n in names})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (level, propagate) in saved[2].items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = propagate


def test_main_builds_the_server_it_serves(monkeypatch, capsys, restored_logging):
    from source_stripe_proxy import __version__
    from source_stripe_proxy.actions import mcp_server

    served = []
    monkeypatch.setattr(mcp_server, "serve_stdio", served.append)
    environ = {"PARAGON_PROJECT_ID": "proj", "PARAGON_USER_TOKEN": "paragon-SECRET", "PARAGON_PROXY_HOST": "http://127.0.0.1:9"}
    assert mcp_server.main(["--read-only"], environ=environ) == 0
    (server,) = served
    assert (server.name, server.version) == ("stripe-connection", __version__)
    # 13: the seed's 10 reads, stripe_call (reads only), stripe_describe and stripe_search_actions
    assert "through Paragon, as 13 tools" in server.instructions and "This server only reads." in server.instructions
    listed = run(server, "legacy", lambda client: client.list_tools()).tools
    assert len(listed) == 13 and all(tool.annotations.read_only_hint for tool in listed)
    err = capsys.readouterr().err
    assert "13 tools (read-only) over stdio, paragon connection" in err and "paragon-SECRET" not in err


@pytest.mark.parametrize(
    "allow, line", [("get_customer", "1 tool (allow: get_customer) over stdio"), ("get_customer,list_customers", "2 tools (allow: ")]
)
def test_the_start_up_line_counts_its_tools_in_words(allow, line, monkeypatch, capsys, restored_logging):
    from source_stripe_proxy.actions import mcp_server

    served = []
    monkeypatch.setattr(mcp_server, "serve_stdio", served.append)
    assert mcp_server.main(["--allow", allow], environ={"STRIPE_API_KEY": "rk_test_startupLINE"}) == 0
    assert line in capsys.readouterr().err
    assert f"as {line.split(' (')[0]}." in served[0].instructions
