"""`stripe-connection mcp` through the MCP SDK's own client (``mcp.ClientSession``), over stdio
and over streamable HTTP, against the Stripe emulator reached directly, through the Paragon
emulator and through the PinkConnect emulator (all on loopback).

Each run lists the tools (schemas and hints as generated), calls every seed example as a tool
call, calls ``stripe_call`` for actions outside the seed (delete customer, create invoice_item,
finalize invoice, create refund, create coupon), checks the errors (unknown parameter, missing
parameter, Stripe's 404, a proxy's 401), read-only mode, the HTTP access checks, and greps every
output (tool results, tool listings, the server's stderr, stdout in HTTP mode) for secrets.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from integration_tests.harness import CONSOLE_SCRIPT, MODES, SECRETS, free_port, subprocess_env
from integration_tests.seed_examples import SEED_EXAMPLES, assert_same_shape, with_ids
from source_stripe_proxy.actions.cli import parse_block, split_call
from source_stripe_proxy.actions.mcp_server import TOKEN_ENV
from source_stripe_proxy.actions.mcp_tools import NEXT_CURSOR, AccessPolicy, StripeTools

MCP_TOKEN = "mcp-http-bearer-SECRET-5"
SECRETS = (*SECRETS, MCP_TOKEN)
TRANSPORTS = ("stdio", "http")
NAMED = [
    "create_customer",
    "update_customer",
    "get_customer",
    "list_customers",
    "create_subscription",
    "list_subscriptions",
    "create_product",
    "get_product",
    "list_products",
    "list_balance_transactions",
    "list_plans",
    "update_product",
    "get_subscription",
    "create_price",
    "get_price",
    "list_prices",
    "create_plan",
]


class Run:
    """One server and one client session; every text the client received is kept for the secrets grep."""

    def __init__(self, session: ClientSession):
        self.session = session
        self.texts: list[str] = []
        self.stderr = ""
        self.stdout = ""

    async def call(self, name: str, arguments: Mapping[str, Any]) -> tuple[bool, Any]:
        result = await self.session.call_tool(name, dict(arguments))
        text = result.content[0].text
        self.texts.append(text)
        try:
            data = json.loads(text)
        except ValueError:
            data = text  # the SDK's own refusals (an unknown tool) are plain text
        if not result.is_error:
            assert result.structured_content == data  # the same JSON, structured too
        return result.is_error, data

    async def ok(self, name: str, arguments: Mapping[str, Any]) -> Any:
        is_error, data = await self.call(name, arguments)
        assert not is_error, data
        return data

    async def error(self, name: str, arguments: Mapping[str, Any]) -> Any:
        is_error, data = await self.call(name, arguments)
        assert is_error, data
        return data["error"] if isinstance(data, dict) else data

    def assert_no_secret(self) -> None:
        for where, text in (("tool results", "\n".join(self.texts)), ("stderr", self.stderr), ("stdout", self.stdout)):
            for secret in SECRETS:
                assert secret not in text, f"a secret reached {where}"


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MCP server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the MCP server did not listen within 60 s")


@asynccontextmanager
async def mcp_server(transport: str, env: Mapping[str, str], *args: str) -> AsyncIterator[Run]:
    """``stripe-connection mcp ARGS`` as a user runs it (the console script), with the SDK's client."""
    with tempfile.TemporaryDirectory(prefix="mcp-test-") as workdir:
        err_path, out_path = Path(workdir, "stderr"), Path(workdir, "stdout")
        if transport == "stdio":
            params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["mcp", *args], env=subprocess_env(env))
            with err_path.open("w") as errlog:
                async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    run = Run(session)
                    yield run
        else:
            port = free_port()
            command = [CONSOLE_SCRIPT, "mcp", "--http", f"127.0.0.1:{port}", *args]
            with err_path.open("w") as errlog, out_path.open("w") as outlog:
                process = subprocess.Popen(
                    command, env=subprocess_env({**env, TOKEN_ENV: MCP_TOKEN}), stdout=outlog, stderr=errlog, stdin=subprocess.DEVNULL
                )
                try:
                    _wait_for_port(port, process)
                    headers = {"Authorization": f"Bearer {MCP_TOKEN}"}
                    async with (
                        httpx2.AsyncClient(headers=headers, timeout=60) as http,
                        streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (read, write),
                        ClientSession(read, write) as session,
                    ):
                        await session.initialize()
                        run = Run(session)
                        run.port = port
                        yield run
                finally:
                    process.terminate()
                    process.wait(timeout=30)
            run.stdout = out_path.read_text()
        run.stderr = err_path.read_text()


