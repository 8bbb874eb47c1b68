"""The client's retry decision (core/retries.py), pure: no request, no sleep, no clock."""

import errno
import socket
import ssl

import pytest
import requests

from source_stripe_proxy.core.retries import (
    MAX_BACKOFF_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    Attempt,
    backoff_seconds,
    decide_retry,
    pause_scope,
    retry_after_seconds,
    status_is_retryable,
    unreachable_cause,
)

FAILED = Attempt("HTTP 503", retryable=True, status=503)


def test_a_retryable_failure_is_retried_until_max_retries_then_not():
    assert decide_retry(FAILED, attempts_made=1, max_retries=2, backoff=0.7).retry
    assert decide_retry(FAILED, attempts_made=2, max_retries=2, backoff=0.7).retry
    last = decide_retry(FAILED, attempts_made=3, max_retries=2, backoff=0.7)
    assert not last.retry and not last.out_of_time


def test_a_failure_that_is_not_retryable_is_never_retried():
    refused = Attempt("HTTP 400", retryable=False, status=400)
    assert decide_retry(refused, attempts_made=1, max_retries=8, backoff=0.5).retry is False


def test_retry_after_replaces_the_backoff():
    assert decide_retry(Attempt("HTTP 429", True, 429, retry_after=3.0), 1, 8, backoff=0.5).delay == 3.0
    assert decide_retry(FAILED, 1, 8, backoff=0.5).delay == 0.5


def test_a_wait_that_would_pass_the_deadline_ends_the_call_as_out_of_time():
    decision = decide_retry(Attempt("HTTP 429", True, 429, retry_after=20.0), 1, 8, backoff=0.5, time_left=15.0)
    assert (decision.retry, decision.out_of_time) == (False, True)
    assert decide_retry(FAILED, 1, 8, backoff=2.0, time_left=2.5).retry
    assert decide_retry(FAILED, 1, 8, backoff=2.0, time_left=2.0).out_of_time  # a retry at the deadline is too late


def test_backoff_doubles_up_to_its_cap_and_jitter_only_shrinks_it():
    assert [backoff_seconds(n, 0.5, 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_seconds(30, 0.5, 1.0) == MAX_BACKOFF_SECONDS
    assert backoff_seconds(3, 0.5, 0.5) == 1.0


@pytest.mark.parametrize(
    "status, hint, expected",
    [
        (409, None, True),
        (429, None, True),
        (500, None, True),
        (503, None, True),
        (400, None, False),
        (404, None, False),
        (500, "false", False),
        (400, "true", True),
        (402, "false", False),
    ],
)
def test_stripe_should_retry_wins_over_the_status(status, hint, expected):
    assert status_is_retryable(status, hint) is expected


@pytest.mark.parametrize(
    "value, expected",
    [(None, None), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("600", MAX_RETRY_AFTER_SECONDS), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_retry_after_in_seconds_is_capped_and_a_date_is_ignored(value, expected):
    assert retry_after_seconds({} if value is None else {"Retry-After": value}) == expected


def test_an_endpoint_429_slows_the_endpoint_another_429_the_account_anything_else_the_call():
    assert pause_scope(Attempt("HTTP 429", True, 429, rate_limited="endpoint-rate")) == "endpoint"
    assert pause_scope(Attempt("HTTP 429", True, 429, rate_limited="global-rate")) == "account"
    assert pause_scope(Attempt("HTTP 429", True, 429)) == "account"
    assert pause_scope(FAILED) == "call"
    assert pause_scope(Attempt("ConnectionError", True)) == "call"


def _wrapped(cause):
    """``cause`` as requests raises it: a ConnectionError around urllib3's error around the OS error."""
    inner = OSError("urllib3 could not connect")
    inner.__cause__ = cause
    return requests.ConnectionError(inner)


def test_refused_unresolvable_no_route_and_tls_failures_are_unreachable():
    assert "refused" in unreachable_cause(_wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "refused")))
    assert "DNS" in unreachable_cause(_wrapped(socket.gaierror(socket.EAI_NONAME, "Name or service not known")))
    assert "route" in unreachable_cause(_wrapped(OSError(errno.EHOSTUNREACH, "No route to host")))
    wrong_version = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    wrong_version.reason = "WRONG_VERSION_NUMBER"
    assert "does not speak TLS" in unreachable_cause(requests.exceptions.SSLError(wrong_version))
    certificate = ssl.SSLCertVerificationError(1, "certificate verify failed")
    certificate.verify_message = "self-signed certificate"
    assert "self-signed certificate" in unreachable_cause(requests.exceptions.SSLError(certificate))


def test_timeouts_resets_and_bare_connection_errors_are_not_unreachable():
    assert unreachable_cause(requests.exceptions.ConnectTimeout(_wrapped(TimeoutError("timed out")))) is None
    assert unreachable_cause(_wrapped(ConnectionResetError(errno.ECONNRESET, "reset by peer"))) is None
    assert unreachable_cause(requests.ConnectionError("refused")) is None  # words are not a cause
    assert unreachable_cause(requests.exceptions.ChunkedEncodingError("cut")) is None


def test_a_cause_chain_that_loops_ends():
    first, second = OSError("a"), OSError("b")
    first.__context__, second.__context__ = second, first
    assert unreachable_cause(requests.ConnectionError(first)) is None
