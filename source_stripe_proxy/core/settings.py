"""Turn a user's config into validated connection settings.

Three connection modes, chosen by ``credentials.auth_type``:

* ``api_key``     -> ``{api_base}/v1/...`` with ``Authorization: Bearer <api_key>``
* ``paragon``     -> ``{proxy_host}/projects/{project_id}/sdk/proxy/{integration_type}/v1/...``
                     with ``Authorization: Bearer <user_token>``
* ``pinkconnect`` -> ``{proxy_url}/v1/...`` with ``Authorization: Bearer <token>`` plus
                     optional ``extra_headers``; any credential-injecting proxy fits here.

Every check raises ``ConfigError`` with a message that names the field and never its value.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import quote, urlsplit

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.redaction import scrub
from source_stripe_proxy.core.stripe_facts import (
    API_VERSION,
    ENDPOINT_REQUESTS_PER_SECOND,
    LIVE_KEY_PREFIXES,
    LIVE_MODE_REQUESTS_PER_SECOND,
    SECRET_KEY_PREFIXES,
    TEST_MODE_REQUESTS_PER_SECOND,
)

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_PARAGON_HOST = "https://proxy.useparagon.com"
DEFAULT_STRIPE_VERSION = API_VERSION
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 8
START_DATE_FUTURE_SLACK_SECONDS = 86_400  # time zones and clock skew: "today" is never refused
# Below this the budget would wait minutes (or, near zero, overflow time.sleep) between requests.
MIN_REQUESTS_PER_SECOND = 0.01
# An HTTP header name is an RFC 9110 token.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

PROXY_REQUESTS_PER_SECOND = TEST_MODE_REQUESTS_PER_SECOND  # we cannot tell the key's mode behind a proxy

AUTH_TYPES = ("api_key", "paragon", "pinkconnect")
# Headers the client sets itself; a proxy's extra_headers may not replace them.
RESERVED_HEADERS = {"authorization", "content-type", "idempotency-key", "stripe-account", "stripe-version"}


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the HTTP client needs; built only through ``from_config``."""

    mode: str
    base_url: str  # prefix to which "/v1/..." paths are appended
    auth_header: str = field(repr=False)
    extra_headers: Tuple[Tuple[str, str], ...] = field(default=(), repr=False)
    stripe_version: Optional[str] = DEFAULT_STRIPE_VERSION
    account_id: Optional[str] = None
    requests_per_second: float = TEST_MODE_REQUESTS_PER_SECOND
    endpoint_requests_per_second: float = ENDPOINT_REQUESTS_PER_SECOND
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    secrets: Tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ConnectionSettings":
        if not isinstance(config, Mapping):
            raise ConfigError("The config must be a JSON object.")
        credentials = config.get("credentials")
        if not isinstance(credentials, Mapping):
            raise ConfigError(
                "Missing 'credentials': set it to an object with 'auth_type' "
                "('api_key', 'paragon' or 'pinkconnect') and that mode's fields."
            )
        auth_type = credentials.get("auth_type", "api_key" if "api_key" in credentials else None)
        builder = _MODE_BUILDERS.get(auth_type) if isinstance(auth_type, str) else None
        if builder is None:
            raise ConfigError(f"Unknown 'credentials.auth_type': use one of {', '.join(AUTH_TYPES)}.")
        base_url, token, extra_headers, default_rate = builder(config, credentials)
        secrets = tuple(s for s in (token, *(v for _, v in extra_headers)) if s)
        return cls(
            mode=auth_type,
            base_url=base_url,
            auth_header=f"Bearer {token}",
            extra_headers=extra_headers,
            stripe_version=_header_safe(_optional_str(config, "stripe_version", DEFAULT_STRIPE_VERSION), "stripe_version"),
            account_id=_account_id(config.get("account_id")),
            requests_per_second=_positive_number(
                config, "requests_per_second", default_rate, maximum=10_000, minimum=MIN_REQUESTS_PER_SECOND
            ),
            endpoint_requests_per_second=_positive_number(
                config, "endpoint_requests_per_second", ENDPOINT_REQUESTS_PER_SECOND, maximum=10_000, minimum=MIN_REQUESTS_PER_SECOND
            ),
            timeout_seconds=_positive_number(config, "request_timeout_seconds", DEFAULT_TIMEOUT_SECONDS, maximum=600),
            max_retries=_whole_number(config, "max_retries", DEFAULT_MAX_RETRIES, maximum=50),
            secrets=secrets,
        )

    def headers(self) -> Dict[str, str]:
        headers = dict(self.extra_headers)
        headers["Authorization"] = self.auth_header
        if self.stripe_version:
            headers["Stripe-Version"] = self.stripe_version
        if self.account_id:
            headers["Stripe-Account"] = self.account_id
        return headers

    def scrub(self, text: str) -> str:
        """``text`` without this connection's secrets or anything key-shaped."""
        return scrub(text, self.secrets)


