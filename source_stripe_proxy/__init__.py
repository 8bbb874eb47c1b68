"""source-stripe-proxy: an Airbyte source, destination and action tool for Stripe.

All three faces share one HTTP client (``source_stripe_proxy.client.StripeClient``),
which talks to Stripe directly or through the Paragon and PinkConnect proxies.
"""

__version__ = "0.1.0"

from source_stripe_proxy.source import SourceStripeProxy  # noqa: E402
from source_stripe_proxy.actions import StripeConnection  # noqa: E402
from source_stripe_proxy.destination import DestinationStripeProxy  # noqa: E402

__all__ = ["SourceStripeProxy", "DestinationStripeProxy", "StripeConnection", "__version__"]
