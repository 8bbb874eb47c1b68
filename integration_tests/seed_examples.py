"""The seed's examples (../shared/seed/stripe-connection.txt), copied verbatim: each call in its
block form and its example response. Ids of the seed (cus_1234567890, prod_1234567890,
price_1234567890) are replaced by real ids at run time (``with_ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEED_IDS = ("cus_1234567890", "prod_1234567890", "price_1234567890")

# name -> (the call as the seed writes it, the seed's example response)
SEED_EXAMPLES: dict[str, tuple[str, Any]] = {
    "create customer": (
        """/your-stripe-connection
action: create
entity: customer
email: customer@example.com
name: John Doe
description: New customer for subscription service""",
        {
            "id": "cus_1234567890",
            "object": "customer",
            "email": "customer@example.com",
            "name": "John Doe",
            "description": "New customer for subscription service",
        },
    ),
    "update customer": (
        """/your-stripe-connection
action: update
entity: customer
customer_id: cus_1234567890
name: Jane Doe
description: Updated customer information""",
        {
            "id": "cus_1234567890",
            "object": "customer",
            "email": "customer@example.com",
            "name": "Jane Doe",
            "description": "Updated customer information",
        },
    ),
    "get customer": (
        """/your-stripe-connection
action: get
entity: customer
customer_id: cus_1234567890""",
        {
            "id": "cus_1234567890",
            "object": "customer",
            "email": "customer@example.com",
            "name": "Jane Doe",
            "description": "Updated customer information",
        },
    ),
    "list customers": (
        """/your-stripe-connection
action: list
entity: customers
limit: 10""",
        {
            "object": "list",
            "data": [
                {"id": "cus_1234567890", "object": "customer", "email": "customer1@example.com", "name": "Customer One"},
                {"id": "cus_0987654321", "object": "customer", "email": "customer2@example.com", "name": "Customer Two"},
            ],
        },
    ),
    "create subscription": (
        """/your-stripe-connection
action: create
entity: subscription
customer_id: cus_1234567890
price_id: price_1234567890
trial_period_days: 14""",
        {
            "id": "sub_1234567890",
            "object": "subscription",
            "customer": "cus_1234567890",
            "status": "active",
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_1234567890",
                        "object": "subscription_item",
                        "price": {"id": "price_1234567890", "object": "price", "product": "prod_1234567890"},
                    }
                ],
            },
        },
    ),
    "list subscriptions": (
        """/your-stripe-connection
action: list
entity: subscriptions
customer_id: cus_1234567890
status: active""",
        {
            "object": "list",
            "data": [
                {"id": "sub_1234567890", "object": "subscription", "customer": "cus_1234567890", "status": "active"},
                {"id": "sub_0987654321", "object": "subscription", "customer": "cus_0987654321", "status": "canceled"},
            ],
        },
    ),
    "create product": (
        """/your-stripe-connection
action: create
entity: product
name: Premium Plan
description: Access to all premium features
active: true""",
        {
            "id": "prod_1234567890",
            "object": "product",
            "name": "Premium Plan",
            "description": "Access to all premium features",
            "active": True,
        },
    ),
    "get product": (
        """/your-stripe-connection
action: get
entity: product
product_id: prod_1234567890""",
        {
            "id": "prod_1234567890",
            "object": "product",
            "name": "Premium Plan",
            "description": "Access to all premium features",
            "active": True,
        },
    ),
    "list products": (
        """/your-stripe-connection
action: list
entity: products
active: true
limit: 10""",
        {
            "object": "list",
            "data": [
                {
                    "id": "prod_1234567890",
                    "object": "product",
                    "name": "Premium Plan",
                    "description": "Access to all premium features",
                    "active": True,
                },
                {
                    "id": "prod_0987654321",
                    "object": "product",
                    "name": "Basic Plan",
                    "description": "Access to basic features",
                    "active": True,
                },
            ],
        },
    ),
    "list balance transactions": (
        """/your-stripe-connection
action: list
entity: balance_transactions
type: payment
limit: 10""",
        {
            "object": "list",
            "data": [
                {
                    "id": "txn_1234567890",
                    "object": "balance_transaction",
                    "amount": 10000,
                    "currency": "usd",
                    "description": "Payout",
                    "status": "available",
                    "type": "payment",
                },
                {
                    "id": "txn_0987654321",
                    "object": "balance_transaction",
                    "amount": -5000,
                    "currency": "usd",
                    "description": "Refund",
                    "status": "pending",
                    "type": "refund",
                },
            ],
        },
    ),
    "list plans": (
        """/your-stripe-connection
action: list
entity: plans
product_id: prod_1234567890
active: true""",
        {
            "object": "list",
            "data": [
                {
                    "id": "plan_1234567890",
                    "object": "plan",
                    "amount": 1000,
                    "currency": "usd",
                    "interval": "month",
                    "product": "prod_1234567890",
                    "active": True,
                },
                {
                    "id": "plan_0987654321",
                    "object": "plan",
                    "amount": 5000,
                    "currency": "usd",
                    "interval": "year",
                    "product": "prod_0987654321",
                    "active": True,
                },
            ],
        },
    ),
}


def with_ids(block: str, ids: Mapping[str, str]) -> str:
    for seed_id, real_id in ids.items():
        block = block.replace(seed_id, real_id)
    return block


def assert_same_shape(expected: Any, actual: Any, where: str = "$") -> None:
    """The seed's keys are all present, with the same `object` wherever the seed names one."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {type(actual).__name__}"
        missing = set(expected) - set(actual)
        assert not missing, f"{where}: keys {sorted(missing)} missing from {sorted(actual)}"
        if "object" in expected:
            assert actual["object"] == expected["object"], f"{where}.object"
        for key, value in expected.items():
            if isinstance(value, (dict, list)):
                assert_same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected:
        assert isinstance(actual, list) and actual, f"{where}: expected a non-empty list"
        for index, item in enumerate(actual):
            assert_same_shape(expected[0], item, f"{where}[{index}]")
