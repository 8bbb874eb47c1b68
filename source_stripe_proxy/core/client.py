"""The one HTTP client. The source, the destination and the actions all call Stripe here.

It owns: the connection mode's URL and auth header, Stripe's form encoding, the request
budgets (one for the process, one per Stripe endpoint), retries (429, 5xx, network errors, truncated bodies; honouring
``Retry-After`` and ``Stripe-Should-Retry``), and turning error bodies into typed errors.

A call is a loop of three steps: ``_attempt`` sends once and returns the answer or an
``Attempt`` saying what failed; ``retries.decide_retry`` (pure) says whether and when to go on;
``_wait`` sleeps, or slows the budget a 429 speaks for. ``send_call`` runs that loop for any
``OutgoingCall`` (a form POST, a multipart upload, a binary answer).

First contact: until the host has answered once, calls go one at a time, and a refused
connection, a name that does not resolve, no route or a failed TLS handshake ends the call at
once with ``HostUnreachable``, a config_error naming the setting and the host; the calls queued
behind it get the same error without a request. Timeouts and error answers keep their retries,
and once the host has answered, every connection error is retried as before.

Why not the CDK's ``HttpClient``? It is built around ``HttpStream`` and its caching;
we need idempotency keys, form bodies, typed Stripe errors and one budget shared by
three faces, so a small requests-based client is clearer.

Rate limits: Stripe limits the whole account (100 requests/s live, 25 in a sandbox) and,
separately, each endpoint (25/s by default), where an endpoint is one API operation of one
account: (method, path template, Stripe-Account). Every request first waits for a slot of
its endpoint's budget and only then takes a slot of the global budget, so a request queued
behind a busy endpoint never holds a global slot that another endpoint could use. A 429
whose ``Stripe-Rate-Limited-Reason`` is ``endpoint-...`` slows only that endpoint; any other
429 (``global-...``, ``resource-specific``, or none: a lock timeout) pauses everyone.

Deadline: the connectors retry for minutes (a sync can wait); an interactive caller (the
actions) passes ``call_deadline_seconds``, a total for one call across its attempts, backoff
sleeps and Retry-After waits, after which the call ends as a ``TransientError``.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from source_stripe_proxy import __version__
from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.endpoints import STRIPE_ENDPOINT_LIMITS, endpoint_template
from source_stripe_proxy.core.errors import (
    ConfigError,
    HostNotAnswering,
    HostUnreachable,
    StripeAPIError,
    StripeProxyError,
    TransientError,
    error_class_for,
    stripe_error_details,
)
from source_stripe_proxy.core.forms import FormPairs, encode_form
from source_stripe_proxy.core.meter import RequestMeter
from source_stripe_proxy.core.modes import ConnectionMode
from source_stripe_proxy.core.paging import next_cursor, page_objects
from source_stripe_proxy.core.retries import (
    Attempt,
    RetryDecision,
    backoff_seconds,
    decide_retry,
    pause_scope,
    retry_after_seconds,
    status_is_retryable,
    unreachable_cause,
)
from source_stripe_proxy.core.settings import ConnectionSettings, is_loopback_host
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE

logger = logging.getLogger("airbyte.source_stripe_proxy")

# Network failures worth another try; ChunkedEncodingError is a connection cut mid-body.
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    attempts: int = 1  # >1: this call was retried (a replay may then be our own lost response)

    @property
    def idempotent_replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed", "").lower() == "true"


class UnreadableBody(Exception):
    """A success status with a body that can't be decoded; the message says what it was."""


def json_body(response: requests.Response) -> Any:
    """The default decoder of a success answer: Stripe's JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UnreadableBody(_unparsable_body(response)) from None


def raw_body(response: requests.Response) -> bytes:
    """The decoder of a download: the answer's bytes as they came (an error answer is still
    read as Stripe's error first)."""
    return response.content


@dataclass(frozen=True)
class OutgoingCall:
    """One logical call, ready to be sent as many times as it takes. ``files`` (a multipart
    upload) and ``decode`` (e.g. a binary answer) let other kinds of calls share the retries."""

    method: str
    path: str  # "/v1/...", for logs, messages and the endpoint's budget
    url: str
    headers: Mapping[str, str]
    endpoint: RequestBudget
    query: str | FormPairs | None = None
    body: str | bytes | FormPairs | None = None  # form pairs: the fields beside a multipart upload's files
    files: Mapping[str, Any] | None = None
    decode: Callable[[requests.Response], Any] = json_body


