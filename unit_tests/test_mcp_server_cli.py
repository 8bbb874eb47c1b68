"""`stripe-connection mcp` before it serves: options, configuration, the sk_ warning, and the
HTTP access checks (Origin against DNS rebinding, Host, bearer token) as plain functions.
Binding a non-loopback address is not possible in every test environment, so the guard that
refuses one without a token is tested here; tests/integration run the live server."""

from __future__ import annotations

import asyncio
import json

import pytest

from source_stripe_proxy.actions import mcp_server
from source_stripe_proxy.actions.cli import main as cli_main
from source_stripe_proxy.actions.mcp_server import (
    TOKEN_ENV,
    HttpAccess,
    HttpGuard,
    build_parser,
    check_http_request,
    http_access,
    parse_http_address,
    prepare,
)
from source_stripe_proxy.core.errors import ConfigError

KEY = "sk_test_mcpCLIsecretKEY"
RESTRICTED = "rk_test_mcpCLIrestrictedKEY"
TOKEN = "mcp-cli-bearer-SECRET"
LOOPBACK = HttpAccess(loopback=True)
LOCAL_WITH_TOKEN = HttpAccess(loopback=True, token=TOKEN)
REMOTE = HttpAccess(loopback=False, allowed_origins=("https://agents.example.com",), token=TOKEN)


def env(**extra):
    return {"STRIPE_API_KEY": KEY, "STRIPE_API_BASE": "http://127.0.0.1:9", **extra}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("8765", ("127.0.0.1", 8765)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),  # noqa: S104 - parsed, not bound
        ("localhost:8000", ("localhost", 8000)),
        ("[::1]:8765", ("::1", 8765)),
    ],
)
def test_http_addresses(value, expected):
    assert parse_http_address(value) == expected


@pytest.mark.parametrize("value", ["", "host:", "host:0", "host:70000", ":80", "[::1]8765", "eight"])
def test_bad_http_addresses_are_refused_with_the_form(value):
    with pytest.raises(ConfigError, match="PORT"):
        parse_http_address(value)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "mcp.example.com"])  # noqa: S104 - each refused
def test_a_non_loopback_bind_needs_a_token(host):
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        http_access(host, None, ())
    assert http_access(host, TOKEN, ()) == HttpAccess(loopback=False, token=TOKEN)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_needs_no_token(host):
    assert http_access(host, None, ()).loopback is True


def test_allowed_origins_are_normalized_and_checked():
    assert http_access("127.0.0.1", None, ["HTTPS://Agents.Example.com/"]).allowed_origins == ("https://agents.example.com",)
    with pytest.raises(ConfigError, match="--allow-origin"):
        http_access("127.0.0.1", None, ["agents.example.com"])


@pytest.mark.parametrize(
    "headers, access, status",
    [
        ({"host": "127.0.0.1:8765"}, LOOPBACK, None),  # a non-browser client sends no Origin
        ({"host": "localhost:8765", "origin": "http://localhost:3000"}, LOOPBACK, None),
        ({"host": "[::1]:8765", "origin": "http://[::1]:8765"}, LOOPBACK, None),
        ({"host": "127.0.0.1:8765", "origin": "http://evil.example"}, LOOPBACK, 403),
        ({"host": "127.0.0.1:8765", "origin": "http://localhost.evil.example"}, LOOPBACK, 403),
        ({"host": "127.0.0.1:8765", "origin": "null"}, LOOPBACK, 403),
        ({"host": "evil.example:8765"}, LOOPBACK, 421),  # a rebound DNS name reaching loopback
        ({}, LOOPBACK, 421),
        ({"host": "127.0.0.1:8765"}, LOCAL_WITH_TOKEN, 401),
        ({"host": "127.0.0.1:8765", "authorization": f"Bearer {TOKEN}x"}, LOCAL_WITH_TOKEN, 401),
        ({"host": "127.0.0.1:8765", "authorization": f"Basic {TOKEN}"}, LOCAL_WITH_TOKEN, 401),
        ({"host": "127.0.0.1:8765", "authorization": f"Bearer {TOKEN}"}, LOCAL_WITH_TOKEN, None),
        ({"host": "mcp.example.com", "authorization": f"bearer {TOKEN}"}, REMOTE, None),
        ({"host": "mcp.example.com"}, REMOTE, 401),
        ({"host": "mcp.example.com", "authorization": "Bearer "}, REMOTE, 401),
        ({"host": "mcp.example.com", "authorization": f"Bearer {TOKEN}", "origin": "https://agents.example.com"}, REMOTE, None),
        ({"host": "mcp.example.com", "authorization": f"Bearer {TOKEN}", "origin": "http://localhost:3000"}, REMOTE, 403),
        ({"host": "mcp.example.com", "authorization": f"Bearer {TOKEN}", "origin": "https://evil.example"}, REMOTE, 403),
    ],
)
def test_http_request_checks(headers, access, status):
    refused = check_http_request(headers, access)
    assert (refused[0] if refused else None) == status, refused
    assert refused is None or TOKEN not in refused[1]


