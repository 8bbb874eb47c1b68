"""One client per connector process: the source and the destination keep theirs here."""

from __future__ import annotations

from collections.abc import Callable

from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.settings import ConnectionSettings


def reuse_client(
    current: StripeClient | None, settings: ConnectionSettings, make: Callable[[ConnectionSettings], StripeClient]
) -> StripeClient:
    """``current`` while the settings are the same (one request budget for the whole process),
    else a new client from ``make``, its secrets first handed to the CDK's log filter."""
    if current is not None and current.settings == settings:
        return current
    for secret in settings.secrets:
        add_to_secrets(secret)  # the CDK masks these in LOG messages
    return make(settings)
