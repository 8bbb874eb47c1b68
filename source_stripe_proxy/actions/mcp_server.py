"""`stripe-connection mcp`: a Model Context Protocol server over the Stripe connection.

One long-lived ``StripeConnection`` (one client: one session, one request budget, the same
retries and call deadline) serves every tool call, in any connection mode (direct key,
Paragon, PinkConnect). The tools and their rules live in ``mcp_tools.py``; this module serves
them with the MCP Python SDK's public low-level ``Server`` (list-tools and call-tool handlers;
in a checkout: ``.venv/bin/pip install -e '.[mcp]'``) and runs a transport:

    stripe-connection mcp                          stdio (stdout carries MCP frames only)
    stripe-connection mcp --http 127.0.0.1:8765    streamable HTTP at http://127.0.0.1:8765/mcp

Over HTTP every request is checked first (``check_http_request``): a browser's ``Origin``
must be allowed (against DNS rebinding, as the MCP specification requires), the ``Host``
must be the loopback name the server is bound to, and, when a token is set, the bearer token
must match (compared in constant time). A non-loopback bind needs a token.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from source_stripe_proxy.actions.audit import AuditLog
from source_stripe_proxy.actions.connection import StripeConnection, check_timeout
from source_stripe_proxy.actions.connection import log as actions_log
from source_stripe_proxy.actions.env import load_config
from source_stripe_proxy.actions.errors import error_to_dict
from source_stripe_proxy.actions.guardrails import CONFIRM_MODES, Guardrails, limits_from, parse_confirm
from source_stripe_proxy.actions.mcp_tools import (
    DEFAULT_MAX_RESULT_CHARS,
    DEFAULT_PAGE_SIZE,
    AccessPolicy,
    Answer,
    Ask,
    BinaryResult,
    Question,
    QuestionPending,
    StripeTools,
    ToolCallError,
    ToolDefinition,
    log,
    mcp_words,
)
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.modes import MODES
from source_stripe_proxy.core.redaction import scrub
from source_stripe_proxy.core.settings import is_loopback_host

EXIT_OK, EXIT_USAGE = 0, 2
TOKEN_ENV = "STRIPE_CONNECTION_MCP_TOKEN"
DEFAULT_HTTP_HOST = "127.0.0.1"
HTTP_PATH = "/mcp"
SERVER_NAME = "stripe-connection"
MISSING_SDK = "The MCP server needs the MCP Python SDK: in a checkout, .venv/bin/pip install -e '.[mcp]'."
MOVES_MONEY_META = "source-stripe-proxy/moves_money"  # the tool's _meta mark (annotations have no such hint)


# ------------------------------------------------------------------------------------------
# HTTP access checks: Origin (DNS rebinding), Host, bearer token
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAccess:
    """Who may call the HTTP server. ``loopback``: bound to a loopback address."""

    loopback: bool
    allowed_origins: tuple[str, ...] = ()
    token: str | None = None


def parse_http_address(value: str) -> tuple[str, int]:
    """'8765' -> (127.0.0.1, 8765); 'HOST:PORT'; '[::1]:8765'."""
    text = value.strip()
    host, port_text = DEFAULT_HTTP_HOST, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ConfigError(f"--http {value!r}: write an IPv6 address as [::1]:PORT.")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise ConfigError(f"--http {value!r}: give PORT or HOST:PORT, with a port from 1 to 65535.")
    return host, int(port_text)


def http_access(host: str, token: str | None, extra_origins: Sequence[str]) -> HttpAccess:
    """The checks for a bind address; a non-loopback bind without a token is refused."""
    loopback = is_loopback_host(host)
    if not loopback and not token:
        raise ConfigError(
            f"--http {host}: serving beyond this machine needs a bearer token: set {TOKEN_ENV} (or --auth-token); "
            "clients then send 'Authorization: Bearer <token>'."
        )
    origins = tuple(_origin(o, "--allow-origin") for o in extra_origins)
    return HttpAccess(loopback=loopback, allowed_origins=origins, token=token or None)


def _origin(value: str, where: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"{where} {value!r}: an origin is scheme://host[:port], such as https://agents.example.com.")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _loopback_name(hostname: str | None) -> bool:
    return bool(hostname and is_loopback_host(hostname.strip("[]")))


def check_http_request(headers: Mapping[str, str], access: HttpAccess) -> tuple[int, str] | None:
    """``None`` if the request may reach the server, else (HTTP status, reason).

    ``headers`` by lower-case name. An absent Origin is a non-browser client and passes; a
    present one must be a loopback origin (loopback bind) or one of ``allowed_origins``.
    On a loopback bind the Host must be a loopback name too: a rebound DNS name is not."""
    if access.loopback:
        host = headers.get("host", "")
        if not _loopback_name(urlsplit(f"//{host}").hostname):
            return 421, "Host must be a loopback name (localhost, 127.0.0.1, [::1]) for a server bound to loopback."
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin.strip())
        normalized = f"{parts.scheme}://{parts.netloc.lower()}"
        local = access.loopback and parts.scheme in ("http", "https") and _loopback_name(parts.hostname)
        if not local and normalized not in access.allowed_origins:
            return 403, "Origin not allowed (DNS rebinding protection); allow it with --allow-origin."
    if access.token:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return 401, "Missing bearer token: send 'Authorization: Bearer <token>'."
        if not hmac.compare_digest(given.strip().encode(), access.token.encode()):
            return 401, "Wrong bearer token."
    return None


class HttpGuard:
    """ASGI middleware applying ``check_http_request`` before the MCP app sees a request."""

    def __init__(self, app: Any, access: HttpAccess):
        self.app, self.access = app, access

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            refused = check_http_request(headers, self.access)
            if refused is not None:
                status, reason = refused
                log.warning("refused %s %s: %s", scope.get("method"), scope.get("path"), reason)
                body = json.dumps({"error": {"type": "access_denied", "message": reason}}).encode()
                response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                if status == 401:
                    response_headers.append((b"www-authenticate", b'Bearer realm="stripe-connection"'))
                await send({"type": "http.response.start", "status": status, "headers": response_headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


# ------------------------------------------------------------------------------------------
# The SDK's low-level server, fed by the tool table
# ------------------------------------------------------------------------------------------


def build_server(tools: StripeTools, *, instructions: str) -> Any:
    """The SDK's low-level ``Server`` offering ``tools``: list-tools answers from the table, and
    call-tool hands the arguments as given to ``StripeTools.call`` (which checks them and refuses
    what it does not know) in a worker thread, since the client blocks and concurrent calls share
    its budget and session. A refusal or failure is a tool result with ``is_error``: the model
    reads Stripe's error object (type, code, param, message)."""
    from mcp.server.lowlevel import Server
    from mcp_types import ListToolsResult

    from source_stripe_proxy import __version__

    listed = ListToolsResult(tools=[_sdk_tool(definition) for definition in tools.tools.values()])

    async def list_tools(ctx: Any, params: Any) -> Any:
        return listed

    async def call_tool(ctx: Any, params: Any) -> Any:
        return await _call_tool(tools, ctx, params)

    def input_schema(name: str) -> Mapping[str, Any] | None:
        tool = tools.tools.get(name)
        return None if tool is None else tool.input_schema

    return Server(
        SERVER_NAME,
        version=__version__,
        title="Stripe (source-stripe-proxy)",
        instructions=instructions,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _sdk_tool(definition: ToolDefinition) -> Any:
    from mcp_types import Tool, ToolAnnotations

    marks: dict[str, Any] = {"_meta": {MOVES_MONEY_META: True}} if definition.moves_money else {}  # by its wire name
    return Tool(
        name=definition.name,
        title=definition.title,
        description=definition.description,
        input_schema=dict(definition.input_schema),
        annotations=ToolAnnotations(  # the title is the tool's own (MCP 2025-06-18), not repeated here
            read_only_hint=definition.read_only,
            destructive_hint=definition.destructive,
            idempotent_hint=definition.idempotent,
            open_world_hint=definition.open_world,
        ),
        **marks,
    )


async def _call_tool(tools: StripeTools, ctx: Any, params: Any) -> Any:
    import anyio
    from mcp_types import CallToolResult, TextContent

    name, arguments = params.name, params.arguments
    if name not in tools.tools:  # as the SDK answers it: plain text, no call made
        return CallToolResult(content=[TextContent(type="text", text=tools.unknown_tool(name))], is_error=True)
    try:
        result = await anyio.to_thread.run_sync(partial(tools.call, name, arguments, ask=_asker(ctx, params.input_responses)))
    except QuestionPending as pending:
        return _input_required(pending)
    except ToolCallError as exc:
        return CallToolResult(content=[TextContent(type="text", text=str(exc))], structured_content=dict(exc.error), is_error=True)
    text = tools.render(result)
    structured = json.loads(text)
    return CallToolResult(
        content=[TextContent(type="text", text=text), *_resources(result)],
        structured_content=structured if isinstance(structured, dict) else None,
    )


def _resources(result: Any) -> list[Any]:
    """A binary answer (a quote's PDF) as an embedded resource beside its text summary."""
    if not isinstance(result, BinaryResult):
        return []
    import base64

    from mcp_types import BlobResourceContents, EmbeddedResource

    blob = BlobResourceContents(uri=result.uri, mime_type=result.mime_type, blob=base64.b64encode(result.data).decode())
    return [EmbeddedResource(type="resource", resource=blob)]


def _asker(ctx: Any, responses: Mapping[str, Any] | None) -> Ask:
    """``ask`` for one call, from its worker thread: an MCP elicitation of the person at the
    client. Before 2026-07-28 a request on the session's back channel, related to the call; from
    2026-07-28 the question is returned (``InputRequiredResult``) and the client's retry of the
    call carries the answer. ``unavailable`` when the client declared no elicitation."""
    from mcp_types import ClientCapabilities, ElicitationCapability, ElicitResult
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    def ask(question: Question) -> Answer:
        session = ctx.session
        if not session.check_client_capability(ClientCapabilities(elicitation=ElicitationCapability())):
            return Answer("unavailable")
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            key = _question_key(question)
            response = (responses or {}).get(key)
            if response is None:
                raise QuestionPending(key, question)
            if not isinstance(response, ElicitResult):
                return Answer("unavailable")
            return Answer(response.action, dict(response.content or {}))
        return _ask_back(session, question, ctx.request_id)

    return ask


def _ask_back(session: Any, question: Question, request_id: Any) -> Answer:
    import anyio.from_thread

    try:
        result = anyio.from_thread.run(partial(session.elicit_form, question.message, dict(question.schema), request_id))
    except Exception as exc:  # noqa: BLE001 - no way back on this channel, or the client failed: nobody answered
        log.warning("could not ask the person at the client (%s)", type(exc).__name__)
        return Answer("unavailable")
    return Answer(result.action, dict(result.content or {}))


def _question_key(question: Question) -> str:
    """The same question gets the same key in the retry that carries its answer."""
    text = json.dumps([question.message, question.schema], sort_keys=True, ensure_ascii=False)
    return "ask-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _input_required(pending: QuestionPending) -> Any:
    from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult

    question = pending.question
    request = ElicitRequest(params=ElicitRequestFormParams(message=question.message, requested_schema=dict(question.schema)))
    return InputRequiredResult(input_requests={pending.key: request})


def server_instructions(tools: StripeTools, mode: str) -> str:
    via = MODES[mode].via if mode in MODES else ""
    return (
        f"Stripe's API {via}, as {count(len(tools.tools), 'tool')}. Results are Stripe's JSON. Errors are Stripe's "
        'error object ({"error": {"type", "code", "param", "message"}}); a refusal before sending names the '
        "parameter and lists what is accepted. Amounts are whole numbers in the smallest currency unit. Lists come a "
        "page at a time: when has_more is true, call again with starting_after = next_starting_after. A list shows each "
        'object\'s ids, names, amounts, statuses and times; fields=["email", "address.city"] picks others, '
        'fields=["*"] gives whole objects. '
        + ("This server only reads. " if tools.policy.read_only else "Writes take dry_run=true to see the request first. ")
        + "Named tools cover the common calls; stripe_search_actions finds an action for plain words, "
        "stripe_describe and stripe_call reach the rest." + _limits_text(tools.guardrails)
    )


def _limits_text(guardrails: Guardrails) -> str:
    parts = []
    if guardrails.max_amount is not None:
        parts.append(f" Amounts above {guardrails.max_amount} (smallest currency unit) are refused.")
    if guardrails.confirm != "none":
        what = "moves money" if guardrails.confirm == "money" else "writes"
        parts.append(f" A call that {what} waits for the person's confirmation.")
    if guardrails.takes_account:
        parts.append(" Tools take 'account' to act for a connected account this server allows.")
    return "".join(parts)


# ------------------------------------------------------------------------------------------
# Logging: stderr only, secrets scrubbed
# ------------------------------------------------------------------------------------------


class _ScrubbingFormatter(logging.Formatter):
    def __init__(self, secrets: Sequence[str]):
        super().__init__("stripe-connection mcp: %(message)s")
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets)


