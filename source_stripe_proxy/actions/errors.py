"""The actions' errors, and the one mapping of any failure to an error object for a caller
(the CLI's stdout, a tool result): Stripe's own shape, ``{"error": {"type", "code", "param",
"message", ...}}``, whoever refused the call."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from source_stripe_proxy.core.errors import ConfigError, StripeAPIError, StripeProxyError, TransientError


class ActionInputError(ConfigError):
    """A call refused before any request: names the parameter and lists what is accepted."""

    def __init__(self, message: str, *, param: Optional[str] = None, accepted: Sequence[str] = ()):
        self.param = param
        self.accepted = tuple(accepted)
        super().__init__(message)

    def to_dict(self) -> Mapping[str, Any]:
        error: Dict[str, Any] = {"type": "invalid_request_error", "param": self.param, "message": self.message}
        if self.accepted:
            error["accepted"] = list(self.accepted)
        return {"error": error}


def refuse(param: Optional[str], message: str, accepted: Sequence[str] = ()) -> ActionInputError:
    return ActionInputError(message, param=param, accepted=accepted)


def error_to_dict(exc: BaseException) -> Mapping[str, Any]:
    """``{"error": {...}}`` for any failure of a call. ``type`` is Stripe's error type where
    Stripe (or a proxy) answered, else ``invalid_request_error`` (refused before sending),
    ``api_connection_error`` (no answer after every retry or by the deadline),
    ``connection_config_error`` (the connection's config) or ``api_error`` (anything else)."""
    if isinstance(exc, (ActionInputError, StripeAPIError)):
        return exc.to_dict()
    if isinstance(exc, TransientError):
        kind = "api_connection_error"
    elif isinstance(exc, ConfigError):
        kind = "connection_config_error"
    else:
        kind = "api_error"
    message = exc.message if isinstance(exc, StripeProxyError) else f"Unexpected {type(exc).__name__}: {exc}"
    return {"error": {"type": kind, "message": message}}
