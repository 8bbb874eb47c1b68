#!/usr/bin/env python3
"""What the MCP server costs an agent in context: characters and tokens of its tool list and of
typical results, with the default slim schemas and compact lists, with --accounts (which adds
`account` to every tool that reaches Stripe), and with --full-schemas and fields=["*"] (the
whole objects, as before issue 23).

The server runs as a user runs it (`stripe-connection mcp`, the console script, stdio) against the
Stripe emulator on loopback (in this process), filled with 100 customers (email, name,
description, phone, address, metadata), 3 products with a monthly price each and 10
subscriptions. Everything is measured as the MCP SDK's ClientSession receives it: the tools/list
result and each tool result's text, written with json.dumps (", " and ": " between items, as a
client logs it) and, for the wire, compact.

Tokens are counted with OpenAI's o200k_base (GPT-4o and later) and cl100k_base (GPT-4) encodings
through the `bpe-openai` package, which ships them (`pip install -e '.[bench]'`); tiktoken itself
downloads its encodings at run time, which this machine cannot. Claude's tokenizer is not
published: figures for other models differ by some tens of percent. Without `bpe-openai`, tokens
are estimated as characters / 4 and the report says so. All figures are exact counts for this
data (ids have fixed lengths), not timings: they do not depend on how busy the machine is.

    .venv/bin/python benchmarks/mcp_tokens.py          # writes benchmarks/results-mcp-tokens.md
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from stripe_emulator.server import StripeEmulator  # noqa: E402 - after the checkout is put on sys.path

BIN = Path(sys.executable).parent
API_KEY = "sk_test_mcp_tokens_benchmark"


def counters() -> tuple[str, dict[str, Callable[[str], int]]]:
    try:
        import bpe_openai
    except ImportError:
        return "estimated as characters / 4 (bpe-openai is not installed)", {"tokens (chars/4)": lambda t: round(len(t) / 4)}
    encodings = {name: bpe_openai.get_encoding(name) for name in ("o200k_base", "cl100k_base")}
    return (
        "counted with bpe-openai's o200k_base and cl100k_base",
        {f"tokens {name}": (lambda text, e=encoding: len(e.encode(text))) for name, encoding in encodings.items()},
    )


def fill(emulator: StripeEmulator) -> None:
    store = emulator.store
    for index in range(100):
        store.add(
            "customers",
            {
                "email": f"customer{index:03d}@example.com",
                "name": f"Customer {index:03d}",
                "phone": "+15550100",
                "description": "Customer on the Premium plan since the spring campaign",
                "address": {"line1": f"{index} Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"},
                "metadata": {"crm_id": f"crm-{index:05d}", "segment": "smb"},
            },
        )


async def seed_subscriptions(session: ClientSession) -> None:
    customers = (await session.call_tool("list_customers", {"limit": 10, "fields": ["id"]})).structured_content["data"]
    prices = []
    for name in ("Basic", "Premium", "Enterprise"):
        product = (await session.call_tool("create_product", {"name": name})).structured_content
        price = await session.call_tool(
            "create_price", {"product_id": product["id"], "amount": 1000, "currency": "usd", "interval": "month"}
        )
        prices.append(price.structured_content["id"])
    for index, customer in enumerate(customers):
        await session.call_tool("create_subscription", {"customer_id": customer["id"], "price_id": prices[index % 3]})


def listing_text(result: Any, compact: bool) -> str:
    data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return json.dumps(data, separators=(",", ":") if compact else None, ensure_ascii=False)


async def measure(base: str, workdir: str, fill_with_subscriptions: bool) -> list[tuple[str, str]]:
    config = Path(workdir, "config.json")
    config.write_text(
        json.dumps(
            {
                "credentials": {"auth_type": "api_key", "api_key": API_KEY},
                "api_base": base,
                "requests_per_second": 1000,
                "endpoint_requests_per_second": 1000,
            }
        )
    )
    texts: list[tuple[str, str]] = []
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    for flags in ([], ["--accounts", "all"], ["--full-schemas"]):
        params = StdioServerParameters(command=str(BIN / "stripe-connection"), args=["mcp", "--config", str(config), *flags], env=env)
        with open(os.devnull, "w") as devnull:
            async with stdio_client(params, errlog=devnull) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                label = {
                    (): "default",
                    ("--accounts", "all"): "with --accounts (account on every tool that reaches Stripe)",
                    ("--full-schemas",): "full schemas",
                }[tuple(flags)]
                listed = await session.list_tools()
                texts.append((f"tools/list, {label} ({len(listed.tools)} tools)", listing_text(listed, compact=False)))
                texts.append((f"tools/list, {label}, compact JSON", listing_text(listed, compact=True)))
                if not flags:
                    if fill_with_subscriptions:
                        await seed_subscriptions(session)
                    texts += await typical_results(session)
    return texts


async def typical_results(session: ClientSession) -> list[tuple[str, str]]:
    one = (await session.call_tool("list_customers", {"limit": 1})).structured_content["data"][0]["id"]
    calls = [
        ("list_customers limit=100 (compact, the default)", "list_customers", {"limit": 100}),
        ('list_customers limit=100 fields=["*"] (whole objects)', "list_customers", {"limit": 100, "fields": ["*"]}),
        ('list_customers limit=100 fields=["email"]', "list_customers", {"limit": 100, "fields": ["email"]}),
        ("get_customer (whole, the default)", "get_customer", {"customer_id": one}),
        ("list_subscriptions limit=10 (compact)", "list_subscriptions", {"limit": 10}),
        ('list_subscriptions limit=10 fields=["*"]', "list_subscriptions", {"limit": 10, "fields": ["*"]}),
        ("list_prices (compact)", "list_prices", {}),
        (
            "stripe_describe entity=subscription action=create (the full schema)",
            "stripe_describe",
            {"entity": "subscription", "action": "create"},
        ),
    ]
    texts = []
    for label, tool, arguments in calls:
        result = await session.call_tool(tool, arguments)
        assert not result.is_error, result.content[0].text[:300]
        texts.append((label, result.content[0].text))
    return texts


def report(texts: list[tuple[str, str]], how: str, count: dict[str, Callable[[str], int]]) -> str:
    head = "| what | characters | " + " | ".join(count) + " |"
    lines = [
        "# What the MCP server costs an agent in context (benchmarks/mcp_tokens.py)",
        "",
        (
            f"`stripe-connection mcp` over stdio against the loopback emulator: 100 customers, 3 products and prices, "
            f"10 subscriptions. Tokens {how}. Exact counts for this data, not timings. "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}."
        ),
        "",
        head,
        "|---|---|" + "---|" * len(count),
    ]
    for label, text in texts:
        lines.append(f"| {label} | {len(text):,} | " + " | ".join(f"{fn(text):,}" for fn in count.values()) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    how, count = counters()
    with StripeEmulator(api_key=API_KEY, seed=23) as emulator, tempfile.TemporaryDirectory(prefix="mcp-tokens-") as workdir:
        fill(emulator)
        texts = asyncio.run(measure(emulator.url, workdir, fill_with_subscriptions=True))
    text = report(texts, how, count)
    (HERE / "results-mcp-tokens.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