def typed(value: str) -> Any:
    """The seed's text values as a model would send them: 10 and true, not '10' and 'true'."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, (int, bool)) else value


def seed_tool_call(name: str, ids: Mapping[str, str]) -> tuple[str, dict[str, Any], Any]:
    block, expected = SEED_EXAMPLES[name]
    action, entity, params = split_call(parse_block(with_ids(block, ids)))
    return f"{action}_{entity}", {key: typed(value) for key, value in params.items()}, expected


async def seed_example(run: Run, name: str, ids: Mapping[str, str]) -> Any:
    tool, arguments, expected = seed_tool_call(name, ids)
    data = await run.ok(tool, arguments)
    assert_same_shape(expected, data, name)
    return data


# -- the whole surface, per transport and connection mode ---------------------------------------------


async def check_tools(run: Run) -> None:
    listed = {tool.name: tool for tool in (await run.session.list_tools()).tools}
    run.texts.append(json.dumps({name: tool.model_dump(mode="json") for name, tool in listed.items()}))
    assert list(listed) == [*NAMED, "stripe_call", "stripe_describe", "stripe_search_actions"]
    expected = StripeTools(lambda prepared: None).tools  # what the generated table makes of each tool
    for name, tool in listed.items():
        want = expected[name]
        assert tool.input_schema == want.input_schema, name
        assert tool.description == want.description and tool.description
        hints = tool.annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
            want.read_only,
            want.destructive,
            want.idempotent,
            want.open_world,
        ), name
    assert listed["get_customer"].annotations.read_only_hint is True
    assert listed["create_customer"].annotations.read_only_hint is False
    assert listed["create_customer"].annotations.destructive_hint is False  # creating destroys nothing
    assert listed["stripe_call"].annotations.destructive_hint is True  # it can delete


async def check_seed_examples(run: Run, mode: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    customer = await seed_example(run, "create customer", ids)
    assert (customer["email"], customer["name"]) == ("customer@example.com", "John Doe")
    ids["cus_1234567890"] = customer["id"]
    updated = await seed_example(run, "update customer", ids)
    assert (updated["id"], updated["name"]) == (customer["id"], "Jane Doe")
    assert (await seed_example(run, "get customer", ids))["description"] == "Updated customer information"
    customers = await seed_example(run, "list customers", ids)
    assert customer["id"] in [c["id"] for c in customers["data"]] and len(customers["data"]) <= 10

    product = await seed_example(run, "create product", ids)
    ids["prod_1234567890"] = product["id"]
    assert (await seed_example(run, "get product", ids))["name"] == "Premium Plan"
    assert all(p["active"] for p in (await seed_example(run, "list products", ids))["data"])
    assert (await run.ok("update_product", {"product_id": product["id"], "description": f"via MCP {mode}"}))[
        "description"
    ] == f"via MCP {mode}"

    price = await run.ok("create_price", {"product_id": product["id"], "amount": 1000, "currency": "usd", "interval": "month"})
    assert (price["unit_amount"], price["recurring"]["interval"]) == (1000, "month")
    ids["price_1234567890"] = price["id"]
    assert (await run.ok("get_price", {"price_id": price["id"]}))["id"] == price["id"]
    prices = await run.ok("list_prices", {"product_id": product["id"], "active": True})
    assert [p["id"] for p in prices["data"]] == [price["id"]]

    plan = await run.ok("create_plan", {"product_id": product["id"], "amount": 1000, "currency": "usd", "interval": "month"})
    plans = await seed_example(run, "list plans", ids)
    assert plan["id"] in [p["id"] for p in plans["data"]]

    subscription = await seed_example(run, "create subscription", ids)
    assert subscription["items"]["data"][0]["price"]["id"] == price["id"] and subscription["status"] == "trialing"
    assert (await run.ok("get_subscription", {"subscription_id": subscription["id"]}))["id"] == subscription["id"]
    await run.ok("create_subscription", {"customer_id": customer["id"], "price_id": price["id"]})  # active, no trial
    listed = await seed_example(run, "list subscriptions", ids)
    assert listed["data"] and all(s["customer"] == customer["id"] and s["status"] == "active" for s in listed["data"])

    transactions = await seed_example(run, "list balance transactions", ids)
    assert [t["type"] for t in transactions["data"]] == ["payment"]
    return ids


async def check_beyond_the_seed(run: Run, seeded_emulator, mode: str) -> None:
    call = "stripe_call"
    customer = await run.ok("create_customer", {"email": f"billing-{mode}@example.com", "name": f"Billing {mode}"})
    item = await run.ok(
        call,
        {
            "entity": "invoice_item",
            "action": "create",
            "params": {"customer_id": customer["id"], "amount": 1500, "currency": "usd", "metadata": {"source": "mcp"}},
        },
    )
    assert (item["object"], item["amount"], item["metadata"]) == ("invoiceitem", 1500, {"source": "mcp"})
    invoice = await run.ok(
        call, {"entity": "invoice", "action": "create", "params": {"customer": customer["id"], "pending_invoice_items_behavior": "include"}}
    )
    assert (invoice["status"], invoice["amount_due"]) == ("draft", 1500)
    finalized = await run.ok(call, {"entity": "invoice", "action": "finalize", "params": {"invoice_id": invoice["id"]}})
    assert (finalized["id"], finalized["status"]) == (invoice["id"], "open")

    charge = seeded_emulator.store.add("charges", {"amount": 3000, "customer": customer["id"]})
    refund = await run.ok(
        call,
        {"entity": "refund", "action": "create", "params": {"charge": charge["id"], "amount": 1000, "reason": "requested_by_customer"}},
    )
    assert (refund["object"], refund["amount"], refund["charge"]) == ("refund", 1000, charge["id"])

    coupon = await run.ok(
        call, {"entity": "coupon", "action": "create", "params": {"percent_off": 25, "duration": "repeating", "duration_in_months": 3}}
    )
    assert (coupon["object"], coupon["percent_off"], coupon["duration"]) == ("coupon", 25.0, "repeating")

    before = len(seeded_emulator.requests)
    dry = await run.ok(call, {"entity": "customer", "action": "delete", "params": {"customer_id": customer["id"]}, "dry_run": True})
    assert dry == {"dry_run": True, "request": {"method": "DELETE", "path": f"/v1/customers/{customer['id']}"}}
    assert len(seeded_emulator.requests) == before  # a dry run sends nothing
    deleted = await run.ok(call, {"entity": "customer", "action": "delete", "params": {"customer_id": customer["id"]}})
    assert deleted == {"id": customer["id"], "object": "customer", "deleted": True}

    described = await run.ok("stripe_describe", {"entity": "invoice", "action": "finalize"})
    assert (described["method"], described["path"]) == ("POST", "/v1/invoices/{invoice}/finalize")


async def check_errors(run: Run, seeded_emulator) -> None:
    before = len(seeded_emulator.requests)
    unknown = await run.error("get_customer", {"customer_id": "cus_1", "phonee": "1"})
    assert (unknown["type"], unknown["param"]) == ("invalid_request_error", "phonee")
    assert "customer_id" in unknown["accepted"] and "Did you mean phone?" not in unknown["message"]
    missing = await run.error("create_customer", {"email": "nobody@example.com"})
    assert (missing["type"], missing["param"]) == ("invalid_request_error", "name")
    dropped = await run.error("stripe_call", {"entity": "customer", "action": "create", "email": "x@example.com"})
    assert dropped["param"] == "email" and "params" in dropped["message"]  # not silently dropped
    assert len(seeded_emulator.requests) == before  # refused before sending
    not_found = await run.error("get_customer", {"customer_id": "cus_doesnotexist"})
    assert (not_found["type"], not_found["code"], not_found["http_status"]) == ("invalid_request_error", "resource_missing", 404)
    assert "cus_doesnotexist" in not_found["message"]


def bad_credentials(env: Mapping[str, str], mode: str) -> dict[str, str]:
    key = {"api_key": "STRIPE_API_KEY", "paragon": "PARAGON_USER_TOKEN", "pinkconnect": "PINKCONNECT_TOKEN"}[mode]
    wrong = "rk_test_wrongKEY" if mode == "api_key" else "wrong-token"
    return {**env, key: wrong}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_mcp_server_end_to_end(transport, mode, emulator_upstream, seeded_emulator):
    async def scenario() -> Run:
        async with mcp_server(transport, emulator_upstream.env(mode)) as run:
            await check_tools(run)
            await check_seed_examples(run, f"{transport}-{mode}")
            await check_beyond_the_seed(run, seeded_emulator, f"{transport}-{mode}")
            await check_errors(run, seeded_emulator)
        return run

    run = asyncio.run(scenario())
    run.assert_no_secret()
    assert ("restricted key (rk_...)" in run.stderr) == (mode == "api_key")  # the sk_ warning
    assert run.stdout == ""  # HTTP mode: nothing on stdout


@pytest.mark.parametrize("mode", MODES)
def test_read_only_refuses_writes_and_a_rejected_credential_is_a_401_error(mode, emulator_upstream, seeded_emulator):
    async def scenario() -> Run:
        async with mcp_server("stdio", bad_credentials(emulator_upstream.env(mode), mode), "--read-only") as run:
            listed = (await run.session.list_tools()).tools
            assert [t.name for t in listed] == [n for n in NAMED if n.startswith(("get_", "list_"))] + [
                "stripe_call",
                "stripe_describe",
                "stripe_search_actions",
            ]
            assert all(t.annotations.read_only_hint for t in listed)
            before = len(seeded_emulator.requests)
            refused = await run.error(
                "stripe_call", {"entity": "customer", "action": "create", "params": {"email": "a@example.com", "name": "A"}}
            )
            assert refused["param"] == "action" and "read-only" in refused["message"]
            assert "create_customer" in await run.error("create_customer", {"email": "a@example.com", "name": "A"})
            assert len(seeded_emulator.requests) == before
            rejected = await run.error("list_customers", {})
            assert rejected["http_status"] == 401
            assert rejected["type"] == ("invalid_request_error" if mode == "api_key" else "proxy_error")
        return run

    run = asyncio.run(scenario())
    run.assert_no_secret()
    assert "wrong-token" not in "\n".join(run.texts) + run.stderr


def test_http_refuses_a_foreign_origin_and_a_missing_or_wrong_token(emulator_upstream):
    async def scenario() -> None:
        async with mcp_server("http", emulator_upstream.env("paragon")) as run:
            url = f"http://127.0.0.1:{run.port}/mcp"
            ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
            base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
            async with httpx2.AsyncClient() as http:
                for headers, status in (
                    ({}, 401),
                    ({"Authorization": "Bearer wrong"}, 401),
                    ({"Authorization": f"Bearer {MCP_TOKEN}", "Origin": "http://evil.example"}, 403),
                    ({"Authorization": f"Bearer {MCP_TOKEN}", "Host": "rebound.example:80"}, 421),
                ):
                    response = await http.post(url, headers={**base, **headers}, content=ping)
                    assert response.status_code == status, (headers, response.text)
                    assert MCP_TOKEN not in response.text
                # A loopback origin with the token reaches the MCP app (which wants a session first).
                response = await http.post(
                    url, headers={**base, "Authorization": f"Bearer {MCP_TOKEN}", "Origin": f"http://localhost:{run.port}"}, content=ping
                )
                assert response.status_code not in (401, 403, 421)
            assert "customer" in (await run.ok("stripe_describe", {}))["entities"]  # the session still works

    asyncio.run(scenario())


def test_stdout_carries_only_mcp_frames_while_retries_are_logged_on_stderr(emulator_upstream, seeded_emulator):
    """The raw stdio stream: every line a JSON-RPC message, even when the client retries a 500."""
    env = subprocess_env(emulator_upstream.env("api_key"))
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, "mcp"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seeded_emulator.faults.script(["500"])
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_customers", "arguments": {"limit": 1}}},
    ]
    watchdog = threading.Timer(120, process.kill)  # a hung server fails the test instead of blocking it
    watchdog.start()
    try:
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        process.stdin.flush()
        lines = []
        while not any('"id":3' in line.replace(" ", "") for line in lines):  # stdin stays open until the answer
            line = process.stdout.readline()
            assert line, "the server closed stdout before answering"
            lines.append(line)
        out, err = process.communicate("", timeout=60)
        out = "".join(lines) + out
    finally:
        watchdog.cancel()
    frames = [json.loads(line) for line in out.splitlines()]  # any non-JSON line fails here
    assert all(frame["jsonrpc"] == "2.0" for frame in frames)
    answers = {frame["id"]: frame for frame in frames if "id" in frame}
    assert len(answers[2]["result"]["tools"]) == 20
    assert answers[3]["result"]["isError"] is False
    assert "HTTP 500; retry 1/" in err
    for secret in SECRETS:
        assert secret not in out and secret not in err


def test_concurrent_tool_calls_share_one_client(emulator_upstream):
    """Four calls at once through one in-process server: they overlap (each waits for the others
    at a barrier, which times out if calls were served one by one) and all go through the one
    connection's client: one session, one request budget."""
    from mcp import Client

    from source_stripe_proxy.actions.connection import StripeConnection
    from source_stripe_proxy.actions.env import config_from_env
    from source_stripe_proxy.actions.mcp_server import build_server

    connection = StripeConnection(config_from_env(emulator_upstream.env("pinkconnect")))
    session = connection.client._session
    barrier = threading.Barrier(4, timeout=30)
    threads = set()

    def execute(prepared):
        threads.add(threading.get_ident())
        barrier.wait()
        return connection.execute(prepared)

    tools = StripeTools(execute, policy=AccessPolicy())
    server = build_server(tools, instructions="test")

    async def scenario() -> list[Any]:
        async with Client(server) as client:
            return await asyncio.gather(*(client.call_tool("list_customers", {"limit": 1}) for _ in range(4)))

    results = asyncio.run(scenario())
    assert [r.is_error for r in results] == [False] * 4
    assert len(threads) == 4 and connection.client.request_count == 4
    assert connection.client._session is session


def test_a_long_list_is_cut_with_the_cursor_to_continue(emulator_upstream, seeded_emulator):
    for index in range(30):
        seeded_emulator.store.add("customers", {"email": f"bulk{index}@example.com", "description": "z" * 300})

    async def scenario() -> None:
        async with mcp_server("stdio", emulator_upstream.env("paragon"), "--max-result-chars", "4000") as run:
            page = await run.ok("list_customers", {"limit": 30})
            assert 0 < len(page["data"]) < 30 and page["has_more"] is True
            assert len(json.dumps(page, separators=(",", ":"), ensure_ascii=False)) <= 4000
            following = await run.ok("list_customers", {"limit": 3, "starting_after": page[NEXT_CURSOR]})
            assert following["data"][0]["id"] not in [c["id"] for c in page["data"]]

    asyncio.run(scenario())
