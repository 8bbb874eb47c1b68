"""A host that can't be reached fails fast (issue 23 §1): a refused connection, a name that does
not resolve or a failed TLS handshake ends `check`, `read`, the destination's `check` and the
actions after one attempt, with one config_error naming the setting and the host. Timeouts and
5xx keep their retries; once the host has answered, connection errors are retried again.

Real sockets on loopback, every port handed out by the system. Counted: the client's attempts
and the connections or requests a server saw, never time.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from contextlib import contextmanager

import pytest

from integration_tests.harness import API_KEY, configured_catalog, run_connector
from source_stripe_proxy import DestinationStripeProxy, SourceStripeProxy
from source_stripe_proxy.actions.connection import StripeConnection
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import HostNotAnswering, HostUnreachable, TransientError
from source_stripe_proxy.core.settings import ConnectionSettings

UNRESOLVABLE = "https://stripe-proxy-check.invalid"  # RFC 6761: .invalid never resolves
LOG = logging.getLogger("test")


@contextmanager
def refusing_port():
    """A port bound but not listening: every connection to it is refused, and no one else gets it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class CountingServer:
    """Accepts connections and counts them; ``answer`` is what it writes to each (None: nothing,
    the connection stays silent until the client gives up)."""

    def __init__(self, answer):
        self.answer = answer
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._open = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            if self.answer is not None:
                try:
                    conn.recv(4096)
                    conn.sendall(self.answer)
                except OSError:
                    pass
                conn.close()

    def close(self):
        self._sock.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def plain_http_server():
    """Answers plain HTTP where the client expects TLS: the handshake fails."""
    server = CountingServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    yield server
    server.close()


@pytest.fixture
def silent_server():
    server = CountingServer(None)
    yield server
    server.close()


