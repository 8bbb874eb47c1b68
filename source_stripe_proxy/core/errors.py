"""Typed errors shared by the source, the destination and the actions.

Plain exceptions: the core never imports Airbyte. Each carries a ``failure_type`` with
Airbyte's names and values, so the Airbyte glue (``airbyte/errors.py``) turns it into a
traced error at the connectors' boundary, and the actions report it as it is.

Messages are written by us and never contain config values: the CDK only masks secrets in
LOG messages, not in traces or connection statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class FailureType(str, Enum):
    """Airbyte's failure types, with the same names and values."""

    config_error = "config_error"  # the user must change the config or the key's permissions
    transient_error = "transient_error"  # usually heals: retry later
    system_error = "system_error"  # a bug, ours or the server's


class StripeProxyError(Exception):
    """Base class: a user-facing message plus a failure type."""

    failure_type_default = FailureType.system_error

    def __init__(self, message: str, *, failure_type: FailureType | None = None, internal_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.internal_message = internal_message or message
        self.failure_type = failure_type or self.failure_type_default

    def __str__(self) -> str:
        return self.message


class ConfigError(StripeProxyError):
    """The user must change the config (or the key's permissions) to fix this."""

    failure_type_default = FailureType.config_error


class TransientError(StripeProxyError):
    """Retries were exhausted on a failure that usually heals (429, 5xx, network)."""

    failure_type_default = FailureType.transient_error


class HostUnreachable(ConfigError):
    """The host has never answered and the connection failed in a way retrying won't fix: it was
    refused, the name does not resolve, no route leads there, or the TLS handshake failed.
    ``setting`` is the config field that names the host (``api_base``, ``credentials.proxy_url``...)."""

    def __init__(self, message: str, *, setting: str = "", host: str = "", cause: str = ""):
        super().__init__(message)
        self.setting = setting
        self.host = host
        self.cause = cause


class HostNotAnswering(TransientError):
    """Every attempt of a call failed without an HTTP answer (timeouts, resets), and the host
    has never answered this client."""


# Stripe's other error fields, kept as they are short and say what to do next: a declined card's
# reason and the objects it touched (by id: Stripe embeds the payment intent whole).
STRIPE_ERROR_DETAILS = (
    "decline_code",
    "advice_code",
    "network_decline_code",
    "doc_url",
    "charge",
    "payment_intent",
    "payment_method",
    "setup_intent",
    "source",
)


def stripe_error_details(error: Mapping[str, Any]) -> dict[str, str]:
    """The ``STRIPE_ERROR_DETAILS`` of Stripe's error body, an embedded object by its id."""
    details = {}
    for key in STRIPE_ERROR_DETAILS:
        value = error.get(key)
        if isinstance(value, Mapping):
            value = value.get("id")
        if isinstance(value, str) and value:
            details[key] = value
    return details


class StripeAPIError(StripeProxyError):
    """An error answer from Stripe (or a proxy), with Stripe's error fields.

    ``error_type``, ``code``, ``param`` and ``stripe_message`` come straight from Stripe's
    error body (https://docs.stripe.com/api/errors), and ``details`` its other short fields
    (``STRIPE_ERROR_DETAILS``). ``source`` says who answered: "stripe" when the body is
    Stripe-shaped, otherwise the proxy mode.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        stripe_message: str | None = None,
        request_id: str | None = None,
        source: str = "stripe",
        failure_type: FailureType | None = None,
        details: Mapping[str, str] | None = None,
    ):
        self.http_status = http_status
        self.details = dict(details or {})
        self.error_type = error_type
        self.code = code
        self.param = param
        self.stripe_message = stripe_message
        self.request_id = request_id
        self.source = source
        super().__init__(message, failure_type=failure_type or failure_type_for_status(http_status))

    def to_dict(self) -> Mapping[str, Any]:
        """Stripe's error object shape, for the actions' output and destination reports."""
        error: dict[str, Any] = {"type": self.error_type, "message": self.stripe_message or self.message}
        optional = (("code", self.code), ("param", self.param), ("request_id", self.request_id))
        error.update({key: value for key, value in optional if value is not None})
        error.update(self.details)
        error["http_status"] = self.http_status
        return {"error": error}


class AuthenticationError(StripeAPIError):
    """401: the key or token was rejected."""


class PermissionDeniedError(StripeAPIError):
    """403: the key is valid but lacks a permission (restricted keys, Connect)."""


class InvalidRequestError(StripeAPIError):
    """400/404/402/409: Stripe refused this particular request."""


class IdempotencyError(InvalidRequestError):
    """An Idempotency-Key was reused with different parameters."""


class RateLimitError(StripeAPIError):
    """429 after every retry was used."""


class APIServerError(StripeAPIError):
    """5xx after every retry was used."""


def fails_every_call(error: BaseException) -> bool:
    """True when any other request over the same connection would fail the same way: a rejected
    key or proxy token (401), or a host that can't be reached or has never answered."""
    return isinstance(error, (AuthenticationError, HostUnreachable, HostNotAnswering))


def failure_type_for_status(http_status: int) -> FailureType:
    if http_status in (401, 403):
        return FailureType.config_error
    if http_status == 429 or http_status >= 500:
        return FailureType.transient_error
    return FailureType.system_error


def error_class_for(http_status: int, error_type: str | None) -> type:
    if error_type == "idempotency_error":
        return IdempotencyError
    if http_status == 401:
        return AuthenticationError
    if http_status == 403:
        return PermissionDeniedError
    if http_status == 429:
        return RateLimitError
    if http_status >= 500:
        return APIServerError
    return InvalidRequestError