def test_the_token_is_compared_in_constant_time(monkeypatch):
    compared = []
    real = mcp_server.hmac.compare_digest
    monkeypatch.setattr(mcp_server.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    assert check_http_request({"host": "127.0.0.1", "authorization": "Bearer guess"}, LOCAL_WITH_TOKEN)[0] == 401
    assert compared == [(b"guess", TOKEN.encode())]


def test_the_guard_answers_refusals_itself_and_passes_the_rest_on():
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["type"])

    async def request(scope):
        sent = []

        async def send(message):
            sent.append(message)

        await HttpGuard(app, LOCAL_WITH_TOKEN)(scope, None, send)
        return sent

    refused = asyncio.run(
        request(
            {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"host", b"127.0.0.1:1"), (b"origin", b"http://evil.example")]}
        )
    )
    assert refused[0]["status"] == 403 and json.loads(refused[1]["body"])["error"]["type"] == "access_denied"
    refused = asyncio.run(request({"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"host", b"127.0.0.1:1")]}))
    assert refused[0]["status"] == 401 and (b"www-authenticate", b'Bearer realm="stripe-connection"') in refused[0]["headers"]
    assert reached == []
    asyncio.run(
        request(
            {
                "type": "http",
                "method": "POST",
                "path": "/mcp",
                "headers": [(b"host", b"127.0.0.1:1"), (b"authorization", f"Bearer {TOKEN}".encode())],
            }
        )
    )
    asyncio.run(request({"type": "lifespan"}))
    assert reached == ["http", "lifespan"]


# -- prepare: config, policy and notes ---------------------------------------------------------------


def prepared(*args, environ=None):
    return prepare(build_parser().parse_args(list(args)), env() if environ is None else environ)


def test_a_secret_key_gets_a_warning_recommending_a_restricted_key():
    (note,) = prepared().notes
    assert "restricted key (rk_...)" in note and KEY not in note
    assert prepared(environ=env(STRIPE_API_KEY=RESTRICTED)).notes == []


def test_the_three_connection_modes_come_from_the_clis_environment_variables():
    paragon = {"PARAGON_PROJECT_ID": "proj", "PARAGON_USER_TOKEN": "paragon-SECRET", "PARAGON_PROXY_HOST": "http://127.0.0.1:9"}
    pink = {"PINKCONNECT_PROXY_URL": "http://127.0.0.1:9", "PINKCONNECT_TOKEN": "pink-SECRET"}
    assert prepared(environ=paragon).connection.client.settings.mode == "paragon"
    assert prepared(environ=pink).connection.client.settings.mode == "pinkconnect"
    with_token = prepared("--http", "127.0.0.1:1", environ={**pink, TOKEN_ENV: TOKEN})
    assert set(with_token.secrets) == {"pink-SECRET", TOKEN} and with_token.access.token == TOKEN


def test_options_reach_the_tools():
    ready = prepared("--read-only", "--deny", "customer", "--page-size", "5", "--max-result-chars", "9000")
    assert all(tool.read_only for tool in ready.tools.tools.values()) and "get_customer" not in ready.tools.tools
    assert (ready.tools.page_size, ready.tools.max_result_chars) == (5, 9000)


@pytest.mark.parametrize(
    "args, environ, message",
    [
        (["--http", "0.0.0.0:8765"], env(), TOKEN_ENV),
        (["--read-only", "--allow", "create_customer"], env(), "no tool to offer"),
        (["--allow", "custumer"], env(), "'custumer' is not an entity"),
        ([], {}, "No connection configured"),
        ([], env(STRIPE_API_KEY="pk_test_publishableSECRET"), "restricted key"),
        (["--config", "/nonexistent/config.json"], env(), "Cannot read --config"),
        (["--timeout", "0"], env(), "--timeout"),
    ],
)
def test_the_server_does_not_start_on_a_bad_option_or_config(args, environ, message, capsys, monkeypatch):
    def must_not_serve(*args, **kwargs):
        raise AssertionError("the server was built despite a bad option")

    monkeypatch.setattr(mcp_server, "build_server", must_not_serve)
    assert cli_main(["mcp", *args], environ=environ) == 2
    out, err = capsys.readouterr()
    assert out == ""  # stdout belongs to MCP frames
    assert message in err
    for secret in (KEY, "pk_test_publishableSECRET"):
        assert secret not in err


def test_help_exits_cleanly(capsys):
    assert cli_main(["mcp", "--help"]) == 0
    assert "--read-only" in capsys.readouterr().out