def api_key(base, **extra):
    return {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": base, **extra}


def paragon(host, **extra):
    return {
        "credentials": {"auth_type": "paragon", "project_id": "proj_1", "user_token": "paragon-SECRET-token", "proxy_host": host},
        **extra,
    }


def pinkconnect(url, **extra):
    return {"credentials": {"auth_type": "pinkconnect", "proxy_url": url, "token": "pink-SECRET-token"}, **extra}


def check_in_process(config):
    source = SourceStripeProxy()
    status = source.check(LOG, config)
    return status, source._client.request_count


def assert_named(message, setting, host):
    assert f"'{setting}'" in message and host in message, message
    assert "usually heals" not in message and "attempts" not in message
    assert "SECRET" not in message


def test_check_on_a_refused_port_fails_after_one_attempt_naming_api_base():
    with refusing_port() as port:
        status, attempts = check_in_process(api_key(f"http://127.0.0.1:{port}"))
    assert status.status.value == "FAILED" and attempts == 1
    assert_named(status.message, "api_base", f"127.0.0.1:{port}")
    assert "refused" in status.message and "--network host" in status.message  # loopback: the Docker hint


def test_check_on_an_unresolvable_proxy_host_fails_after_one_attempt_naming_proxy_host():
    status, attempts = check_in_process(paragon(UNRESOLVABLE))
    assert status.status.value == "FAILED" and attempts == 1
    assert_named(status.message, "credentials.proxy_host", "stripe-proxy-check.invalid")
    assert "does not resolve" in status.message and "--network host" not in status.message


def test_check_on_a_tls_failure_makes_one_connection_naming_proxy_url(plain_http_server):
    status, attempts = check_in_process(pinkconnect(f"https://127.0.0.1:{plain_http_server.port}/stripe"))
    assert status.status.value == "FAILED" and attempts == 1 and plain_http_server.connections == 1
    assert_named(status.message, "credentials.proxy_url", f"127.0.0.1:{plain_http_server.port}")
    assert "TLS" in status.message


def test_the_check_command_prints_one_short_failed_status_and_no_stream_list():
    with refusing_port() as port:
        result = run_connector("source", "check", api_key(f"http://127.0.0.1:{port}"))
    [status] = [m["connectionStatus"] for m in result.of_type("CONNECTION_STATUS")]
    assert status["status"] == "FAILED" and result.returncode == 0  # Airbyte: a failed check is a status, not a crash
    assert_named(status["message"], "api_base", str(port))
    assert len(status["message"]) < 500 and "customers" not in status["message"]


def test_read_on_a_refused_port_ends_with_one_config_error_and_no_retry():
    streams = ["customers", "charges", "invoices", "products", "prices", "subscriptions"]
    with refusing_port() as port:
        result = run_connector("source", "read", api_key(f"http://127.0.0.1:{port}"), configured_catalog(streams))
    assert result.returncode != 0 and not result.records and not result.states
    [error] = result.errors()
    assert error["failure_type"] == "config_error"
    assert_named(error["message"], "api_base", str(port))
    logged = " ".join(m["log"]["message"] for m in result.of_type("LOG"))
    requests, retries = map(int, re.search(r"Stripe requests: (\d+) \((\d+) of them retries\)", logged).groups())
    assert retries == 0 and 1 <= requests <= len(streams)  # was 9 attempts per stream


def test_the_destinations_check_fails_after_one_attempt_naming_the_setting():
    destination = DestinationStripeProxy()
    status = destination.check(LOG, pinkconnect(UNRESOLVABLE))
    assert status.status.value == "FAILED" and destination._client.request_count == 1
    assert_named(status.message, "credentials.proxy_url", "stripe-proxy-check.invalid")


def test_an_action_fails_after_one_attempt_with_the_clients_error():
    with refusing_port() as port:
        connection = StripeConnection.from_env({"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": f"http://127.0.0.1:{port}"})
        with pytest.raises(HostUnreachable) as raised:
            connection.run("list", "customers")
    assert connection.client.request_count == 1
    assert raised.value.setting == "api_base" and raised.value.host == f"127.0.0.1:{port}"
    assert raised.value.failure_type.value == "config_error" and "STRIPE_API_BASE" in raised.value.message


def test_calls_queued_behind_an_unreachable_first_contact_fail_without_a_request():
    """Workers that start together: one connection attempt, every one of them gets the error."""
    with refusing_port() as port:
        client = StripeClient(ConnectionSettings.from_config(api_key(f"http://127.0.0.1:{port}")))
        barrier, errors = threading.Barrier(8), []

        def call():
            barrier.wait()
            try:
                client.get("/v1/customers")
            except HostUnreachable as error:
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(errors) == 8 and client.retry_count == 0
    assert client.request_count < 8  # the calls queued behind the first one sent nothing


def test_a_silent_host_keeps_its_retries_and_says_it_has_not_answered(silent_server):
    config = api_key(f"http://127.0.0.1:{silent_server.port}", max_retries=2, request_timeout_seconds=0.2)
    client = StripeClient(ConnectionSettings.from_config(config), backoff_base_seconds=0.0)
    with pytest.raises(HostNotAnswering) as raised:
        client.get("/v1/customers")
    assert client.request_count == 3 and silent_server.connections == 3  # timeouts are retried
    assert raised.value.failure_type.value == "transient_error" and "'api_base'" in raised.value.message


def test_5xx_on_the_first_request_keeps_its_retries(stripe_emulator):
    stripe_emulator.faults.script(["503", "502"])
    status, _attempts = check_in_process(api_key(stripe_emulator.url, max_retries=3))
    customers = [r for r in stripe_emulator.requests if r["path"] == "/v1/customers"]
    assert [r["status"] for r in customers[:3]] == [503, 502, 200]
    assert status.status.value == "SUCCEEDED"


def test_a_first_request_that_outlasts_its_retries_ends_the_check_without_probing_the_rest(stripe_emulator):
    stripe_emulator.faults.script(["503"] * 3)
    status, attempts = check_in_process(api_key(stripe_emulator.url, max_retries=2))
    assert status.status.value == "FAILED" and "stopped at this first request" in status.message
    assert attempts == 3 and [r["path"] for r in stripe_emulator.requests] == ["/v1/customers"] * 3


def test_once_the_host_has_answered_a_refused_connection_is_retried(stripe_emulator):
    config = api_key(stripe_emulator.url, max_retries=2)
    client = StripeClient(ConnectionSettings.from_config(config), backoff_base_seconds=0.0)
    client.get("/v1/customers")
    stripe_emulator.stop()  # the host goes away mid-sync: that may heal, so it is retried
    with pytest.raises(TransientError) as raised:
        client.get("/v1/customers")
    assert not isinstance(raised.value, (HostUnreachable, HostNotAnswering))
    assert client.request_count == 1 + 3 and client.retry_count == 2
