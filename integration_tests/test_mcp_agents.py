"""Agents within limits: `stripe-connection mcp` as a user runs it (the console script over
stdio), driven by the MCP SDK's own client (``mcp.ClientSession``), whose elicitation
callback accepts, declines, or is absent, against the Stripe emulator directly and through
the Paragon and PinkConnect emulators.

Covered: stripe_search_actions for plain requests; every refusal (amount cap, a money move
without an amount, an account not allowed, declined, a client that cannot be asked, read-only,
an upload through a proxy, a local path as an upload) with the emulator's request count
unchanged; connected accounts reached through Stripe-Account; the audit lines; an upload and a
quote's PDF.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from integration_tests.harness import CONSOLE_SCRIPT, MODES, SECRETS, subprocess_env
from stripe_emulator import catalog
from stripe_emulator import files as emulator_files

ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = "acct_1AgentsAllowedA", "acct_1AgentsAllowedB", "acct_1AgentsNotListed"


class Person:
    """The elicitation callback: answers ``answer`` (accept -> confirm true, decline, or accept
    with confirm false) and keeps every message it was shown."""

    def __init__(self, answer: str = "accept"):
        self.answer = answer
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.messages.append(params.message)
        assert params.requested_schema["properties"]["confirm"]["type"] == "boolean"
        if self.answer == "decline":
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"confirm": self.answer == "accept"})


class Session:
    def __init__(self, session: ClientSession):
        self.session = session
        self.texts: list[str] = []

    async def call(self, name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
        result = await self.session.call_tool(name, dict(arguments))
        self.texts.extend(c.text for c in result.content if isinstance(c, types.TextContent))
        return result

    async def ok(self, name: str, arguments: Mapping[str, Any]) -> Any:
        result = await self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        return json.loads(result.content[0].text)

    async def error(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        result = await self.call(name, arguments)
        assert result.is_error, result.content[0].text
        return json.loads(result.content[0].text)["error"]


@asynccontextmanager
async def agent(env: Mapping[str, str], *args: str, person: Person | None = None) -> AsyncIterator[Session]:
    params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["mcp", *args], env=subprocess_env(env))
    with tempfile.TemporaryFile("w+") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, elicitation_callback=person) as session,
        ):
            await session.initialize()
            yield Session(session)
        errlog.seek(0)
        stderr = errlog.read()
    for secret in SECRETS:
        assert secret not in stderr


def audit_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
    return [json.loads(line) for line in text.splitlines()]


# -- finding the action ------------------------------------------------------------------------

# Plain requests and the actions that answer them (any of these among the first three).
PLAIN_REQUESTS = {
    "refund a charge": {("create", "refund"), ("create", "charge_refund"), ("refund", "charge")},
    "cancel a subscription": {("cancel", "subscription")},
    "send an invoice to the customer": {("send", "invoice")},
    "pay out my balance to my bank": {("create", "payout")},
    "upload dispute evidence": {("create", "file")},
    "download the PDF of a quote": {("pdf", "quote")},
    "issue a credit note": {("create", "credit_note")},
    "transfer money to a connected account": {("create", "transfer")},
}


def test_search_finds_the_action_for_plain_requests_and_marks_what_moves_money(emulator_upstream, seeded_emulator):
    async def scenario() -> None:
        async with agent(emulator_upstream.env("api_key")) as run:
            listed = {tool.name: tool for tool in (await run.session.list_tools()).tools}
            search = listed["stripe_search_actions"]
            assert search.annotations.read_only_hint is True and search.annotations.open_world_hint is False
            assert listed["stripe_call"].meta == {"source-stripe-proxy/moves_money": True}
            assert listed["get_customer"].meta is None
            before = len(seeded_emulator.requests)
            for query, wanted in PLAIN_REQUESTS.items():
                found = await run.ok("stripe_search_actions", {"query": query})
                top = [(r["action"], r["entity"]) for r in found["results"][:3]]
                assert wanted & set(top), (query, top)
                assert 5 <= len(found["results"]) <= 10
            refunds = (await run.ok("stripe_search_actions", {"query": "refund a charge", "limit": 3}))["results"]
            assert len(refunds) == 3 and {r["kind"] for r in refunds} == {"moves money"}
            reads = (await run.ok("stripe_search_actions", {"query": "list customers"}))["results"]
            assert reads[0]["kind"] == "reads" and reads[0]["entity"] == "customer"
            described = await run.ok("stripe_describe", {"entity": "refund", "action": "create"})
            assert described["moves_money"] is True and described["amount_fields"] == ["amount"]
            assert len(seeded_emulator.requests) == before  # searching and describing send nothing
        async with agent(emulator_upstream.env("api_key"), "--read-only") as run:
            found = await run.ok("stripe_search_actions", {"query": "refund a charge"})
            assert found["results"] and all(r["kind"] == "reads" for r in found["results"])

    asyncio.run(scenario())


# -- money: the cap and the person's confirmation ---------------------------------------------------


def test_the_amount_cap_refuses_before_anything_is_sent(emulator_upstream, seeded_emulator, tmp_path):
    log = tmp_path / "audit.jsonl"
    customer = seeded_emulator.store.add("customers", {"email": "cap@example.com"})
    charge = seeded_emulator.store.add("charges", {"amount": 9000, "customer": customer["id"]})

    async def scenario() -> None:
        async with agent(emulator_upstream.env("api_key"), "--max-amount", "2000", "--audit-log", str(log)) as run:
            before = len(seeded_emulator.requests)
            over = await run.error(
                "stripe_call", {"entity": "refund", "action": "create", "params": {"charge": charge["id"], "amount": 2001}}
            )
            assert (over["param"], over["code"]) == ("amount", "max_amount") and "2000" in over["message"]
            nested = await run.error(
                "stripe_call",
                {
                    "entity": "checkout_session",
                    "action": "create",
                    "params": {
                        "mode": "payment",
                        "success_url": "https://example.com/ok",
                        "line_items": [
                            {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 500000, "product_data": {"name": "Big"}}}
                        ],
                    },
                },
            )
            assert nested["param"] == "line_items[0][price_data][unit_amount]"
            whole = await run.error("stripe_call", {"entity": "refund", "action": "create", "params": {"charge": charge["id"]}})
            assert whole["code"] == "max_amount" and "no amount" in whole["message"]
            seed_price = await run.error("create_price", {"product_id": "prod_1", "amount": 99999, "currency": "usd"})
            assert seed_price["param"] == "amount"  # the seed's name for unit_amount, capped as well
            assert len(seeded_emulator.requests) == before  # nothing was sent
            refund = await run.ok(
                "stripe_call", {"entity": "refund", "action": "create", "params": {"charge": charge["id"], "amount": 2000}}
            )
            assert refund["amount"] == 2000
        lines = audit_lines(log)
        assert [(entry["outcome"], entry.get("reason"), entry.get("param")) for entry in lines] == [
            ("refused", "max_amount", "amount"),
            ("refused", "max_amount", "line_items[0][price_data][unit_amount]"),
            ("refused", "max_amount", "amount"),
            ("refused", "max_amount", "amount"),
            ("sent", None, None),
        ]
        sent = lines[-1]
        assert (sent["tool"], sent["entity"], sent["action"], sent["object_id"]) == ("stripe_call", "refund", "create", refund["id"])
        assert sent["amounts"] == [{"param": "amount", "value": 2000, "currency": None}]
        assert sent["ids"] == {"charge": charge["id"]} and sent["moves_money"] is True
        assert sent["idempotency_key"].startswith("stripe-connection-")
        posted = [r for r in seeded_emulator.requests if r["method"] == "POST" and r["path"] == "/v1/refunds"]
        assert posted[-1]["headers"]["Idempotency-Key"] == sent["idempotency_key"]

    asyncio.run(scenario())


def test_confirmation_accepted_declined_or_impossible(emulator_upstream, seeded_emulator, tmp_path):
    log = tmp_path / "audit.jsonl"
    customer = seeded_emulator.store.add("customers", {"email": "confirm@example.com"})
    charge = seeded_emulator.store.add("charges", {"amount": 9000, "customer": customer["id"]})
    refund = {"entity": "refund", "action": "create", "params": {"charge": charge["id"], "amount": 1500}}
    args = ("--confirm", "money", "--audit-log", str(log))

    async def scenario() -> None:
        yes = Person("accept")
        async with agent(emulator_upstream.env("api_key"), *args, person=yes) as run:
            made = await run.ok("stripe_call", refund)
            assert made["amount"] == 1500
            other = await run.ok("create_customer", {"email": "straight@example.com", "name": "Straight On"})
            assert other["object"] == "customer"  # no money moves: no question
        assert len(yes.messages) == 1
        assert "create refund" in yes.messages[0] and "1500" in yes.messages[0] and charge["id"] in yes.messages[0]
        assert "account" in yes.messages[0]

        for answer in ("decline", "accept-false"):
            before = len(seeded_emulator.requests)
            async with agent(emulator_upstream.env("api_key"), *args, person=Person(answer)) as run:
                declined = await run.error("stripe_call", refund)
            assert declined["code"] == "declined" and "nothing was sent" in declined["message"]
            assert len(seeded_emulator.requests) == before

        before = len(seeded_emulator.requests)
        async with agent(emulator_upstream.env("api_key"), *args) as run:  # a client that cannot elicit
            cannot = await run.error("stripe_call", refund)
            assert cannot["code"] == "cannot_confirm" and "elicitation" in cannot["message"]
        assert len(seeded_emulator.requests) == before

        writes = Person("accept")
        async with agent(emulator_upstream.env("api_key"), "--confirm", "writes", person=writes) as run:
            item = await run.ok(
                "stripe_call",
                {"entity": "invoice_item", "action": "create", "params": {"customer": customer["id"], "amount": 1234, "currency": "eur"}},
            )
            assert item["amount"] == 1234
            await run.ok("get_customer", {"customer_id": customer["id"]})  # a read: no question
        assert len(writes.messages) == 1 and "12.34 EUR (1234)" in writes.messages[0]

    asyncio.run(scenario())
    outcomes = [(entry["outcome"], entry.get("reason")) for entry in audit_lines(log)]
    assert outcomes == [("sent", None), ("sent", None), ("declined", None), ("declined", None), ("refused", "cannot_confirm")]


# -- many accounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_accounts_are_reached_through_stripe_account_and_others_refused(mode, emulator_upstream, seeded_emulator, tmp_path):
    log = tmp_path / "audit.jsonl"
    for account in (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C):
        seeded_emulator.add_connected_account(account)

    async def scenario() -> None:
        args = ("--accounts", f"{ACCOUNT_A},{ACCOUNT_B}", "--audit-log", str(log))
        async with agent(emulator_upstream.env(mode), *args) as run:
            listed = {t.name: t for t in (await run.session.list_tools()).tools}
            assert "account" in listed["create_customer"].input_schema["properties"]
            assert "account" in listed["stripe_call"].input_schema["properties"]
            made = await run.ok("create_customer", {"email": f"a-{mode}@example.com", "name": "In A", "account": ACCOUNT_A})
            assert seeded_emulator.store_for(ACCOUNT_A).lookup("customers", made["id"]) is not None
            assert seeded_emulator.store.lookup("customers", made["id"]) is None
            assert seeded_emulator.requests[-1]["headers"]["Stripe-Account"] == ACCOUNT_A
            listed_b = await run.ok("stripe_call", {"entity": "customer", "action": "list", "account": ACCOUNT_B})
            assert listed_b["data"] == [] and seeded_emulator.requests[-1]["headers"]["Stripe-Account"] == ACCOUNT_B
            before = len(seeded_emulator.requests)
            other = await run.error("create_customer", {"email": "c@example.com", "name": "C", "account": ACCOUNT_C})
            assert (other["param"], other["code"]) == ("account", "account") and ACCOUNT_A in other["message"]
            bad = await run.error("get_customer", {"customer_id": made["id"], "account": "not-an-account"})
            assert bad["param"] == "account"
            assert len(seeded_emulator.requests) == before
        async with agent(emulator_upstream.env(mode)) as run:  # without --accounts
            refused = await run.error("stripe_call", {"entity": "customer", "action": "list", "account": ACCOUNT_A})
            assert refused["code"] == "account" and "--accounts" in refused["message"]
        assert len(seeded_emulator.requests) == before

    asyncio.run(scenario())
    lines = audit_lines(log)
    assert [(entry["outcome"], entry["account"], entry.get("reason")) for entry in lines] == [
        ("sent", ACCOUNT_A, None),
        ("refused", ACCOUNT_C, "account"),
    ]
    assert f"a-{mode}@example.com" not in log.read_text() and "In A" not in log.read_text()  # no values but ids


# -- the audit: refusals by policy and parameters ---------------------------------------------------------


def test_audit_lines_for_refused_writes_hold_no_values(emulator_upstream, seeded_emulator, tmp_path):
    log = tmp_path / "audit.jsonl"

    async def scenario() -> None:
        async with agent(emulator_upstream.env("paragon"), "--read-only", "--audit-log", str(log)) as run:
            await run.error(
                "stripe_call",
                {"entity": "customer", "action": "create", "params": {"email": "private@example.com", "name": "Private Person"}},
            )
        async with agent(emulator_upstream.env("paragon"), "--audit-log", str(log)) as run:
            await run.error(
                "stripe_call",
                {"entity": "customer", "action": "update", "params": {"customer": "cus_1Unknown", "emial": "private@example.com"}},
            )
            dry = await run.ok(
                "stripe_call", {"entity": "customer", "action": "delete", "params": {"customer": "cus_1DryRun"}, "dry_run": True}
            )
            assert dry["dry_run"] is True
            missing = await run.error("stripe_call", {"entity": "customer", "action": "delete", "params": {"customer": "cus_1NoSuchOne"}})
            assert missing["http_status"] == 404

    asyncio.run(scenario())
    lines = audit_lines(log)
    assert [(entry["outcome"], entry.get("reason"), entry.get("param")) for entry in lines] == [
        ("refused", "policy", "action"),
        ("refused", "invalid_parameter", "emial"),
        ("dry_run", None, None),
        ("failed", None, None),
    ]
    assert lines[2]["ids"] == {"customer": "cus_1DryRun"}
    assert lines[3]["error"] == {"type": "invalid_request_error", "code": "resource_missing", "http_status": 404}
    text = log.read_text()
    assert "private@example.com" not in text and "Private Person" not in text


# -- uploads and documents ------------------------------------------------------------------------------


def test_an_upload_and_a_quote_pdf_and_where_a_proxy_cannot(emulator_upstream, seeded_emulator):
    content = b"%PDF-1.4\nreceipt for order 42\n"
    upload = {
        "entity": "file",
        "action": "create",
        "params": {
            "purpose": "dispute_evidence",
            "file_link_data": {"create": True},
            "file": {"name": "receipt.pdf", "content_base64": base64.b64encode(content).decode()},
        },
    }
    quote = catalog.add(seeded_emulator.store, "quotes", {"status": "open", "amount_total": 4200, "currency": "usd"})

    async def scenario() -> None:
        async with agent(emulator_upstream.env("api_key")) as run:
            made = await run.ok("stripe_call", upload)
            assert (made["object"], made["filename"], made["size"], made["purpose"]) == (
                "file",
                "receipt.pdf",
                len(content),
                "dispute_evidence",
            )
            assert made["links"]["data"][0]["file"] == made["id"]
            assert emulator_files.stored_content(seeded_emulator.store, made["id"]) == content
            sent = seeded_emulator.requests[-1]
            assert sent["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
            assert sent["body"]["file"]["filename"] == "receipt.pdf" and sent["body"]["purpose"] == "dispute_evidence"
            assert (await run.ok("stripe_call", {"entity": "file", "action": "get", "params": {"file": made["id"]}}))[
                "filename"
            ] == "receipt.pdf"
            before = len(seeded_emulator.requests)
            path = await run.error("stripe_call", {**upload, "params": {**upload["params"], "file": "/etc/hostname"}})
            assert path["param"] == "file"  # a path of the server's machine is never read
            assert len(seeded_emulator.requests) == before
        for mode in ("api_key", "paragon"):
            async with agent(emulator_upstream.env(mode)) as run:
                result = await run.call("stripe_call", {"entity": "quote", "action": "pdf", "params": {"quote": quote["id"]}})
                assert not result.is_error, result.content[0].text
                summary = json.loads(result.content[0].text)
                assert (summary["type"], summary["name"]) == ("application/pdf", f"quote-{quote['id']}.pdf")
                blob = result.content[1].resource
                assert blob.mime_type == "application/pdf" and blob.uri.startswith("stripe://quotes/")
                pdf = base64.b64decode(blob.blob)
                assert pdf.startswith(b"%PDF-") and quote["id"].encode() in pdf and summary["bytes"] == len(pdf)
        paragon = seeded_emulator.requests[-1]
        assert paragon["path"] == f"/v1/quotes/{quote['id']}/pdf"  # forwarded by Paragon from its target header
        for mode, why in (("paragon", "JSON request bodies"), ("pinkconnect", "files.stripe.com")):
            before = len(seeded_emulator.requests)
            async with agent(emulator_upstream.env(mode)) as run:
                refused = await run.error("stripe_call", upload)
                assert refused["code"] == "connection_mode" and why in refused["message"]
            assert len(seeded_emulator.requests) == before
        async with agent(emulator_upstream.env("pinkconnect")) as run:
            refused = await run.error("stripe_call", {"entity": "quote", "action": "pdf", "params": {"quote": quote["id"]}})
            assert refused["code"] == "connection_mode"
        assert len(seeded_emulator.requests) == before

    asyncio.run(scenario())
