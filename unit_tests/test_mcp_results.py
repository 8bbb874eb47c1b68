"""Tool results trimmed for a model: a list's objects in a compact view (ids, names, amounts,
statuses, times) unless the call picks ``fields``; ``["*"]`` for whole objects; a single object
whole. Objects come from the Stripe emulator's own rendering (every field Stripe returns), and
``execute`` stands in for the connection: no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mcp import Client

from source_stripe_proxy.actions.connection import PreparedCall
from source_stripe_proxy.actions.mcp_server import build_server
from source_stripe_proxy.actions.mcp_tools import NEXT_CURSOR, StripeTools, ToolCallError, to_json
from source_stripe_proxy.actions.tool_results import COMPACT_NOTE, compact, parse_fields, shape
from stripe_emulator.store import Store


class Answering:
    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, []  # type: ignore[var-annotated]

    def __call__(self, prepared: PreparedCall) -> Any:
        self.calls.append(prepared)
        return self.answer


@pytest.fixture(scope="module")
def account():
    store = Store("acct_1ResultsTEST", seed=7)
    product = store.add("products", {"name": "Premium", "description": "All features"})
    price = store.add("prices", {"currency": "usd", "unit_amount": 1000, "product": product["id"], "recurring": {"interval": "month"}})
    customers = [
        store.add(
            "customers",
            {
                "email": f"c{i}@example.com",
                "name": f"Customer {i}",
                "description": "Gold",
                "metadata": {"crm_id": f"crm-{i}"},
                "phone": "+15550100",
            },
        )
        for i in range(100)
    ]
    return store, product, price, customers


def listing(objects: list[Any], has_more: bool = False) -> dict:
    return {"object": "list", "url": "/v1/customers", "has_more": has_more, "data": objects}


def test_a_list_comes_back_compact_with_ids_names_amounts_statuses_and_times(account):
    _, _, _, customers = account
    tools = StripeTools(Answering(listing(customers, has_more=True)))
    result = tools.call("list_customers", {"limit": 100})
    first = result["data"][0]
    assert set(first) == {"id", "object", "email", "name", "description", "phone", "balance", "created"}
    assert first["email"] == customers[0]["email"] and first["created"] == customers[0]["created"]
    assert result["compact"] == COMPACT_NOTE and result[NEXT_CURSOR] == customers[-1]["id"]
    whole, slim = len(to_json(listing(customers))), len(tools.render(result))
    assert slim * 2 < whole  # the same 100 customers in well under half the characters


def test_embedded_objects_and_nested_lists_are_compact_too(account):
    _store, product, price, customers = account
    plan = {**price, "object": "plan", "amount": 1000}  # Stripe's legacy copy of the price
    item = {"id": "si_1ResultsITEM", "object": "subscription_item", "plan": plan, "price": price, "quantity": 2, "metadata": {}}
    subscription = {
        "id": "sub_1ResultsSUB",
        "object": "subscription",
        "customer": customers[0]["id"],
        "status": "active",
        "plan": plan,
        "invoice_settings": {"issuer": {"type": "self"}},
        "livemode": False,
        "current_period_end": 1_800_000_000,
        "collection_method": "charge_automatically",
        "metadata": {"a": "b"},
        "items": {"object": "list", "data": [item], "has_more": False, "url": "/v1/subscription_items"},
        "default_tax_rates": [],
        "discount": None,
    }
    view = compact(subscription)
    assert set(view) == {"id", "object", "customer", "status", "current_period_end", "items"}
    assert view["items"] == {"object": "list", "has_more": False, "data": view["items"]["data"]}  # no url
    (kept,) = view["items"]["data"]
    assert set(kept) == {"id", "object", "price", "quantity"}  # the legacy plan beside its price is left out
    assert kept["quantity"] == 2 and kept["price"]["unit_amount"] == 1000 and kept["price"]["product"] == product["id"]
    assert kept["price"]["recurring"] == {"interval": "month", "interval_count": 1}  # plain terms, one level deep
    assert "unit_amount_decimal" not in kept["price"] and "livemode" not in kept["price"]


def test_fields_pick_what_comes_back_and_star_brings_whole_objects(account):
    _, _, price, customers = account
    tools = StripeTools(Answering(listing(customers[:3])))
    picked = tools.call("list_customers", {"fields": ["email", "metadata"]})
    assert picked["data"] == [{"id": c["id"], "object": "customer", "email": c["email"], "metadata": c["metadata"]} for c in customers[:3]]
    assert "compact" not in picked and "unknown_fields" not in picked
    assert tools.call("list_customers", {"fields": ["*"]})["data"] == customers[:3]
    typo = tools.call("list_customers", {"fields": "emial,name"})  # text with commas works too
    assert typo["unknown_fields"] == ["emial"] and set(typo["data"][0]) == {"id", "object", "name"}

    tools = StripeTools(Answering(price))
    assert tools.call("get_price", {"price_id": price["id"]}) == price  # one object comes whole
    assert tools.call("get_price", {"price_id": price["id"], "fields": ["recurring.interval", "unit_amount"]}) == {
        "id": price["id"],
        "object": "price",
        "recurring": {"interval": "month"},
        "unit_amount": 1000,
    }


def test_stripe_call_takes_fields_for_any_action_and_named_writes_answer_whole(account):
    _, _, _, customers = account
    execute = Answering(customers[0])
    tools = StripeTools(execute)
    created = tools.call(
        "stripe_call", {"entity": "customer", "action": "create", "params": {"email": "a@example.com", "name": "A"}, "fields": ["email"]}
    )
    assert created == {"id": customers[0]["id"], "object": "customer", "email": customers[0]["email"]}
    assert "fields" not in execute.calls[0].body  # a tool argument, never sent to Stripe
    assert tools.call("create_customer", {"email": "a@example.com", "name": "A"}) == customers[0]
    with pytest.raises(ToolCallError) as caught:
        tools.call("create_customer", {"email": "a@example.com", "name": "A", "fields": ["email"]})
    assert caught.value.error["error"]["param"] == "fields"


@pytest.mark.parametrize("value", [[], "", [1], ["email", "bad name"], ["a[b]"], {"email": True}, ["f"] * 51])
def test_bad_fields_are_refused_by_name_before_anything_is_sent(value):
    execute = Answering(listing([]))
    with pytest.raises(ToolCallError) as caught:
        StripeTools(execute).call("list_customers", {"fields": value})
    error = caught.value.error["error"]
    assert error["param"] == "fields" and '["*"]' in error["message"]
    assert execute.calls == []


def test_fields_text_forms():
    assert parse_fields('["email", "address.city"]') == ["email", "address.city"]
    assert parse_fields(" email , name,email") == ["email", "name"]


def test_a_compact_list_is_still_cut_to_size_with_its_cursor(account):
    _, _, _, customers = account
    tools = StripeTools(Answering(listing(customers)), max_result_chars=4_000)
    text = tools.render(tools.call("list_customers", {"limit": 100}))
    cut = json.loads(text)
    assert len(text) <= 4_000 and cut["has_more"] is True and cut[NEXT_CURSOR] == cut["data"][-1]["id"]
    assert 5 < len(cut["data"]) < 100


def test_shape_leaves_what_it_cannot_trim_alone():
    assert shape({"object": "list", "data": [{"id": "cus_1"}]}, None) == {"object": "list", "data": [{"id": "cus_1"}]}
    assert shape({"deleted": True, "id": "cus_1", "object": "customer"}, None)["deleted"] is True


def test_through_the_sdk_a_list_is_compact_and_structured(account):
    _, _, _, customers = account
    server = build_server(StripeTools(Answering(listing(customers[:5]))), instructions="test")

    async def scenario():
        async with Client(server, mode="legacy") as client:
            return await client.call_tool("list_customers", {}), await client.call_tool("list_customers", {"fields": ["*"]})

    compacted, whole = asyncio.run(scenario())
    assert compacted.structured_content["compact"] == COMPACT_NOTE
    assert "metadata" not in compacted.structured_content["data"][0]
    assert whole.structured_content["data"] == customers[:5]