def _api_key_mode(config: Mapping[str, Any], credentials: Mapping[str, Any]):
    api_key = _required_str(credentials, "api_key", "credentials.api_key")
    if not api_key.startswith(SECRET_KEY_PREFIXES):
        raise ConfigError(
            "'credentials.api_key' must be a Stripe secret key (sk_...) or restricted key (rk_...); "
            "publishable keys (pk_...) cannot read data."
        )
    base_url = safe_base_url(config.get("api_base") or DEFAULT_API_BASE, "api_base")
    is_live = api_key.startswith(LIVE_KEY_PREFIXES)
    rate = LIVE_MODE_REQUESTS_PER_SECOND if is_live else TEST_MODE_REQUESTS_PER_SECOND
    return base_url, api_key, (), rate


def _paragon_mode(config: Mapping[str, Any], credentials: Mapping[str, Any]):
    project_id = _required_str(credentials, "project_id", "credentials.project_id")
    token = _required_str(credentials, "user_token", "credentials.user_token")
    host = safe_base_url(credentials.get("proxy_host") or DEFAULT_PARAGON_HOST, "credentials.proxy_host")
    integration = credentials.get("integration_type") or "stripe"
    if not isinstance(integration, str):
        raise ConfigError("'credentials.integration_type' must be a string such as 'stripe'.")
    base_url = f"{host}/projects/{quote(project_id, safe='')}/sdk/proxy/{quote(integration, safe='')}"
    return base_url, token, (), PROXY_REQUESTS_PER_SECOND


def _pinkconnect_mode(config: Mapping[str, Any], credentials: Mapping[str, Any]):
    proxy_url = safe_base_url(_required_str(credentials, "proxy_url", "credentials.proxy_url"), "credentials.proxy_url")
    token = _required_str(credentials, "token", "credentials.token")
    raw_headers = credentials.get("extra_headers") or {}
    if not isinstance(raw_headers, Mapping):
        raise ConfigError("'credentials.extra_headers' must be an object of header names to string values.")
    extra_headers = []
    for name, value in raw_headers.items():
        if not isinstance(name, str) or not name.strip() or not isinstance(value, str):
            raise ConfigError("'credentials.extra_headers' must map header names to string values.")
        if not _HEADER_NAME.match(name.strip()):
            raise ConfigError(
                "'credentials.extra_headers' has a header name that is not a valid HTTP header name "
                "(letters, digits and - only, no spaces or colons)."
            )
        if name.lower().strip() in RESERVED_HEADERS:
            raise ConfigError(f"'credentials.extra_headers' may not set '{name.strip()}': the connector sets it itself.")
        if not value.strip() or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConfigError(
                f"'credentials.extra_headers.{name.strip()}' must be a non-empty value without surrounding spaces, "
                "line breaks or control characters."
            )
        extra_headers.append((name.strip(), value))
    return proxy_url, token, tuple(extra_headers), PROXY_REQUESTS_PER_SECOND


