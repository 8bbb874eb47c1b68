"""`stripe-connection`: run one Stripe action from the command line.

Two input forms, the same result:

    printf 'action: create\\nentity: customer\\nemail: customer@example.com\\nname: John Doe\\n' | stripe-connection
    stripe-connection create customer email=customer@example.com name="John Doe"

and ``stripe-connection describe [ENTITY [ACTION]]`` for what exists and what a call accepts.

Stdout holds exactly one JSON document: Stripe's JSON unchanged, or ``{"error": {...}}``.
Retries and the generated idempotency key of a write are plain lines on stderr. Exit status:
0 success; 1 the call was refused (by our validation before any request, by Stripe, or by a
proxy) or failed after every retry; 2 usage or connection-config problems.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

from source_stripe_proxy.actions import catalog
from source_stripe_proxy.actions.connection import (
    DEFAULT_TIMEOUT_SECONDS,
    PreparedCall,
    StripeConnection,
    check_timeout,
    log,
    prepare_call,
    refuse_unreachable,
)
from source_stripe_proxy.actions.env import ENV_COMMON, ENV_MODES, load_config, modes_in
from source_stripe_proxy.actions.errors import CREDENTIALS, DESCRIBE, ActionInputError, Hint, error_to_dict
from source_stripe_proxy.actions.params import describe as describe_schema
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.modes import MODES, ConnectionMode, implied_auth_type
from source_stripe_proxy.core.redaction import names_a_credential, scrub, scrub_document
from source_stripe_proxy.data import resources

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
# A name, then .key or [key] parts: metadata.plan, recurring[interval], items[0][price], expand[]
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[^\s.\[\]]+|\[[^\[\]]*\])*$")
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d"}


# ------------------------------------------------------------------------------------------
# Parsing: both forms give one flat dict (action, entity and the parameters).
# ------------------------------------------------------------------------------------------


def _add(call: dict[str, Any], key: str, value: Any, where: str) -> None:
    if not _PARAM_NAME.match(key):
        raise ActionInputError(
            f"{where}: {key!r} is not a parameter name (letters, digits and '_'; nested as metadata.KEY or items[0][price]).",
            param=key,
        )
    if key in call:
        raise ActionInputError(f"{where}: '{key}' is given twice.", param=key)
    call[key] = value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] == _QUOTES[value[0]]:
        return value[1:-1]
    return value


def parse_tokens(tokens: Sequence[str], call: dict[str, Any] | None = None) -> dict[str, Any]:
    """``ACTION ENTITY KEY=VALUE ...`` -> dict. ``action=``/``entity=`` pairs work too."""
    call = {} if call is None else call
    bare: list[str] = []
    seen_pair = False
    for index, token in enumerate(tokens, 1):
        if "=" in token:
            seen_pair = True
            key, value = token.split("=", 1)
            _add(call, key.strip(), value, f"argument {index}")
        elif not seen_pair and len(bare) < 2:
            bare.append(token)
        else:
            raise ActionInputError(
                f"argument {index}: expected KEY=VALUE, got {token[:40]!r}. Form: ACTION ENTITY KEY=VALUE ...",
                param=None,
            )
    for key, value in zip(("action", "entity"), bare, strict=False):  # fewer bare words than two: the rest are missing
        _add(call, key, value, "arguments")
    return call


def parse_block(text: str) -> dict[str, Any]:
    """The seed's block form (``key: value`` lines), or a JSON object.

    An optional first line starting with ``/`` (``/your-stripe-connection``) is the command
    name and may carry ``ACTION ENTITY KEY=VALUE`` tokens itself. Blank lines and lines
    starting with ``#`` are ignored. A value may be wrapped in quotes.
    """
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ActionInputError(f"The input looks like JSON but does not parse: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(data, dict):
            raise ActionInputError("JSON input must be an object of parameter names to values.")
        call: dict[str, Any] = {}
        for key, value in data.items():
            _add(call, str(key), value, "JSON input")
        return call
    call = {}
    seen_content = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not seen_content and line.startswith("/"):
            seen_content = True
            try:
                tokens = shlex.split(line)[1:]
            except ValueError as exc:
                raise ActionInputError(f"line {number}: {exc}.") from None
            parse_tokens(tokens, call)
            continue
        seen_content = True
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ActionInputError(f"line {number}: expected 'key: value', got {line[:40]!r}.")
        _add(call, key.strip(), _unquote(value.strip()), f"line {number}")
    return call


def split_call(call: Mapping[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    params = dict(call)
    return params.pop("action", None), params.pop("entity", None), params


def cli_words(hint: Hint) -> str:
    """The actions' hints as a command line user reads them."""
    if hint.kind == DESCRIBE:
        words = " ".join(w for w in ("stripe-connection describe", hint.entity, hint.action) if w)
        what = "all its parameters" if hint.action else "its actions" if hint.entity else "them"
        return f"`{words}` lists {what}."
    if hint.kind == CREDENTIALS:
        return "Credentials go in --config or environment variables."
    return "Or pass --config FILE."


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def _env_help() -> str:
    lines = []
    for mode, required, optional in ENV_MODES:
        opt = f" (optional: {', '.join(optional)})" if optional else ""
        lines.append(f"  {mode:<12} {' + '.join(required)}{opt}")
    lines.append(f"  any mode     optional: {', '.join(ENV_COMMON)}")
    return "\n".join(lines)


