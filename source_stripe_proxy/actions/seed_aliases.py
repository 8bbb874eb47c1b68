"""The seed document's calls, as aliases on top of the actions generated from Stripe's spec.

The seed (``../shared/seed/stripe-connection.txt``) names some parameters its own way
(``customer_id``, ``price_id``, ``amount``, ``interval``...). Each name below is an alias of a
parameter of the generated action (``unit_tests/test_actions_catalog.py`` checks that every
target exists), so both spellings work and the seed's calls keep working unchanged. This is
the only hand-written part of the actions' table.

``SEED_CALLS``: (action, entity) -> {seed name: Stripe parameter}. A target may be nested,
in Stripe's form notation: ``items[0][price]`` is the price of the first subscription item.
The listed calls are also the seed's named tools (one per call) for agent platforms.
"""

from __future__ import annotations

from collections.abc import Mapping

_CUSTOMER = {"customer_id": "customer"}
_PRODUCT = {"product_id": "product"}

SEED_CALLS: Mapping[tuple[str, str], dict[str, str]] = {
    # The seed's examples.
    ("create", "customer"): {},
    ("update", "customer"): _CUSTOMER,  # the path's {customer}
    ("get", "customer"): _CUSTOMER,
    ("list", "customer"): {},
    ("create", "subscription"): {**_CUSTOMER, "price_id": "items[0][price]"},
    ("list", "subscription"): _CUSTOMER,  # the `customer` filter
    ("create", "product"): {},
    ("get", "product"): {"product_id": "id"},  # the path's {id}
    ("list", "product"): {},
    ("list", "balance_transaction"): {},  # `type` is Stripe's own name
    ("list", "plan"): _PRODUCT,
    # The calls the seed's entity list implies (its parameters: amount, currency, interval).
    ("update", "product"): {"product_id": "id"},
    ("get", "subscription"): {"subscription_id": "subscription_exposed_id"},
    ("create", "price"): {**_PRODUCT, "amount": "unit_amount", "interval": "recurring[interval]"},  # no interval: one-time
    ("get", "price"): {"price_id": "price"},
    ("list", "price"): {**_PRODUCT, "interval": "recurring[interval]"},
    ("create", "plan"): _PRODUCT,
}

# Fields the seed marks "(required)" where Stripe does not, by Stripe name; an alias of the
# field satisfies it (price_id fills items).
SEED_REQUIRED: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("create", "customer"): ("email", "name"),
    ("create", "subscription"): ("items",),
}

# The common optional parameters of each seed call, by Stripe name: those the seed lists for the
# call (its "Parameters" and examples: description, trial_period_days, status, active, limit,
# starting_after, type...) and those Stripe's API reference shows before "More parameters"
# (docs.stripe.com/api). The MCP server's slim tool schemas keep these beside the required
# parameters and the aliases; every other parameter is one stripe_describe away.
SEED_COMMON: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("create", "customer"): ("description", "phone", "address", "metadata", "payment_method"),
    ("update", "customer"): ("name", "email", "description", "phone", "address", "metadata"),
    ("get", "customer"): (),
    ("list", "customer"): ("email", "limit", "starting_after"),
    ("create", "subscription"): ("trial_period_days", "default_payment_method", "description", "metadata", "payment_behavior", "currency"),
    ("list", "subscription"): ("status", "price", "limit", "starting_after"),
    ("create", "product"): ("description", "active", "metadata", "tax_code", "id"),
    ("get", "product"): (),
    ("list", "product"): ("active", "limit", "starting_after"),
    ("list", "balance_transaction"): ("type", "payout", "limit", "starting_after"),
    ("list", "plan"): ("active", "limit", "starting_after"),
    ("update", "product"): ("name", "description", "active", "default_price", "metadata", "tax_code"),
    ("get", "subscription"): (),
    ("create", "price"): ("nickname", "active", "metadata", "tax_behavior", "product_data"),
    ("get", "price"): (),
    ("list", "price"): ("active", "currency", "type", "limit", "starting_after"),
    ("create", "plan"): ("amount", "nickname", "active", "metadata"),
}
