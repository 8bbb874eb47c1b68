"""Loopback emulators for integration tests, benchmarks and demos.

StripeEmulator       Stripe's REST API (2024-06-20) for customers, products, prices,
                     plans, subscriptions, balance transactions, events, search, accounts,
                     billing objects read-only (billing.py: invoices, charges, ...),
                     payment intents paid with Stripe's test cards (payments.py)
ParagonEmulator      Paragon's SDK proxy in front of an upstream Stripe
PinkConnectEmulator  PinkConnect's proxy in front of an upstream Stripe
FaultInjector        scripted or random faults, shared by all three servers

with StripeEmulator() as stripe, ParagonEmulator(stripe.url, stripe.api_key) as paragon:
    requests.get(f"{paragon.base_url()}/v1/customers",
                 headers={"Authorization": "Bearer paragon-user-token"})
"""

from .faults import KINDS as FAULT_KINDS
from .faults import FaultInjector
from .proxies import ParagonEmulator, PinkConnectEmulator
from .server import StripeEmulator

__all__ = ["FAULT_KINDS", "FaultInjector", "ParagonEmulator", "PinkConnectEmulator", "StripeEmulator"]