def seed_call_lines() -> list[str]:
    """The seed's calls as --help lists them (docs/actions.md lists the same, a test checks):
    'get customer customer_id=...', in the seed's order, with each required parameter by its seed name."""
    lines = []
    for spec in catalog.seed_calls():
        entity = resources.entities()[spec.entity]["names"][-1] if spec.action == "list" else spec.entity
        required = " ".join(f"{names[0]}=..." for names in catalog.required_names(spec))
        lines.append(f"{spec.action} {entity} {required}".rstrip())
    return lines


def _seed_help() -> str:
    return "\n".join(help_line(line) for line in seed_call_lines())


def help_line(call: str) -> str:
    action, _, rest = call.partition(" ")
    return f"  {action:<7}{rest}"


def _epilog() -> str:
    """The help's second half: the seed's calls, discovery, the MCP server, examples, connection and exit status."""
    return (
        "the seed's calls (entities also accepted in the plural; the seed's names such as\n"
        "customer_id, price_id, amount and interval work as aliases):\n"
        f"{_seed_help()}\n\n"
        "what exists and what a call accepts:\n"
        "  stripe-connection describe                   every entity and its actions\n"
        "  stripe-connection describe invoice           one entity's actions\n"
        "  stripe-connection describe invoice finalize  one action's parameters (--schema: JSON Schema)\n"
        "  stripe-connection search refund a charge     the actions that best match plain words\n\n"
        "MCP server for AI agents (in a checkout: .venv/bin/pip install -e '.[mcp]'):\n"
        "  stripe-connection mcp [--http HOST:PORT] [--read-only] ...   (stripe-connection mcp --help)\n\n"
        "examples:\n"
        '  stripe-connection create customer email=customer@example.com name="John Doe" metadata.plan=gold\n'
        "  stripe-connection finalize invoice invoice=in_123\n"
        "  printf 'action: get\\nentity: customer\\ncustomer_id: cus_123\\n' | stripe-connection\n\n"
        "connection: --config FILE (the source's config: a 'credentials' block), or exactly one\n"
        f"mode's environment variables:\n{_env_help()}\n\n"
        "exit status: 0 success; 1 refused (validation, Stripe or proxy error, retries exhausted);\n"
        "2 usage or connection config problem."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stripe-connection",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run one Stripe action and print Stripe's JSON. Every operation of Stripe's API is an\n"
            "action on an entity (create, update, get, list, delete, search, and named ones such as\n"
            "finalize invoice or cancel subscription), with Stripe's parameters.\n"
            "Give the call as arguments (ACTION ENTITY KEY=VALUE ...) or on stdin as\n"
            "'key: value' lines (the seed's block form) or a JSON object."
        ),
        epilog=_epilog(),
    )
    parser.add_argument("--config", metavar="FILE", help="JSON config with a 'credentials' block (overrides environment variables)")
    parser.add_argument("--compact", action="store_true", help="print JSON on one line")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the request that would be sent; send nothing")
    parser.add_argument("--schema", action="store_true", help="with describe ENTITY ACTION: print the full JSON Schema of its input")
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help=f"give up on the call after this many seconds, retries included (default {DEFAULT_TIMEOUT_SECONDS:g}; "
        "also STRIPE_CONNECTION_TIMEOUT or the config's action_timeout_seconds)",
    )
    parser.add_argument(
        "--account", metavar="ACCT", help="act for this connected account (Stripe-Account); it must be allowed by --accounts"
    )
    parser.add_argument(
        "--accounts",
        metavar="LIST",
        help="the connected accounts --account may name: acct_1,acct_2 or all (also STRIPE_CONNECTION_ACCOUNTS or the config's accounts)",
    )
    parser.add_argument(
        "--max-amount",
        metavar="N",
        help="refuse a write whose amount parameters exceed N, in the smallest "
        "currency unit (also STRIPE_CONNECTION_MAX_AMOUNT or the config's max_amount; the lowest holds)",
    )
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        help="append a JSON line per write attempt to FILE (also STRIPE_CONNECTION_AUDIT_LOG or the config's audit_log)",
    )
    parser.add_argument("call", nargs="*", metavar="ACTION ENTITY KEY=VALUE", help="the call; read from stdin when omitted")
    return parser


