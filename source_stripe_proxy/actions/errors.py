"""The actions' errors, and the one mapping of any failure to an error object for a caller
(the CLI's stdout, a tool result): Stripe's own shape, ``{"error": {"type", "code", "param",
"message", ...}}``, whoever refused the call.

What the caller can do next is data, a ``Hint`` ("describe this action", "credentials belong to
the connection", "a config file would do"), not words: each face words it its own way (the CLI
names ``stripe-connection describe``, the MCP server ``stripe_describe``; ``python_words``
names the Python API and is what ``str(error)`` reads) and Python callers read ``error.hint``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.core.errors import ConfigError, StripeAPIError, StripeProxyError, TransientError

DESCRIBE = "describe"  # what exists and what an action accepts: entity and action, when known
CREDENTIALS = "credentials"  # credentials belong to the connection's config, never to a call
CONFIG_FILE = "config_file"  # a config file would set up the connection instead


@dataclass(frozen=True)
class Hint:
    """What to do next: ``kind`` (DESCRIBE, CREDENTIALS, CONFIG_FILE), with the entity and
    action to describe where the kind is DESCRIBE."""

    kind: str
    entity: str | None = None
    action: str | None = None


Words = Callable[[Hint], str]  # a face's way of saying a hint: one or two sentences


def python_words(hint: Hint) -> str:
    if hint.kind == DESCRIBE:
        if hint.action:
            return f"describe_action({hint.action!r}, {hint.entity!r}) lists all its parameters."
        if hint.entity:
            return f"list_actions({hint.entity!r}) lists its actions."
        return "list_actions() lists them."
    if hint.kind == CREDENTIALS:
        return (
            "Credentials belong to the connection's config (StripeConnection(config), or --config and "
            "environment variables for the CLI), never to a call."
        )
    return "Or give StripeConnection a config."


def worded(message: str, hint: Hint | None, words: Words) -> str:
    return f"{message} {words(hint)}" if hint is not None else message


class ActionInputError(ConfigError):
    """A call refused before any request: names the parameter and lists what is accepted.
    ``base`` is the message without its hint; ``message`` adds the hint in Python's words."""

    def __init__(self, message: str, *, param: str | None = None, accepted: Sequence[str] = (), hint: Hint | None = None):
        self.param = param
        self.accepted = tuple(accepted)
        self.base, self.hint = message, hint
        super().__init__(worded(message, hint, python_words))

    def to_dict(self, words: Words = python_words) -> Mapping[str, Any]:
        error: dict[str, Any] = {"type": "invalid_request_error", "param": self.param, "message": worded(self.base, self.hint, words)}
        if self.accepted:
            error["accepted"] = list(self.accepted)
        return {"error": error}


class ConnectionConfigError(ConfigError):
    """No usable connection (nothing or too much configured), with what would set one up."""

    def __init__(self, message: str, *, hint: Hint | None = None):
        self.base, self.hint = message, hint
        super().__init__(worded(message, hint, python_words))


def refuse(param: str | None, message: str, accepted: Sequence[str] = (), hint: Hint | None = None) -> ActionInputError:
    return ActionInputError(message, param=param, accepted=accepted, hint=hint)


def error_to_dict(exc: BaseException, words: Words = python_words) -> Mapping[str, Any]:
    """``{"error": {...}}`` for any failure of a call. ``type`` is Stripe's error type where
    Stripe (or a proxy) answered, else ``invalid_request_error`` (refused before sending),
    ``api_connection_error`` (no answer after every retry or by the deadline),
    ``connection_config_error`` (the connection's config) or ``api_error`` (anything else).
    ``words`` says the hints the face's way."""
    if isinstance(exc, ActionInputError):
        return exc.to_dict(words)
    if isinstance(exc, StripeAPIError):
        return exc.to_dict()
    if isinstance(exc, TransientError):
        kind = "api_connection_error"
    elif isinstance(exc, ConfigError):
        kind = "connection_config_error"
    else:
        kind = "api_error"
    if isinstance(exc, ConnectionConfigError):
        message = worded(exc.base, exc.hint, words)
    else:
        message = exc.message if isinstance(exc, StripeProxyError) else f"Unexpected {type(exc).__name__}: {exc}"
    return {"error": {"type": kind, "message": message}}