def log_to_stderr(secrets: Sequence[str], stream: Any = None) -> logging.Handler:
    """Every log record of the process (ours, the SDK's, uvicorn's) as one scrubbed line on
    stderr; stdout stays the protocol's. Warnings by default, our own notes (retries) too."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_ScrubbingFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in (log.name, actions_log.name, "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.INFO)
    actions_log.propagate = True
    return handler


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stripe-connection mcp",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Serve Stripe to AI agents over the Model Context Protocol: one tool per call of the seed\n"
            "(create_customer, list_customers, ...) plus stripe_call, stripe_describe and\n"
            "stripe_search_actions for every other action, through one long-lived connection (direct\n"
            "key, Paragon or PinkConnect), within the limits given (--max-amount, --confirm, --accounts)."
        ),
        epilog=(
            "connection: --config FILE, or one mode's environment variables, as for stripe-connection\n"
            f"({'; '.join(' + '.join(mode.required_env) for mode in MODES.values())}).\n\n"
            "examples:\n"
            "  stripe-connection mcp                                   stdio, for a local MCP client\n"
            "  stripe-connection mcp --read-only --deny customer       reads only, no customers\n"
            "  stripe-connection mcp --max-amount 5000 --confirm money --audit-log audit.jsonl\n"
            "                                                          capped, confirmed, recorded\n"
            "  stripe-connection mcp --http 127.0.0.1:8765             streamable HTTP on loopback (/mcp)\n"
            f"  {TOKEN_ENV}=... stripe-connection mcp --http 0.0.0.0:8765   beyond this machine: a token is required\n\n"
            "docs/agents.md has the details."
        ),
    )
    _add_serving_arguments(parser)
    _add_limit_arguments(parser)
    _add_tool_arguments(parser)
    return parser


def _add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the connection comes from, and how agents reach the server."""
    parser.add_argument("--config", metavar="FILE", help="JSON config with a 'credentials' block (overrides environment variables)")
    parser.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        help=f"serve streamable HTTP at http://HOST:PORT{HTTP_PATH} (HOST defaults to {DEFAULT_HTTP_HOST}); default: stdio",
    )
    parser.add_argument(
        "--auth-token",
        metavar="TOKEN",
        help=f"bearer token HTTP clients must send (prefer the {TOKEN_ENV} environment variable: a command line is visible to other users)",
    )
    parser.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="a browser origin allowed to call the HTTP server, besides loopback ones (repeatable)",
    )


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """What agents may do: which tools, how much money, which accounts, and the record of it."""
    parser.add_argument("--read-only", action="store_true", help="offer and accept reads only (get, list, search)")
    parser.add_argument(
        "--allow",
        metavar="ITEMS",
        action="append",
        default=[],
        help=(
            "offer only these: entities (customer), actions as tool names (finalize_invoice), stripe_call, "
            "stripe_describe, stripe_search_actions; comma-separated, repeatable"
        ),
    )
    parser.add_argument(
        "--deny", metavar="ITEMS", action="append", default=[], help="never offer these (same items as --allow; wins over it)"
    )
    parser.add_argument(
        "--max-amount",
        metavar="N",
        help=(
            "refuse a call whose amount parameters exceed N (smallest currency unit); also STRIPE_CONNECTION_MAX_AMOUNT or "
            "the config's max_amount (the lowest holds)"
        ),
    )
    parser.add_argument(
        "--confirm",
        metavar="WHAT",
        choices=CONFIRM_MODES,
        default="none",
        help="ask the person (MCP elicitation) before a call that moves money, or before every write: money, writes or none (default none)",
    )
    parser.add_argument(
        "--accounts",
        metavar="LIST",
        help=(
            "connected accounts a call may name with 'account' (sent as Stripe-Account): acct_1,acct_2 or all; also "
            "STRIPE_CONNECTION_ACCOUNTS or the config's accounts"
        ),
    )
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        help="append a JSON line per write attempt (sent or refused); also STRIPE_CONNECTION_AUDIT_LOG or the config's audit_log",
    )