_MODE_BUILDERS = {"api_key": _api_key_mode, "paragon": _paragon_mode, "pinkconnect": _pinkconnect_mode}


def safe_base_url(url: Any, field_name: str) -> str:
    """https everywhere; plain http only to a loopback address (tests, local emulators)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"'{field_name}' must be a URL such as https://api.stripe.com.")
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[", a netloc invalid under NFKC, ...
        raise ConfigError(f"'{field_name}' is not a valid URL; use one such as https://api.stripe.com.") from None
    try:
        parts.port  # noqa: B018 - urlsplit parses the port lazily and raises here
    except ValueError:
        raise ConfigError(f"'{field_name}' has an invalid port; use a URL such as https://api.stripe.com.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"'{field_name}' must be an absolute https:// URL.")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url.strip()):
        raise ConfigError(f"'{field_name}' must not contain spaces or control characters.")
    if parts.username or parts.password:
        raise ConfigError(f"'{field_name}' must not carry credentials; put them in the credentials fields.")
    if parts.query or parts.fragment or "?" in url or "#" in url:  # "https://x#" has an empty fragment
        raise ConfigError(f"'{field_name}' must not have a query string or fragment.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"'{field_name}' uses plain http to a non-loopback host; use https:// "
            "(plain http is only allowed to localhost for testing)."
        )
    return url.strip().rstrip("/")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _required_str(mapping: Mapping[str, Any], key: str, field_name: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"Missing '{field_name}': it must be a non-empty string.")
    if value != value.strip() or any(c in value for c in "\r\n"):
        raise ConfigError(f"'{field_name}' has surrounding spaces or line breaks; paste it again without them.")
    return value


def _optional_str(config: Mapping[str, Any], key: str, default: Optional[str]) -> Optional[str]:
    value = config.get(key, default)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be a string.")
    return value


def _header_safe(value: Optional[str], key: str) -> Optional[str]:
    """A value sent as an HTTP header: requests refuses control characters with an error that echoes it."""
    if value is not None and (value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ConfigError(f"'{key}' must not have surrounding spaces, line breaks or control characters.")
    return value


def _whole_number(config: Mapping[str, Any], key: str, default: int, *, maximum: int) -> int:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ConfigError(f"'{key}' must be a whole number from 0 to {maximum}.")
    return value


def _account_id(value: Any) -> Optional[str]:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"acct_[A-Za-z0-9]+", value):
        raise ConfigError("'account_id' must be a Stripe Connect account id: 'acct_' followed by letters and digits.")
    return value


def _positive_number(
    config: Mapping[str, Any], key: str, default: float, *, maximum: float, allow_zero: bool = False, minimum: float = 0.0
) -> float:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"'{key}' must be a number.")
    if value < 0 or (value == 0 and not allow_zero) or value > maximum:
        raise ConfigError(f"'{key}' must be {'at least 0' if allow_zero else 'above 0'} and at most {maximum}.")
    if 0 < value < minimum:
        raise ConfigError(f"'{key}' must be at least {minimum}.")
    return float(value)


def parse_start_date(value: Any, field_name: str = "start_date") -> Optional[int]:
    """ISO-8601 date or datetime -> epoch seconds (UTC when no offset is given)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"'{field_name}' must be an ISO-8601 date such as 2024-01-01T00:00:00Z.")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"'{field_name}' must be an ISO-8601 date such as 2024-01-01T00:00:00Z.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        epoch = int(parsed.timestamp())
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        raise ConfigError(f"'{field_name}' must be an ISO-8601 date such as 2024-01-01T00:00:00Z.") from None
    if epoch < 0:
        raise ConfigError(f"'{field_name}' must be after 1970-01-01.")
    if epoch > time.time() + START_DATE_FUTURE_SLACK_SECONDS:
        # Nothing would ever be read, and nothing would say so.
        raise ConfigError(f"'{field_name}' is in the future; set it to a past date or leave it empty to read everything.")
    return epoch
