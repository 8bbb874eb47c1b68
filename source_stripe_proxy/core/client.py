"""The one HTTP client. The source, the destination and the actions all call Stripe here.

It owns: the connection mode's URL and auth header, Stripe's form encoding, the request
budgets (one for the process, one per Stripe endpoint), retries (429, 5xx, network errors, truncated bodies; honouring
``Retry-After`` and ``Stripe-Should-Retry``), and turning error bodies into typed errors.

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

import email.utils
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

import orjson
import requests
from requests.adapters import HTTPAdapter

from source_stripe_proxy import __version__
from source_stripe_proxy.core.budget import RequestBudget
from source_stripe_proxy.core.endpoints import STRIPE_ENDPOINT_LIMITS, endpoint_template
from source_stripe_proxy.core.errors import ConfigError, StripeAPIError, TransientError, error_class_for
from source_stripe_proxy.core.forms import encode_form
from source_stripe_proxy.core.meter import RequestMeter
from source_stripe_proxy.core.paging import next_cursor, page_objects
from source_stripe_proxy.core.settings import ConnectionSettings
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE

logger = logging.getLogger("airbyte.source_stripe_proxy")

RETRYABLE_STATUSES = {409, 429, 500, 502, 503, 504}  # 409: Stripe's lock_timeout conflicts
# Network failures worth another try; ChunkedEncodingError is a connection cut mid-body.
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
_PROXY_NAMES = {"paragon": "Paragon proxy", "pinkconnect": "PinkConnect proxy", "api_key": "Stripe"}
_TOKEN_FIELDS = {"paragon": "credentials.user_token", "pinkconnect": "credentials.token", "api_key": "credentials.api_key"}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    attempts: int = 1  # >1: this call was retried (a replay may then be our own lost response)

    @property
    def idempotent_replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed", "").lower() == "true"


class StripeClient:
    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        budget: Optional[RequestBudget] = None,
        session: Optional[requests.Session] = None,
        backoff_base_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
        endpoint_limits: Mapping[Tuple[str, str], float] = STRIPE_ENDPOINT_LIMITS,
        call_deadline_seconds: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        log: Optional[logging.Logger] = None,
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
        self._endpoint_budgets: Dict[Tuple[str, str, Optional[str]], RequestBudget] = {}
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
        self._stripe_clock: Optional[Tuple[float, float]] = None  # (Stripe's time by its last Date header, our monotonic then)
        self._per_thread = threading.local()

    # -- public API -------------------------------------------------------------------

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Any:
        return self.send("GET", path, params=params, **kwargs).data

    def post(self, path: str, data: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Any:
        return self.send("POST", path, data=data, **kwargs).data

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.send("DELETE", path, **kwargs).data

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        data: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        account_id: Optional[str] = None,
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
        query = encode_form(params) if params else None
        endpoint = self._endpoint_budget(method, path, headers.get("Stripe-Account"))
        return self._send_with_retries(method, path, self.settings.base_url + path, query, body, headers, endpoint)

    def rate_for(self, method: str, path: str, account_id: Optional[str] = None) -> float:
        """Requests/s the endpoint of ``method path`` (on ``account_id``, else the config's
        account) can get now: the lower of the global and that endpoint's current rates."""
        endpoint = self._endpoint_budget(method, path, account_id or self.settings.account_id)
        return min(self.budget.rate, endpoint.rate)

    def list_pages(
        self,
        path: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        account_id: Optional[str] = None,
    ) -> Iterator[Mapping[str, Any]]:
        """Yield each list page, following ``starting_after`` until ``has_more`` is false."""
        query: Dict[str, Any] = dict(params or {})
        query["limit"] = page_size
        while True:
            page = self.send("GET", path, params=query, account_id=account_id).data
            objects = page_objects(page, path)
            yield page
            cursor = next_cursor(page, objects, query.get("starting_after"), path)
            if cursor is None:
                return
            query["starting_after"] = cursor

    def list_objects(self, path: str, params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
        for page in self.list_pages(path, params, **kwargs):
            yield from page["data"]

    # -- internals --------------------------------------------------------------------

    def _endpoint_budget(self, method: str, path: str, account: Optional[str]) -> RequestBudget:
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

    def _send_with_retries(self, method, path, url, query, body, headers, endpoint: RequestBudget) -> ApiResponse:
        attempt = 0
        call_started = self._clock()
        deadline = None if self.call_deadline_seconds is None else call_started + self.call_deadline_seconds
        while True:
            self._acquire(endpoint)
            sent_at = self.budget.now()  # a 429 speaks of the rate this request went out at
            self._count(method, path, headers.get("Stripe-Account"), retry=attempt > 0)
            reason = None  # Stripe-Rate-Limited-Reason of a 429
            timeout = self.settings.timeout_seconds
            if deadline is not None:  # one slow attempt must not outlive the whole call
                timeout = max(0.001, min(timeout, deadline - self._clock()))
            started = time.monotonic()
            try:
                response = self._session.request(method, url, params=query, data=body, headers=headers, timeout=timeout)
            except _TRANSPORT_ERRORS as exc:
                failure, status, retry_after, error = type(exc).__name__, None, None, None
            else:
                status = response.status_code
                self._log.debug("%s %s -> %s in %.3fs", method, path, status, time.monotonic() - started)
                if status < 400:
                    try:
                        data = orjson.loads(response.content)
                        self._note_stripe_time(response.headers.get("Date"))
                        self.budget.succeeded()
                        endpoint.succeeded()
                        elapsed = time.monotonic() - started
                        weight = 1.0 if self.request_count == 1 else 0.2  # the first answer replaces the guess
                        self.latency_seconds += weight * (elapsed - self.latency_seconds)
                        return ApiResponse(status, data, response.headers, attempts=attempt + 1)
                    except orjson.JSONDecodeError:
                        # A cut-off body is a transport fault; the request is safe to repeat.
                        # An HTML page with 200 is something in between (a proxy, a captive portal).
                        failure, retry_after, error = _unparsable_body(response), None, None
                else:
                    error = self._error_from(response, method, path)
                    if not _should_retry(response):
                        raise error
                    failure, retry_after = f"HTTP {status}", _retry_after_seconds(response)
                    reason = response.headers.get("Stripe-Rate-Limited-Reason")
                    if status == 429 and reason:
                        failure += f" ({reason[:40]})"
            attempt += 1
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            out_of_time = deadline is not None and self._clock() + delay >= deadline
            if attempt > self.settings.max_retries or out_of_time:
                if error is not None:
                    raise error
                spent = self._clock() - call_started
                why = (
                    f"gave up after {attempt} attempts in {spent:.1f} s (the call's deadline is "
                    f"{self.call_deadline_seconds:g} s)"
                    if out_of_time
                    else f"failed after {attempt} attempts"
                )
                raise TransientError(
                    f"{method} {path} {why} through {_PROXY_NAMES[self.settings.mode]}: "
                    f"{failure}. This usually heals; try again later."
                )
            self._log.info("%s %s: %s; retry %d/%d in %.2fs", method, path, failure, attempt, self.settings.max_retries, delay)
            if status == 429 and reason and reason.startswith("endpoint-"):
                endpoint.rate_limited(delay, sent_at)  # only this endpoint waits and settles lower
            elif status == 429:
                self.budget.rate_limited(delay, sent_at)  # every worker waits and the rate settles lower
            else:
                self._sleep(delay)

    def stripe_time_at(self, monotonic: float) -> Optional[float]:
        """What Stripe's clock read at our ``time.monotonic()`` value, from the ``Date`` of its
        last answer (whole seconds, so never later than it was); None before any answer had one."""
        with self._stats_lock:
            known = self._stripe_clock
        return None if known is None else known[0] + (monotonic - known[1])

    def _note_stripe_time(self, date: Optional[str]) -> None:
        try:
            stripe_time = email.utils.parsedate_to_datetime(date).timestamp() if date else None
        except (TypeError, ValueError, IndexError):
            stripe_time = None
        if stripe_time is not None:
            with self._stats_lock:
                self._stripe_clock = (stripe_time, time.monotonic())

    def _backoff(self, attempt: int) -> float:
        delay = min(MAX_BACKOFF_SECONDS, self._backoff_base * (2 ** (attempt - 1)))
        return delay * random.uniform(0.5, 1.0)

    def _count(self, method: str, path: str, account: Optional[str], retry: bool) -> None:
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
        mode = self.settings.mode
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
            )
        # Not Stripe-shaped: the proxy (or something in front of it) answered.
        proxy_name = _PROXY_NAMES[mode]
        proxy_text = self.settings.scrub(_short_text(body, response))
        if status == 401:
            message = _auth_message(mode, stripe_side=False)
        elif status in (403, 404) and mode != "api_key":
            message = (
                f"The {proxy_name} answered {status} for {where}: {proxy_text}. "
                "Check the proxy URL, project id and integration type in 'credentials'."
            )
        else:
            message = f"{proxy_name} answered {status} for {where}: {proxy_text}"
        cls = error_class_for(status, None)
        failure_type = ConfigError.failure_type_default if (status in (403, 404) and mode != "api_key") else None
        return cls(
            message,
            http_status=status,
            error_type="proxy_error" if mode != "api_key" else "api_error",
            stripe_message=proxy_text,
            request_id=request_id,
            source=mode,
            failure_type=failure_type,
        )


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # no proxy env vars or .netrc credentials sneaking in
    return session


def _should_retry(response: requests.Response) -> bool:
    hint = response.headers.get("Stripe-Should-Retry")
    if hint == "false":
        return False
    if hint == "true":
        return True
    return response.status_code in RETRYABLE_STATUSES


def _retry_after_seconds(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_SECONDS, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date; our own backoff is good enough


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


def _auth_message(mode: str, *, stripe_side: bool) -> str:
    if mode == "api_key":
        return (
            "Stripe rejected the API key (401). Check 'credentials.api_key': it must be an active secret key "
            "(sk_...) or restricted key (rk_...) of the account, not revoked or rolled."
        )
    proxy_name = _PROXY_NAMES[mode]
    if stripe_side:
        return (
            f"Stripe rejected the key that the {proxy_name} injected (401). "
            f"Reconnect the Stripe account in the {proxy_name.split()[0]} dashboard."
        )
    return (
        f"The {proxy_name} rejected '{_TOKEN_FIELDS[mode]}' (401): it is wrong or has expired. "
        "Issue a fresh token and update the config."
    )


__all__ = ["StripeClient", "ApiResponse", "ConfigError"]
