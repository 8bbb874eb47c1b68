"""When the client tries again, and after how long: pure decisions, apart from sending and sleeping.

The client (``core/client.py``) sends one attempt, describes what came back as an ``Attempt``,
asks ``decide_retry`` whether and when to go on, and then waits as ``pause_scope`` says.
Nothing here sends, sleeps or reads a clock.

What is retried: 409 (Stripe's lock timeouts), 429, 5xx, connection errors, timeouts and cut-off
bodies, unless Stripe says otherwise with ``Stripe-Should-Retry``
(docs.stripe.com/error-low-level#idempotency). A server's ``Retry-After`` replaces the
exponential backoff. What is not: a connection the host refused, a name that does not resolve,
no route to the host, or a failed TLS handshake, before the host has ever answered
(``unreachable_cause``): retrying those for minutes only hides a wrong setting.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})  # 409: Stripe's lock_timeout conflicts
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH}


@dataclass(frozen=True)
class Attempt:
    """What one attempt that brought no usable answer came back with."""

    failure: str  # why, in a few words: "HTTP 503", "ConnectionError", "an incomplete JSON body"
    retryable: bool
    status: int | None = None  # the HTTP status, when there was an answer
    retry_after: float | None = None  # seconds the server asked us to wait
    rate_limited: str | None = None  # Stripe-Rate-Limited-Reason of a 429
    sent_at: float = 0.0  # the budget's clock when it went out (a 429 speaks of that rate)
    error: Exception | None = None  # raised if no retry follows (an error answer, an unreachable host)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float = 0.0  # seconds to wait before the next attempt
    out_of_time: bool = False  # the call's deadline came before the next attempt could


def decide_retry(attempt: Attempt, attempts_made: int, max_retries: int, backoff: float, time_left: float | None = None) -> RetryDecision:
    """Whether a call goes on after its ``attempts_made``-th attempt failed as ``attempt`` says.

    ``backoff``: this retry's exponential delay (``backoff_seconds``), used unless the server
    said how long to wait. ``time_left``: seconds to the call's deadline (None: no deadline)."""
    if not attempt.retryable:
        return RetryDecision(False)
    delay = attempt.retry_after if attempt.retry_after is not None else backoff
    out_of_time = time_left is not None and delay >= time_left
    return RetryDecision(not out_of_time and attempts_made <= max_retries, delay, out_of_time)


def backoff_seconds(retry: int, base: float, jitter: float) -> float:
    """The exponential delay before retry number ``retry`` (1, 2, ...); ``jitter`` in [0.5, 1]
    spreads callers that failed together."""
    return min(MAX_BACKOFF_SECONDS, base * (2 ** (retry - 1))) * jitter


def status_is_retryable(status: int, should_retry: str | None) -> bool:
    """An error answer's status and its ``Stripe-Should-Retry`` header, which wins when present."""
    if should_retry == "false":
        return False
    if should_retry == "true":
        return True
    return status in RETRYABLE_STATUSES


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds, capped; None when absent or an HTTP date (our backoff will do)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_SECONDS, max(0.0, float(value)))
    except ValueError:
        return None


def pause_scope(attempt: Attempt) -> str:
    """Who waits before the retry: "endpoint" (a 429 for this endpoint only: it slows alone),
    "account" (any other 429: every request of the account), or "call" (only this call)."""
    if attempt.status != 429:
        return "call"
    return "endpoint" if (attempt.rate_limited or "").startswith("endpoint-") else "account"


def unreachable_cause(error: BaseException) -> str | None:
    """Why a connection could not be made, in a few words, when retrying won't help: refused,
    no such host, no route, or a TLS failure. None for anything else (timeouts, resets, ...)."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate was not accepted ({cause.verify_message or cause.reason})"
        if isinstance(cause, ssl.SSLError):
            if cause.reason == "WRONG_VERSION_NUMBER":
                return "the TLS handshake failed: the server does not speak TLS there (is it plain http://?)"
            return f"the TLS handshake failed ({cause.reason or type(cause).__name__})"
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "its name does not resolve (DNS)"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused (nothing listens on that port)"
        if isinstance(cause, OSError) and cause.errno in _NO_ROUTE:
            return "no network route leads to it"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: causes, contexts, urllib3's ``reason``, exceptions in ``args``."""
    seen, pending = set(), [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        linked = [current.__cause__, current.__context__, reason, *current.args]
        pending.extend(e for e in linked if isinstance(e, BaseException))
