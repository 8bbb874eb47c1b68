"""source-stripe-proxy: an Airbyte source, destination and action tool for Stripe.

All faces share one HTTP client (``source_stripe_proxy.core.client.StripeClient``), which
talks to Stripe directly or through the Paragon and PinkConnect proxies. The public names
load lazily, so ``import source_stripe_proxy.actions`` never pays for the Airbyte CDK.

    core/         the client and what it needs; never imports Airbyte
    data/         files generated from Stripe's OpenAPI description, and their loader
    source/       the Airbyte source
    destination/  the Airbyte destination
    actions/      the seed's calls: table, dispatcher (StripeConnection) and CLI
    airbyte/      the glue to the CDK: traced errors, entry points, CDK hooks
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "SourceStripeProxy": "source_stripe_proxy.source.connector",
    "DestinationStripeProxy": "source_stripe_proxy.destination.connector",
    "StripeConnection": "source_stripe_proxy.actions.connection",
}

__all__ = [*_PUBLIC, "__version__"]  # noqa: PLE0604 - the lazy exports' names come from the one table above


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list:
    return sorted(__all__)