class _Output:
    def __init__(self, stdout: TextIO, stderr: TextIO, compact: bool):
        self.stdout, self.stderr, self.compact = stdout, stderr, compact
        self.secrets: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def json(self, data: Any) -> None:
        if self.compact:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        else:
            text = json.dumps(data, ensure_ascii=False, indent=2)
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def error(self, data: Mapping[str, Any]) -> None:
        self.json(scrub_document(data, self.secrets))

    def note(self, line: str) -> None:
        self.stderr.write(self.scrub(line) + "\n")
        self.stderr.flush()


class _NoteHandler(logging.Handler):
    """The connection's log records (retries, warnings) as plain, scrubbed lines on stderr."""

    def __init__(self, out: _Output):
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.out.note(f"stripe-connection: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a broken stderr must not turn a good answer into a failure
            self.handleError(record)


@contextmanager
def _log_to_stderr(out: _Output) -> Iterator[None]:
    """Route the actions' logger to stderr only, for the length of one call. Not propagated:
    once the CDK is loaded in the process, the root logger prints Airbyte messages on stdout."""
    handler = _NoteHandler(out)
    saved = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    if argv[:1] == ["mcp"]:  # the MCP server: its own options, loaded only when asked for
        from source_stripe_proxy.actions.mcp_server import main as mcp_main

        return mcp_main(argv[1:], environ=environ)
    out = _Output(stdout or sys.stdout, stderr or sys.stderr, compact="--compact" in argv)
    try:
        args = parse_arguments(argv)
    except UsageError as exc:
        out.error(exc.to_dict())
        return EXIT_USAGE
    if args is None:  # --help, printed
        return EXIT_OK
    try:
        if args.call[:1] == ["describe"]:
            out.json(describe(args.call[1:], full_schema=args.schema))
            return EXIT_OK
        if args.call[:1] == ["search"] and not any("=" in word for word in args.call):  # else Stripe's search action
            out.json(search(args.call[1:]))
            return EXIT_OK
        prepared, params = _prepare(args.call, stdin or sys.stdin, out)  # refused here, before any config is read
    except ActionInputError as exc:
        out.error(exc.to_dict(cli_words))
        return EXIT_REFUSED
    if args.dry_run:
        return _dry_run(args, environ, out, prepared.spec, params)
    return _send(args, environ, out, prepared.spec, params)


def _prepare(tokens: list[str], stdin: TextIO, out: _Output) -> tuple[PreparedCall, dict[str, Any]]:
    """The call checked against Stripe's spec, and its parameters as given (the limits are
    applied once the connection's config is read)."""
    if tokens:
        call = parse_tokens(tokens)
    else:
        if stdin.isatty():
            out.note("stripe-connection: reading the call from stdin ('key: value' lines, end with Ctrl-D); --help for usage")
        call = parse_block(stdin.read())
    action, entity, params = split_call(call)
    prepared = prepare_call(action, entity, params)
    if prepared.spec.answer and not prepared.save_to:
        raise ActionInputError(
            f"'{prepared.spec.name}' answers {prepared.spec.answer}, which is not JSON: give save_to=FILE to write it.",
            param="save_to",
        )
    return prepared, params


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    return {"max_amount": args.max_amount, "accounts": args.accounts, "audit_log": args.audit_log}


def _mode_of(config: Mapping[str, Any], environ: Mapping[str, str]) -> ConnectionMode | None:
    """The connection mode a dry run would be sent through, when the config or the environment
    names one (a dry run needs no credentials, so none may be set)."""
    if config:
        credentials = implied_auth_type(config.get("credentials"))
        name = credentials.get("auth_type") if isinstance(credentials, Mapping) else None
        return MODES.get(name) if isinstance(name, str) else None
    present = modes_in(environ)
    return present[0] if len(present) == 1 else None


def _dry_run(args: argparse.Namespace, environ: Mapping[str, str], out: _Output, spec: Any, params: dict[str, Any]) -> int:
    """The request that would be sent, under the same limits (no credentials needed)."""
    from source_stripe_proxy.actions.attempts import Attempt
    from source_stripe_proxy.actions.audit import AuditLog
    from source_stripe_proxy.actions.guardrails import Guardrails, limits_from

    try:
        config = load_config(args.config, environ) if args.config else {}
        cap, accounts, logs = limits_from(config, environ, **_limits(args))
        guardrails = Guardrails(max_amount=cap, accounts=accounts, configured_account=config.get("account_id"))
        attempt = Attempt(guardrails, "cli", AuditLog(logs) if logs else None)
    except ConfigError as exc:
        out.error(error_to_dict(exc, cli_words))
        return EXIT_USAGE
    mode = _mode_of(config, environ)
    can_send = (lambda call: refuse_unreachable(mode, call)) if mode else None
    try:
        out.json(attempt.run(spec, params, account=args.account, dry_run=True, send=lambda call: None, can_send=can_send)["request"])
    except ActionInputError as exc:
        out.error(exc.to_dict(cli_words))
        return EXIT_REFUSED
    return EXIT_OK


def _send(args: argparse.Namespace, environ: Mapping[str, str], out: _Output, spec: Any, params: dict[str, Any]) -> int:
    try:
        config = load_config(args.config, environ)
        timeout = None if args.timeout is None else check_timeout(args.timeout, "--timeout")
        connection = StripeConnection(config, timeout_seconds=timeout, environ=environ, tool="cli", **_limits(args))
    except ConfigError as exc:
        out.error(error_to_dict(exc, cli_words))
        return EXIT_USAGE
    out.secrets = connection.client.settings.secrets
    try:
        prepared = connection.prepare(spec.action, spec.entity, params, stripe_account=args.account)
    except ActionInputError as exc:
        out.error(exc.to_dict(cli_words))
        return EXIT_REFUSED
    if prepared.idempotency_key_generated:
        # Before sending: if the call times out, the caller already holds the key to retry with.
        out.note(
            f"idempotency_key: {prepared.idempotency_key} (generated; pass idempotency_key=... to retry this {prepared.spec.action} safely)"
        )
    try:
        with _log_to_stderr(out):
            result = connection.execute(prepared)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as JSON, without a traceback that could carry headers
        error = error_to_dict(exc, cli_words)
        out.error(error)
        return EXIT_USAGE if error["error"]["type"] == "connection_config_error" else EXIT_REFUSED
    out.json(result)
    return EXIT_OK


# ------------------------------------------------------------------------------------------
# Usage errors: one JSON document on stdout too, with the call written the way it works
# ------------------------------------------------------------------------------------------


class UsageError(Exception):
    """The command line itself is wrong (an unknown option, a missing option value)."""

    def __init__(self, message: str, *, param: str | None = None, suggestion: str | None = None):
        super().__init__(message)
        self.message, self.param, self.suggestion = message, param, suggestion

    def to_dict(self) -> Mapping[str, Any]:
        error: dict[str, Any] = {"type": "invalid_request_error", "param": self.param, "message": self.message}
        if self.suggestion:
            error["suggestion"] = self.suggestion
        return {"error": error}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage on stderr and exit
        named = re.search(r"(?:argument |arguments: )(-[\w-]+)", message)
        raise UsageError(
            f"{message[:1].upper()}{message[1:]}. Usage: {USAGE} (--help lists the options).", param=named.group(1) if named else None
        )


USAGE = (
    "stripe-connection [--config FILE] [--compact] [--dry-run] [--schema] [--timeout SECONDS] [--account ACCT] "
    "[--accounts LIST] [--max-amount N] [--audit-log FILE] ACTION ENTITY KEY=VALUE ..."
)


def parse_arguments(argv: list[str]) -> argparse.Namespace | None:
    """The command line, or None after printing --help. A call's parameter written as an option
    (``--limit 5``, ``--limit=5``) is refused with the call written as it works (``limit=5``)."""
    parser = build_parser()
    if any(token in ("-h", "--help") for token in argv):
        parser.print_help()  # on the process's stdout, as argparse does
        return None
    _refuse_parameters_as_options(argv, parser)
    return parser.parse_intermixed_args(argv)


def _refuse_parameters_as_options(argv: list[str], parser: argparse.ArgumentParser) -> None:
    options = {name for action in parser._actions for name in action.option_strings}
    fixed, wrong, typed = [], [], []
    index = 0
    while index < len(argv):
        token = argv[index]
        name, has_value, value = token[2:].partition("=")
        name = name.replace("-", "_")  # --starting-after: Stripe's starting_after
        if token.startswith("--") and token.split("=", 1)[0] not in options and _PARAM_NAME.match(name or "-"):
            if not has_value and index + 1 < len(argv) and not argv[index + 1].startswith("-") and "=" not in argv[index + 1]:
                value, index = argv[index + 1], index + 1
            wrong.append(name)
            typed.append(token.split("=", 1)[0])
            secret = names_a_credential(name)  # never echoed: it may be a key or a token
            fixed.append(f"{name}={'VALUE' if secret or not value else value}")
        else:
            fixed.append(token)
        index += 1
    if wrong:
        suggestion = "stripe-connection " + " ".join(shlex.quote(t) if "=" not in t else _quoted_pair(t) for t in fixed)
        pairs = ", ".join(f for f in fixed if f.split("=", 1)[0] in wrong)
        credentials = any(names_a_credential(name) for name in wrong)
        raise UsageError(
            f"Unknown option {typed[0]}: a call's parameters are written KEY=VALUE, not as options: {pairs}. "
            f"Try: {suggestion}." + (f" {cli_words(Hint(CREDENTIALS))}" if credentials else ""),
            param=wrong[0],
            suggestion=suggestion,
        )


def _quoted_pair(pair: str) -> str:
    key, _, value = pair.partition("=")
    return f"{key}={shlex.quote(value)}" if value else pair


# ------------------------------------------------------------------------------------------
# search
# ------------------------------------------------------------------------------------------


def search(words: Sequence[str]) -> dict[str, Any]:
    """``search WORDS``: the actions that best match, each with the command that describes it."""
    from source_stripe_proxy.actions.search import search_actions

    query = " ".join(words)
    results = search_actions(query)
    for result in results:
        result["describe"] = f"stripe-connection describe {result['entity']} {result['action']}"
    return {"query": query, "results": results}


# ------------------------------------------------------------------------------------------
# describe
# ------------------------------------------------------------------------------------------


def describe(words: Sequence[str], *, full_schema: bool = False) -> Any:
    """``describe`` -> every entity's actions; ``describe ENTITY`` -> its actions with flags;
    ``describe ENTITY ACTION`` (either order) -> the action's parameters."""
    if len(words) > 2:
        raise ActionInputError("describe takes at most an entity and an action: describe [ENTITY [ACTION]].")
    if not words:
        entities = catalog.list_actions()
        return {
            "entities": len(entities),
            "actions": sum(len(info["actions"]) for info in entities.values()),
            "by_entity": {name: list(info["actions"]) for name, info in entities.items()},
        }
    if len(words) == 1:
        return catalog.list_actions(words[0])
    entity, action = words
    try:
        catalog.resolve_entity(entity)
    except ActionInputError:
        entity, action = action, entity  # "describe finalize invoice" reads as well
    described = catalog.describe_action(action, entity)
    if full_schema:
        return described
    schema = described.pop("input_schema")
    described["parameters"] = {name: _parameter_summary(prop, name in described["required"]) for name, prop in schema["properties"].items()}
    return described


def _parameter_summary(schema: Mapping[str, Any], required: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {"accepts": describe_schema(schema)}
    if required:
        summary["required"] = True
    if schema.get("description"):
        summary["description"] = schema["description"]
    if schema.get("x-in") == "path":
        summary["in"] = "path"
    return summary


if __name__ == "__main__":
    sys.exit(main())
