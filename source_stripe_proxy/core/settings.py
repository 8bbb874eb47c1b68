"""Turn a user's config into validated connection settings.

``credentials.auth_type`` picks the connection mode; what each mode sends where is its entry in
``core/modes.py``.

The connection fields (``CONNECTION_KEYS``) are declared alike in both connectors' specs; their
types, bounds and defaults are the spec's, enforced by ``core/config_rules.py``. This module adds
what JSON Schema cannot say (``CONNECTION_RULES``: URL and header safety, the key's shape) and
builds the settings. Every check raises ``ConfigError`` with a message that names the field and
never its value.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from source_stripe_proxy.core.config_rules import (
    SOURCE,
    CodeRule,
    ConfigRules,
    FieldError,
    connection_specification,
)
from source_stripe_proxy.core.modes import ConnectionMode, connection_mode, implied_auth_type
from source_stripe_proxy.core.redaction import scrub
from source_stripe_proxy.core.stripe_facts import OTHER_KEY_KINDS, SECRET_KEY_PREFIXES

# The config fields every face shares (source, destination, actions): the connection itself.
CONNECTION_KEYS = (
    "credentials",
    "account_id",
    "api_base",
    "stripe_version",
    "requests_per_second",
    "endpoint_requests_per_second",
    "request_timeout_seconds",
    "max_retries",
)
START_DATE_FUTURE_SLACK_SECONDS = 86_400  # time zones and clock skew: "today" is never refused
# An HTTP header name is an RFC 9110 token.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# Headers the client sets itself; a proxy's extra_headers may not replace them.
RESERVED_HEADERS = {"authorization", "content-type", "idempotency-key", "stripe-account", "stripe-version"}


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the HTTP client needs; built only through ``from_config`` / ``from_values``."""

    mode: str
    base_url: str  # prefix to which "/v1/..." paths are appended
    auth_header: str = field(repr=False)
    stripe_version: str | None
    account_id: str | None
    requests_per_second: float
    endpoint_requests_per_second: float
    timeout_seconds: float
    max_retries: int
    extra_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectionSettings:
        """The connection fields of a source, destination or actions config, validated."""
        return cls.from_values(connection_rules().validate(config, CONNECTION_KEYS))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ConnectionSettings:
        """From values ``ConfigRules.validate`` returned (checked, defaults filled in)."""
        credentials = values["credentials"]
        endpoint = connection_mode(credentials["auth_type"]).build(values, credentials)
        return cls(
            mode=credentials["auth_type"],
            base_url=endpoint.base_url,
            auth_header=f"Bearer {endpoint.token}",
            extra_headers=endpoint.extra_headers,
            stripe_version=values["stripe_version"],
            account_id=values["account_id"],
            requests_per_second=float(values["requests_per_second"] or endpoint.default_requests_per_second),
            endpoint_requests_per_second=float(values["endpoint_requests_per_second"]),
            timeout_seconds=float(values["request_timeout_seconds"]),
            max_retries=values["max_retries"],
            secrets=tuple(s for s in (endpoint.token, *(v for _, v in endpoint.extra_headers)) if s),
        )

    @property
    def connection_mode(self) -> ConnectionMode:
        return connection_mode(self.mode)

    @property
    def host(self) -> str:
        """The host (and port, if any) requests go to: what the mode's host setting names."""
        return urlsplit(self.base_url).netloc

    def headers(self) -> dict[str, str]:
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


# -- what JSON Schema cannot say about the connection fields ----------------------------------


def _pasted(value: str, field_name: str) -> str:
    """A credential sent in a header or a URL: a paste error must not reach requests (which echoes it)."""
    if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FieldError(field_name, "{field} has surrounding spaces, line breaks or control characters; paste it again without them.")
    return value


def _secret_key(value: str, field_name: str) -> str:
    """Only secret and restricted keys call the API; say what the value looks like, never what it is."""
    _pasted(value, field_name)
    if value.startswith(SECRET_KEY_PREFIXES):
        return value
    for prefix, kind in OTHER_KEY_KINDS.items():
        if value.startswith(prefix):
            raise FieldError(
                field_name,
                "{field} looks like " + f"{kind} ({prefix}...), which cannot call the API: "
                "use a secret key (sk_...) or a restricted key (rk_...).",
            )
    raise FieldError(
        field_name,
        "{field} is not a Stripe secret or restricted key: it must start with sk_ or rk_ (Dashboard > Developers > API keys).",
    )