def _add_tool_arguments(parser: argparse.ArgumentParser) -> None:
    """How calls and results behave: timeout, page size, schema and result sizes."""
    parser.add_argument(
        "--timeout", metavar="SECONDS", help="give up on a Stripe call after this many seconds, retries included (default 15)"
    )
    parser.add_argument(
        "--page-size",
        metavar="N",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"objects per list page unless the call gives limit (default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument(
        "--full-schemas",
        action="store_true",
        help=(
            "give each named tool every parameter of its action in its schema (about 79,000 characters for all tools; "
            "default: the required and common ones, about 24,000, the rest one stripe_describe away)"
        ),
    )
    parser.add_argument(
        "--max-result-chars",
        metavar="N",
        type=int,
        default=DEFAULT_MAX_RESULT_CHARS,
        help=f"cut results longer than this, saying how to continue (default {DEFAULT_MAX_RESULT_CHARS})",
    )


@dataclass
class Prepared:
    """Everything the server needs, checked before anything is served."""

    tools: StripeTools
    connection: StripeConnection
    http: tuple[str, int] | None
    access: HttpAccess | None
    secrets: tuple[str, ...]
    notes: list[str]


def prepare(args: argparse.Namespace, environ: Mapping[str, str]) -> Prepared:
    """Config, connection, policy and transport checks; raises ``ConfigError`` with a clear message."""
    token = args.auth_token or environ.get(TOKEN_ENV) or None
    http = parse_http_address(args.http) if args.http else None
    access = http_access(http[0], token, args.allow_origin) if http else None
    config = load_config(args.config, environ)
    timeout = None if args.timeout is None else check_timeout(args.timeout, "--timeout")
    connection = StripeConnection(config, timeout_seconds=timeout)
    settings = connection.client.settings
    secrets = tuple(s for s in (*settings.secrets, token) if s)
    policy = AccessPolicy(read_only=args.read_only, allow=args.allow, deny=args.deny)
    cap, accounts, logs = limits_from(config, environ, max_amount=args.max_amount, accounts=args.accounts, audit_log=args.audit_log)
    guardrails = Guardrails(
        max_amount=cap, accounts=accounts, confirm=parse_confirm(args.confirm, "--confirm"), configured_account=settings.account_id
    )
    audit = AuditLog(logs, secrets=secrets) if logs else None

    # connection.send: the tools apply the limits and write the audit lines themselves, by tool name.
    tools = StripeTools(
        connection.send,
        policy=policy,
        page_size=args.page_size,
        max_result_chars=args.max_result_chars,
        secrets=secrets,
        full_schemas=args.full_schemas,
        guardrails=guardrails,
        audit=audit,
        can_send=connection.check_reachable,  # refused before the person is asked, and in a dry run
    )
    if not tools.tools:
        raise ConfigError("--allow/--deny/--read-only leave no tool to offer.")
    notes = []
    api_key = (config.get("credentials") or {}).get("api_key") if settings.mode == "api_key" else None
    if isinstance(api_key, str) and api_key.startswith("sk_"):
        notes.append(
            "warning: the API key is a secret key (sk_...), which can do anything on the account. Give agents a "
            "restricted key (rk_...) with only the permissions they need: https://docs.stripe.com/keys#limit-access"
        )
    if token and not http:
        notes.append("note: the bearer token is ignored over stdio (the client that starts the server owns it).")
    return Prepared(tools, connection, http, access, secrets, notes)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    try:
        import mcp.server.lowlevel  # noqa: F401  (a clear message if the extra is missing)
    except ImportError:
        sys.stderr.write(f"stripe-connection mcp: {MISSING_SDK}\n")
        return EXIT_USAGE
    try:
        prepared = prepare(args, environ)
    except ConfigError as exc:
        message = error_to_dict(exc, mcp_words)["error"]["message"]
        sys.stderr.write(f"stripe-connection mcp: {scrub(message)}\n")
        return EXIT_USAGE

    log_to_stderr(prepared.secrets)
    for note in prepared.notes:
        log.warning(note)
    tools = prepared.tools
    server = build_server(tools, instructions=server_instructions(tools, prepared.connection.client.settings.mode))
    where = f"http://{_netloc(*prepared.http)}{HTTP_PATH}" if prepared.http else "stdio"
    log.info(
        "%s (%s) over %s, %s connection",
        count(len(tools.tools), "tool"),
        tools.policy.describe(),
        where,
        prepared.connection.client.settings.mode,
    )
    if prepared.http is not None and prepared.access is not None:  # the access rules come with the address
        serve_http(server, prepared.http, prepared.access)
    else:
        serve_stdio(server)
    return EXIT_OK


def count(number: int, noun: str) -> str:
    """'1 tool', '20 tools'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_stdio(server: Any) -> None:
    import anyio
    from mcp.server.stdio import stdio_server

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)


def serve_http(server: Any, address: tuple[str, int], access: HttpAccess) -> None:
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    host, port = address
    # The SDK's own Host/Origin check only knows loopback binds; HttpGuard covers every bind, with the token.
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        host=host,
    )
    config = uvicorn.Config(
        HttpGuard(app, access), host=host, port=port, log_config=None, access_log=False, lifespan="on", server_header=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    sys.exit(main())
