"""What Stripe documents and the code relies on, in one place (docs.stripe.com).

Facts that Stripe's OpenAPI description carries (endpoints, parameters, enums) are
generated into ``data/generated/`` instead; these are the ones it does not say.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "2024-06-20"  # the version our generated files describe, sent as Stripe-Version

# Lists (docs.stripe.com/api/pagination)
MAX_PAGE_SIZE = 100  # the largest `limit`
STRIPE_EPOCH = 1_262_304_000  # 2010-01-01: no Stripe object is older

# Rate limits (docs.stripe.com/rate-limits)
TEST_MODE_REQUESTS_PER_SECOND = 25.0
LIVE_MODE_REQUESTS_PER_SECOND = 100.0
ENDPOINT_REQUESTS_PER_SECOND = 25.0  # default per endpoint: one API operation of one account
SEARCH_REQUESTS_PER_SECOND = 20.0  # every Search API endpoint

# Events (docs.stripe.com/api/events)
EVENT_RETENTION_DAYS = 30
MAX_EVENT_TYPES = 20  # GET /v1/events takes at most 20 `types[]`

# Metadata and strings (docs.stripe.com/metadata)
METADATA_KEYS_MAX = 50
METADATA_KEY_MAX = 40  # characters; square brackets are not allowed
METADATA_VALUE_MAX = 500  # characters
STRING_MAX = 5000  # characters of a string parameter


def metadata_count_problem(count: int) -> str | None:
    """Why a metadata object with ``count`` keys is refused, or None. The three checks below are
    the only wording of Stripe's metadata limits: the actions and the destination both use it."""
    if count > METADATA_KEYS_MAX:
        return f"Stripe allows at most {METADATA_KEYS_MAX} metadata keys; this has {count}."
    return None


def metadata_key_problem(key: Any) -> str | None:
    """Why ``key`` is not a metadata key (the caller names the key as the parameter), or None."""
    if not isinstance(key, str) or not 0 < len(key) <= METADATA_KEY_MAX or "[" in key or "]" in key:
        return f"Metadata keys are 1 to {METADATA_KEY_MAX} characters without '[' or ']'."
    return None


def metadata_value_problem(value: Any) -> str | None:
    """Why a metadata value (as text) is refused, or None."""
    if isinstance(value, str) and len(value) > METADATA_VALUE_MAX:
        return f"Metadata values are at most {METADATA_VALUE_MAX} characters; this one has {len(value)}."
    return None


# Keys (docs.stripe.com/keys): secret and restricted keys can read data; publishable ones can't.
SECRET_KEY_PREFIXES = ("sk_", "rk_")
OTHER_KEY_KINDS = {"pk_": "a publishable key", "whsec_": "a webhook signing secret"}  # look like keys, can't call the API
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")

# Currencies (docs.stripe.com/currencies): amounts are in the smallest unit; most currencies
# have two decimals, these none or three.
ZERO_DECIMAL_CURRENCIES = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def currency_exponent(currency: str) -> int:
    """Decimals of a currency's major unit: 1000 usd is 10.00, 1000 jpy is 1000."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    return 3 if code in THREE_DECIMAL_CURRENCIES else 2


# Hosts (Stripe's OpenAPI description names them per operation): the API's, and the files host
# where uploads (create file) and downloads (a quote's PDF) live.
STRIPE_API_BASE = "https://api.stripe.com"
STRIPE_FILES_BASE = "https://files.stripe.com"