def _pasted_url(value: str, field_name: str) -> str:
    return safe_base_url(_pasted(value, field_name), field_name)


def _header_safe(value: str, field_name: str) -> str:
    """A value sent as an HTTP header: requests refuses control characters with an error that echoes it."""
    if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FieldError(field_name, "{field} must not have surrounding spaces, line breaks or control characters.")
    return value


def _extra_headers(headers: Mapping[str, str], field_name: str) -> dict[str, str]:
    """Header names and values that requests will send as they are (names are not echoed either)."""
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise FieldError(
                field_name,
                "{field} has a header name that is not a valid HTTP header name (letters, digits and - only, no spaces or colons).",
            )
        if name.lower() in RESERVED_HEADERS:
            raise FieldError(field_name, "{field} may not set " + ", ".join(sorted(RESERVED_HEADERS)) + ": the connector sets them itself.")
        if not value.strip() or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise FieldError(field_name, "{field} has a value that is empty or has surrounding spaces, line breaks or control characters.")
    return dict(headers)


def safe_base_url(url: Any, field_name: str) -> str:
    """https everywhere; plain http only to a loopback address (tests, local emulators)."""
    if not isinstance(url, str) or not url.strip():
        raise FieldError(field_name, "{field} must be a URL such as https://api.stripe.com.")
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[", a netloc invalid under NFKC, ...
        raise FieldError(field_name, "{field} is not a valid URL; use one such as https://api.stripe.com.") from None
    try:
        parts.port  # noqa: B018 - urlsplit parses the port lazily and raises here
    except ValueError:
        raise FieldError(field_name, "{field} has an invalid port; use a URL such as https://api.stripe.com.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise FieldError(field_name, "{field} must be an absolute https:// URL.")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url.strip()):
        raise FieldError(field_name, "{field} must not contain spaces or control characters.")
    if parts.username or parts.password:
        raise FieldError(field_name, "{field} must not carry credentials; put them in the credentials fields.")
    if parts.query or parts.fragment or "?" in url or "#" in url:  # "https://x#" has an empty fragment
        raise FieldError(field_name, "{field} must not have a query string or fragment.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise FieldError(
            field_name,
            "{field} uses plain http to a non-loopback host; use https:// (plain http is only allowed to localhost for testing).",
        )
    return url.strip().rstrip("/")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


CONNECTION_RULES: Mapping[str, CodeRule] = {
    "credentials": CodeRule(expand=implied_auth_type),
    "credentials.api_key": CodeRule(check=_secret_key),
    "credentials.project_id": CodeRule(check=_pasted),
    "credentials.user_token": CodeRule(check=_pasted),
    "credentials.proxy_host": CodeRule(check=safe_base_url),
    "credentials.proxy_url": CodeRule(check=_pasted_url),
    "credentials.token": CodeRule(check=_pasted),
    "credentials.extra_headers": CodeRule(check=_extra_headers),
    "api_base": CodeRule(check=safe_base_url),
    "stripe_version": CodeRule(check=_header_safe),
}


@functools.cache
def connection_rules() -> ConfigRules:
    """The connection fields' rules (the source's spec declares them as the destination's does)."""
    return ConfigRules(connection_specification(SOURCE), CONNECTION_RULES)


def iso_epoch(text: str) -> int | None:
    """An ISO 8601 date or date-time as Unix seconds (UTC unless it says otherwise); None if it isn't one."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return int(parsed.timestamp())
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        return None


def parse_start_date(value: Any, field_name: str = "start_date") -> int | None:
    """ISO-8601 date or datetime -> epoch seconds (UTC when no offset is given)."""
    if value in (None, ""):
        return None
    epoch = iso_epoch(value) if isinstance(value, str) else None
    if epoch is None:
        raise FieldError(field_name, "{field} must be an ISO-8601 date such as 2024-01-01T00:00:00Z.")
    if epoch < 0:
        raise FieldError(field_name, "{field} must be after 1970-01-01.")
    if epoch > time.time() + START_DATE_FUTURE_SLACK_SECONDS:
        # Nothing would ever be read, and nothing would say so.
        raise FieldError(field_name, "{field} is in the future; set it to a past date or leave it empty to read everything.")
    return epoch