class _FirstContact:
    """Until the host has answered once, one call at a time tries it (the others wait), so a
    host that can't be reached costs one request, not one per worker. A call that got no answer
    at all ends the wait of the calls queued behind it with its error; later calls try again."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.answered = False
        self._trying = False
        self._failure: StripeProxyError | None = None
        self._failures = 0

    def enter(self) -> bool:
        """Wait for a turn: True if this call goes first, False if the host has answered since."""
        with self._changed:
            failures = self._failures
            while self._trying and not self.answered:
                self._changed.wait()
            if self.answered:
                return False
            if self._failures != failures and self._failure is not None:
                raise copy.copy(self._failure)  # a copy: each caller's traceback is its own
            self._trying = True
            return True

    def heard(self) -> None:
        """An HTTP answer came (any status): the host is reachable."""
        if not self.answered:
            with self._changed:
                self.answered = True
                self._changed.notify_all()

    def leave(self, failure: BaseException | None) -> None:
        with self._changed:
            self._trying = False
            if isinstance(failure, (HostUnreachable, HostNotAnswering)) and not self.answered:
                self._failure, self._failures = failure, self._failures + 1
            self._changed.notify_all()


class StripeClient:
    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        budget: RequestBudget | None = None,
        session: requests.Session | None = None,
        backoff_base_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
        endpoint_limits: Mapping[tuple[str, str], float] = STRIPE_ENDPOINT_LIMITS,
        call_deadline_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
    ):
        """``endpoint_limits``: Stripe's stricter limits of some endpoints (Search: 20/s);
        tests against an emulator without them pass ``{}``.

        ``call_deadline_seconds``: total time one call may take, retries included (None: only
        ``max_retries`` bounds it). ``clock``: read for that deadline (tests pass a fake one with
        ``sleep``). ``log``: where retries are reported (the actions keep them off the connectors'
        Airbyte logger)."""
        self.settings = settings
        self.budget = budget or RequestBudget(settings.requests_per_second)  # global: the whole account
        # Per endpoint, created on first use; an endpoint can never go faster than the whole account.
        self._endpoint_rate = min(settings.endpoint_requests_per_second, self.budget.configured_rate)
        self._endpoint_limits = endpoint_limits
        self._endpoint_budgets: dict[tuple[str, str, str | None], RequestBudget] = {}
        self._endpoint_lock = threading.Lock()
        self._session = session or _new_session(pool_size)
        self._headers = {**settings.headers(), "User-Agent": f"source-stripe-proxy/{__version__}"}
        self._backoff_base = backoff_base_seconds
        self._sleep = sleep
        self._clock = clock
        self.call_deadline_seconds = call_deadline_seconds
        self._log = log or logger
        self._stats_lock = threading.Lock()
        self.request_count = 0
        self.retry_count = 0
        self.meter = RequestMeter()  # every request by endpoint and whom it served (core/meter.py)
        self.latency_seconds = 0.1  # moving average of successful requests, read by the reader
        self._stripe_clock: tuple[float, float] | None = None  # (Stripe's time by its last Date header, our monotonic then)
        self._per_thread = threading.local()
        self._contact = _FirstContact()

    # -- public API -------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.send("GET", path, params=params, **kwargs).data

    def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.send("POST", path, data=data, **kwargs).data

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.send("DELETE", path, **kwargs).data

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account_id: str | None = None,
    ) -> ApiResponse:
        """One logical call, retried as needed. ``path`` starts with ``/v1/``."""
        if not path.startswith("/v1/"):
            raise ValueError(f"Stripe paths start with /v1/, got {path!r}")
        headers = dict(self._headers)
        if account_id:
            headers["Stripe-Account"] = account_id
        body = None
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = encode_form(data or {})
            # A retried POST without a key could create twice; Stripe dedupes on this key.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        elif idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        endpoint = self._endpoint_budget(method, path, headers.get("Stripe-Account"))
        url = self.settings.base_url + path
        query = encode_form(params) if params else None
        return self.send_call(OutgoingCall(method, path, url, headers, endpoint, query=query, body=body))

    def send_to_host(
        self,
        method: str,
        path: str,
        host: str,
        *,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        idempotency_key: str | None = None,
        account_id: str | None = None,
    ) -> ApiResponse:
        """A call to another of Stripe's hosts (``https://files.stripe.com``): an upload
        (``files``: ``{field: (filename, bytes, media type)}``, sent multipart beside ``params``)
        or a download (a GET whose ``data`` is the answer's bytes), through ``send_call`` like
        any other. The mode says how the host is reached (``ConnectionMode.other_hosts``);
        ``cannot_reach`` says first whether it can be."""
        why = self.cannot_reach(host, upload=files is not None)
        if why:
            raise ConfigError(why)
        url, route_headers = self.settings.connection_mode.other_hosts.route(self.settings.base_url, host, path)
        headers = {**self._headers, **dict(route_headers)}
        if account_id:
            headers["Stripe-Account"] = account_id
        endpoint = self._endpoint_budget(method, path, headers.get("Stripe-Account"))
        if files is None:
            query = encode_form(params) if params else None
            return self.send_call(OutgoingCall(method, path, url, headers, endpoint, query=query, decode=raw_body))
        headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())  # requests writes the multipart Content-Type
        return self.send_call(OutgoingCall(method, path, url, headers, endpoint, body=encode_form(params or {}), files=files))

    def cannot_reach(self, host: str, *, upload: bool) -> str:
        """Why this connection mode cannot make a call (an upload) to ``host``, or "" if it can."""
        return self.settings.connection_mode.cannot_reach(host, upload=upload)

    def rate_for(self, method: str, path: str, account_id: str | None = None) -> float:
        """Requests/s the endpoint of ``method path`` (on ``account_id``, else the config's
        account) can get now: the lower of the global and that endpoint's current rates."""
        endpoint = self._endpoint_budget(method, path, account_id or self.settings.account_id)
        return min(self.budget.rate, endpoint.rate)

    def list_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        account_id: str | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """Yield each list page, following ``starting_after`` until ``has_more`` is false."""
        query: dict[str, Any] = dict(params or {})
        query["limit"] = page_size
        while True:
            page = self.send("GET", path, params=query, account_id=account_id).data
            objects = page_objects(page, path)
            yield page
            cursor = next_cursor(page, objects, query.get("starting_after"), path)
            if cursor is None:
                return
            query["starting_after"] = cursor

    def list_objects(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
        for page in self.list_pages(path, params, **kwargs):
            yield from page["data"]

    # -- internals --------------------------------------------------------------------

    def _endpoint_budget(self, method: str, path: str, account: str | None) -> RequestBudget:
        key = (method.upper(), endpoint_template(path), account)
        budget = self._endpoint_budgets.get(key)
        if budget is None:
            with self._endpoint_lock:
                budget = self._endpoint_budgets.get(key)
                if budget is None:
                    rate = min(self._endpoint_rate, self._endpoint_limits.get(key[:2], self._endpoint_rate))
                    budget = self._endpoint_budgets[key] = self.budget.sibling(rate)
        return budget

    def _acquire(self, endpoint: RequestBudget) -> None:
        endpoint.acquire()  # first the endpoint: waiting there holds no global slot
        if self.budget.acquire() > 1.0 / endpoint.rate:
            endpoint.went_out_late()  # held back globally: don't let the endpoint's backlog burst

    def send_call(self, call: OutgoingCall) -> ApiResponse:
        """``call`` sent until it succeeds or can't (``send`` builds the usual ones). Until the
        host has answered once, calls go one at a time (``_FirstContact``)."""
        if self._contact.answered or not self._contact.enter():
            return self._send_with_retries(call)
        failure: BaseException | None = None
        try:
            return self._send_with_retries(call)
        except BaseException as error:
            failure = error
            raise
        finally:
            self._contact.leave(failure)

    def _send_with_retries(self, call: OutgoingCall) -> ApiResponse:
        started = self._clock()
        deadline = None if self.call_deadline_seconds is None else started + self.call_deadline_seconds
        attempts = 0
        while True:
            outcome = self._attempt(call, attempts, deadline)
            attempts += 1
            if isinstance(outcome, ApiResponse):
                return replace(outcome, attempts=attempts) if attempts > 1 else outcome
            attempt = outcome
            time_left = None if deadline is None else deadline - self._clock()
            backoff = backoff_seconds(attempts, self._backoff_base, random.uniform(0.5, 1.0))
            decision = decide_retry(attempt, attempts, self.settings.max_retries, backoff, time_left)
            if not decision.retry:
                raise attempt.error or self._gave_up(call, attempt, decision, attempts, self._clock() - started)
            self._log.info(
                "%s %s: %s; retry %d/%d in %.2fs",
                call.method,
                call.path,
                attempt.failure,
                attempts,
                self.settings.max_retries,
                decision.delay,
            )
            self._wait(attempt, decision.delay, call.endpoint)

    def _attempt(self, call: OutgoingCall, retry: int, deadline: float | None) -> ApiResponse | Attempt:
        """Send ``call`` once (its ``retry``-th retry): its answer, or what failed instead."""
        self._acquire(call.endpoint)
        sent_at = self.budget.now()  # a 429 speaks of the rate this request went out at
        self._count(call.method, call.path, call.headers.get("Stripe-Account"), retry=retry > 0)
        timeout = self.settings.timeout_seconds
        if deadline is not None:  # one slow attempt must not outlive the whole call
            timeout = max(0.001, min(timeout, deadline - self._clock()))
        started = time.monotonic()
        try:
            response = self._session.request(
                call.method, call.url, params=call.query, data=call.body, files=call.files, headers=call.headers, timeout=timeout
            )
        except _TRANSPORT_ERRORS as exc:
            cause = None if self._contact.answered else unreachable_cause(exc)
            if cause is not None:  # no retry: it only hides a wrong setting
                return Attempt(type(exc).__name__, retryable=False, sent_at=sent_at, error=self._unreachable(cause))
            return Attempt(type(exc).__name__, retryable=True, sent_at=sent_at)
        self._contact.heard()
        elapsed = time.monotonic() - started
        self._log.debug("%s %s -> %s in %.3fs", call.method, call.path, response.status_code, elapsed)
        if response.status_code >= 400:
            return self._error_attempt(call, response, sent_at)
        try:
            data = call.decode(response)
        except UnreadableBody as unreadable:
            # A cut-off body is a transport fault; the request is safe to repeat.
            # An HTML page with 200 is something in between (a proxy, a captive portal).
            return Attempt(str(unreadable), retryable=True, status=response.status_code, sent_at=sent_at)
        self._note_stripe_time(response.headers.get("Date"))
        self._answered(call.endpoint, elapsed)
        return ApiResponse(response.status_code, data, response.headers)

    def _error_attempt(self, call: OutgoingCall, response: requests.Response, sent_at: float) -> Attempt:
        status = response.status_code
        reason = response.headers.get("Stripe-Rate-Limited-Reason")
        return Attempt(
            f"HTTP {status}" + (f" ({reason[:40]})" if status == 429 and reason else ""),
            retryable=status_is_retryable(status, response.headers.get("Stripe-Should-Retry")),
            status=status,
            retry_after=retry_after_seconds(response.headers),
            rate_limited=reason,
            sent_at=sent_at,
            error=self._error_from(response, call.method, call.path),
        )

    def _answered(self, endpoint: RequestBudget, elapsed: float) -> None:
        self.budget.succeeded()
        endpoint.succeeded()
        weight = 1.0 if self.request_count == 1 else 0.2  # the first answer replaces the guess
        self.latency_seconds += weight * (elapsed - self.latency_seconds)

    def stripe_time_at(self, monotonic: float) -> float | None:
        """What Stripe's clock read at our ``time.monotonic()`` value, from the ``Date`` of its
        last answer (whole seconds, so never later than it was); None before any answer had one."""
        with self._stats_lock:
            known = self._stripe_clock
        return None if known is None else known[0] + (monotonic - known[1])

    def _note_stripe_time(self, date: str | None) -> None:
        try:
            stripe_time = email.utils.parsedate_to_datetime(date).timestamp() if date else None
        except (TypeError, ValueError, IndexError):
            stripe_time = None
        if stripe_time is not None:
            with self._stats_lock:
                self._stripe_clock = (stripe_time, time.monotonic())

    def _wait(self, attempt: Attempt, delay: float, endpoint: RequestBudget) -> None:
        scope = pause_scope(attempt)
        if scope == "endpoint":
            endpoint.rate_limited(delay, attempt.sent_at)  # only this endpoint waits and settles lower
        elif scope == "account":
            self.budget.rate_limited(delay, attempt.sent_at)  # every worker waits and the rate settles lower
        else:
            self._sleep(delay)

    def _gave_up(self, call: OutgoingCall, attempt: Attempt, decision: RetryDecision, attempts: int, spent: float) -> TransientError:
        mode = self.settings.connection_mode
        if decision.out_of_time:
            why = f"gave up after {attempts} attempts in {spent:.1f} s (the call's deadline is {self.call_deadline_seconds:g} s)"
        else:
            why = f"failed after {attempts} attempts"
        message = f"{call.method} {call.path} {why} through {mode.answerer}: {attempt.failure}. "
        if attempt.status is None and not self._contact.answered:
            return HostNotAnswering(
                message + f"{self.settings.host} (set by '{mode.host_setting}') has not answered yet; "
                "check that setting if this persists, or try again later."
            )
        return TransientError(message + "This usually heals; try again later.")

    def _unreachable(self, cause: str) -> HostUnreachable:
        """The one error for a host that can't be reached: names the setting and the host, says why."""
        mode, host = self.settings.connection_mode, self.settings.host
        hostname = urlsplit(self.settings.base_url).hostname or ""
        variable = mode.env_variable_for(mode.host_setting)
        also = f" (or {variable}, for stripe-connection)" if variable else ""
        message = f"Can't connect to {host}, the host in '{mode.host_setting}': {cause}. Check '{mode.host_setting}'{also}."
        if is_loopback_host(hostname):
            message += (
                " In Docker, localhost is the container itself: run the connector with `docker run --network host` "
                "to reach a server on this machine."
            )
        return HostUnreachable(self.settings.scrub(message), setting=mode.host_setting, host=host, cause=cause)

    def _count(self, method: str, path: str, account: str | None, retry: bool) -> None:
        self.meter.count(method, path, account)
        with self._stats_lock:
            self.request_count += 1
            if retry:
                self.retry_count += 1
        self._per_thread.count = self.thread_request_count() + 1

    def thread_request_count(self) -> int:
        """Requests made by the calling thread: per-record costs when many threads write."""
        return getattr(self._per_thread, "count", 0)

    def _error_from(self, response: requests.Response, method: str, path: str) -> StripeAPIError:
        status = response.status_code
        body = _json_or_none(response)
        stripe_error = body.get("error") if isinstance(body, Mapping) else None
        request_id = response.headers.get("Request-Id")
        mode = self.settings.connection_mode
        where = f"{method} {path}"
        if isinstance(stripe_error, Mapping):
            fields = {k: stripe_error.get(k) for k in ("type", "code", "param", "message")}
            stripe_message = self.settings.scrub(str(fields["message"] or ""))
            if status == 401:
                message = _auth_message(mode, stripe_side=True)
            elif status == 403:
                message = (
                    f"Stripe denied {where} (403): the key lacks a permission for this resource. "
                    f"Grant it on the key in Stripe's dashboard, or deselect the stream. Stripe said: {stripe_message}"
                )
            else:
                detail = ", ".join(f"{k} {fields[k]}" for k in ("type", "code", "param") if fields[k])
                message = f"Stripe refused {where} ({status}{', ' + detail if detail else ''}): {stripe_message}"
            cls = error_class_for(status, fields["type"])
            return cls(
                message,
                http_status=status,
                error_type=fields["type"],
                code=fields["code"],
                param=fields["param"],
                stripe_message=stripe_message,
                request_id=request_id,
                details=stripe_error_details(stripe_error),
            )
        # Not Stripe-shaped: the proxy (or something in front of it) answered.
        answerer = mode.answerer_capitalized
        proxy_text = self.settings.scrub(_short_text(body, response))
        if status == 401:
            message = _auth_message(mode, stripe_side=False)
        elif status in (403, 404) and mode.is_proxy:
            message = (
                f"{answerer} answered {status} for {where}: {proxy_text}. "
                "Check the proxy URL, project id and integration type in 'credentials'."
            )
        else:
            message = f"{answerer} answered {status} for {where}: {proxy_text}"
        cls = error_class_for(status, None)
        failure_type = ConfigError.failure_type_default if (status in (403, 404) and mode.is_proxy) else None
        return cls(
            message,
            http_status=status,
            error_type="proxy_error" if mode.is_proxy else "api_error",
            stripe_message=proxy_text,
            request_id=request_id,
            source=mode.name,
            failure_type=failure_type,
        )


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # no proxy env vars or .netrc credentials sneaking in
    return session


def _unparsable_body(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type or response.content.lstrip()[:1] == b"<":
        return "an HTML page instead of JSON (something between us and Stripe answered)"
    return "an incomplete JSON body"


def _json_or_none(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _short_text(body: Any, response: requests.Response) -> str:
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:300]
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type:
        return "an HTML error page instead of JSON"
    text = response.text.strip()
    return (text[:300] or "an empty body") if "json" not in content_type else "a JSON body without a message"


def _auth_message(mode: ConnectionMode, *, stripe_side: bool) -> str:
    if not mode.is_proxy:
        return (
            f"Stripe rejected the API key (401). Check '{mode.token_field}': it must be an active secret key "
            "(sk_...) or restricted key (rk_...) of the account, not revoked or rolled."
        )
    if stripe_side:
        return f"Stripe rejected the key that {mode.answerer} injected (401). Reconnect the Stripe account in the {mode.vendor} dashboard."
    return (
        f"{mode.answerer_capitalized} rejected '{mode.token_field}' (401): it is wrong or has expired. "
        "Issue a fresh token and update the config."
    )


__all__ = ["ApiResponse", "ConfigError", "StripeClient"]
