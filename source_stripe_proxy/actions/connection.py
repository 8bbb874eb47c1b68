"""The Stripe connection's actions: every operation of Stripe's API, by entity and action.

A call names an ``action`` (create, update, get, list, delete, search, or a named operation
such as ``finalize`` or ``cancel``), an ``entity`` (Stripe's object: customer, invoice_item,
checkout_session...) and parameters by Stripe's names, or by the seed's names where the seed
has its own (``customer_id``, ``price_id``, ``amount``...). It gets Stripe's JSON back unchanged.

    >>> conn = StripeConnection({"credentials": {"auth_type": "api_key", "api_key": "sk_test_..."}})
    >>> conn.run(action="create", entity="customer", email="customer@example.com", name="John Doe")
    {'id': 'cus_...', 'object': 'customer', ...}

Two steps, usable apart (an MCP server prepares in one place and sends in another):
``prepare_call`` checks a call against the table generated from Stripe's spec (``catalog.py``)
and maps it to a request without any I/O; ``StripeConnection.execute`` sends it through the
shared ``StripeClient``, in whichever connection mode (api_key, paragon, pinkconnect).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from source_stripe_proxy.actions.catalog import ActionSpec, find_action
from source_stripe_proxy.actions.env import config_from_env
from source_stripe_proxy.actions.errors import CREDENTIALS, DESCRIBE, ActionInputError, Hint, refuse
from source_stripe_proxy.actions.files import Upload, check_answer, is_upload, read_upload, save
from source_stripe_proxy.actions.guardrails import GuardrailRefusal
from source_stripe_proxy.actions.params import coerce, path_id, show, split_name, unflatten
from source_stripe_proxy.core.endpoints import fill_path
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.forms import encode_form
from source_stripe_proxy.core.redaction import names_a_credential
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE, STRIPE_API_BASE

if TYPE_CHECKING:  # the client (and requests) load only when a connection is made, not for a dry run
    from source_stripe_proxy.core.client import StripeClient
    from source_stripe_proxy.core.modes import ConnectionMode

_IDEMPOTENCY_KEY_MAX = 255


# ------------------------------------------------------------------------------------------
# Preparing a call: validate, map the seed's names, build the request. No I/O.
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedCall:
    """A validated call, ready to send: what ``execute`` will request."""

    spec: ActionSpec
    method: str
    path: str
    query: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    idempotency_key_generated: bool = False
    fetch_all: bool = False
    page_size: int | None = None
    account: str | None = None  # a connected account, sent as Stripe-Account for this call
    uploads: Mapping[str, Upload] = field(default_factory=dict)  # the files of a multipart body
    save_to: str | None = None  # where a binary answer is written
    path_ids: Mapping[str, str] = field(default_factory=dict)  # the ids filled into the path

    def request(self) -> dict[str, Any]:
        """The request as it will be sent (Stripe's form fields), for a dry run."""
        request: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.spec.host:
            request["host"] = self.spec.host
        if self.account:
            request["stripe_account"] = self.account
        if self.query:
            request["query"] = _form_fields(self.query)
        if self.body is not None:
            request["body"] = _form_fields(self.body)
        if self.uploads:
            request["files"] = {name: upload.summary() for name, upload in self.uploads.items()}
        if self.fetch_all:
            request["all_pages"] = True
            request["page_size"] = self.page_size or MAX_PAGE_SIZE
        if self.idempotency_key:
            request["idempotency_key"] = self.idempotency_key
        return request


def refuse_unreachable(mode: ConnectionMode, call: PreparedCall) -> None:
    """Refuse a call on Stripe's files host that ``mode`` cannot make (an upload through Paragon,
    anything through PinkConnect): before it is sent, and in a dry run's answer too."""
    if call.spec.host:
        why = mode.cannot_reach(call.spec.host, upload=call.spec.body == "multipart")
        if why:
            raise GuardrailRefusal(why, param="action", reason="connection_mode")


def _form_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form pairs as an object; a repeated key (expand[]) keeps every value in a list."""
    fields: dict[str, Any] = {}
    for key, value in encode_form(values):
        if key in fields:
            fields[key] = [*fields[key], value] if isinstance(fields[key], list) else [fields[key], value]
        else:
            fields[key] = value
    return fields


def prepare_call(action: Any, entity: Any, params: Mapping[str, Any], *, account: str | None = None, paths: bool = True) -> PreparedCall:
    """Check a call against Stripe's spec and map it to a request; never sends anything.

    ``account``: a connected account for this call (checked by the caller's guardrails).
    ``paths``: an upload may name a local file (the MCP server says no: content only).
    Raises ``ActionInputError`` naming the parameter and listing what is accepted."""
    spec = find_action(action, entity)
    if spec.unsupported:
        raise refuse("action", f"'{spec.name}' cannot be called through this connection: {spec.unsupported}.")
    renamed = callers_names(spec, params)
    try:
        prepared = _prepare(spec, _rename_aliases(spec, params), paths)
    except ActionInputError as exc:
        raise in_callers_names(exc, renamed) from None
    return dataclasses.replace(prepared, account=account) if account else prepared


def callers_names(spec: ActionSpec, params: Mapping[str, Any]) -> dict[str, str]:
    """Stripe's name -> the alias the caller used for it (unit_amount -> amount)."""
    return {target: name for name, target in _alias_targets(spec).items() if name in params}


def in_callers_names(exc: ActionInputError, renamed: Mapping[str, str]) -> ActionInputError:
    """An error about a parameter given by its seed name speaks of that name (amount, not unit_amount)."""
    given = renamed.get(exc.param or "")
    if given is None:
        return exc
    message = exc.base.replace(f"'{exc.param}'", f"'{given}'")
    if isinstance(exc, GuardrailRefusal):  # a guardrail's refusal keeps its kind
        return GuardrailRefusal(message, param=given, reason=exc.reason, accepted=exc.accepted, hint=exc.hint)
    return ActionInputError(message, param=given, accepted=exc.accepted, hint=exc.hint)


def _prepare(spec: ActionSpec, values: dict[str, Any], paths: bool = True) -> PreparedCall:
    _refuse_unknown(spec, values)
    uploads = {
        name: read_upload(values.pop(name), name, paths=paths)
        for name in list(values)
        if name in spec.properties and is_upload(spec.properties[name])
    }
    save_to = values.pop("save_to", None) if "save_to" in spec.extras else None
    if save_to is not None and (not isinstance(save_to, str) or not save_to.strip()):
        raise refuse("save_to", "'save_to' must be a local path to write the answer to.")
    values = unflatten(values, spec.properties)

    fetch_all = False
    if "all" in spec.extras and values.get("all") is not None:
        fetch_all = coerce({"type": "boolean"}, values["all"], "all")
    values.pop("all", None)
    idempotency_key = values.pop("idempotency_key", None) if "idempotency_key" in spec.extras else None
    if idempotency_key is not None:
        idempotency_key = _idempotency_key(idempotency_key)

    _refuse_missing(spec, {**values, **uploads})
    path = spec.path
    if spec.own_path and (spec.id_param is None or values.get(spec.id_param) is None):
        path = spec.own_path  # GET /v1/account: the key's own account
    path_ids = {name: path_id(values.pop(name), name) for name in spec.path_params if name in values}
    path = fill_path(path, path_ids)

    converted: dict[str, Any] = {}
    for name, value in values.items():
        if value is not None:
            converted[name] = coerce(spec.properties[name], value, name)

    generated = False
    if idempotency_key is None and spec.generates_idempotency_key:
        idempotency_key, generated = f"stripe-connection-{uuid.uuid4()}", True
    if spec.method == "POST":
        return PreparedCall(
            spec,
            "POST",
            path,
            body=converted,
            idempotency_key=idempotency_key,
            idempotency_key_generated=generated,
            uploads=uploads,
            path_ids=path_ids,
        )
    page_size = None
    if fetch_all:
        page_size = converted.pop("limit", None)
    return PreparedCall(
        spec, spec.method, path, query=converted or None, fetch_all=fetch_all, page_size=page_size, save_to=save_to, path_ids=path_ids
    )


def _alias_targets(spec: ActionSpec) -> dict[str, str]:
    aliases = {**spec.id_aliases, **spec.aliases}
    if "id" in spec.extras and spec.id_param:  # an extra only where the action has an id parameter
        aliases["id"] = spec.id_param
    return aliases


def _rename_aliases(spec: ActionSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's names (and ``id``) to Stripe's; giving both names is refused."""
    aliases = _alias_targets(spec)
    values: dict[str, Any] = {}
    for name, value in params.items():
        target = aliases.get(name, name)
        if target in values:
            given = next(n for n in params if aliases.get(n, n) == target and n != name)
            param = "id" if "id" in (name, given) else name
            raise refuse(param, f"'{given}' and '{name}' are the same parameter ({target}); give it once.", (target,))
        values[target] = value
    return values


def _refuse_unknown(spec: ActionSpec, values: Mapping[str, Any]) -> None:
    known = set(spec.properties) | set(spec.extras)
    for name in values:
        split = split_name(name) if isinstance(name, str) else None
        top = split[0] if split else name
        if top in known:
            continue
        from difflib import get_close_matches  # only on this error path

        close = get_close_matches(str(top), sorted(known), n=3, cutoff=0.75)
        near = f" Did you mean {' or '.join(close)}?" if close else ""
        credential = names_a_credential(str(name))
        accepted = spec.accepted
        raise refuse(
            str(name),
            f"Unknown parameter {show(name)} for {spec.name}.{near} Accepted are: {', '.join(accepted)}.",
            accepted,
            hint=Hint(CREDENTIALS) if credential else None,
        )


def _refuse_missing(spec: ActionSpec, values: Mapping[str, Any]) -> None:
    def blank(value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    missing = [name for name in spec.required if blank(values.get(name))]
    if not missing:
        return
    reverse: dict[str, list[str]] = {}
    for alias, target in {**spec.aliases, **spec.id_aliases}.items():
        split = split_name(target)
        reverse.setdefault(split[0] if split else target, []).append(alias)
    if spec.id_param and "id" in spec.extras:
        reverse.setdefault(spec.id_param, []).append("id")
    named = [f"'{n}'" + (f" (or {', '.join(reverse[n])})" if n in reverse else "") for n in missing]
    seed_first = [reverse[n][0] if n in reverse and reverse[n][0] != "id" else n for n in missing]
    raise refuse(
        seed_first[0],
        f"Missing required parameter{'s' if len(missing) > 1 else ''} {', '.join(named)} for {spec.name}: "
        f"required are {', '.join(spec.required)}.",
        [reverse[n][0] if n in reverse and reverse[n][0] != "id" else n for n in spec.required],
        hint=Hint(DESCRIBE, entity=spec.entity, action=spec.action),
    )


def _idempotency_key(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _IDEMPOTENCY_KEY_MAX or not value.isprintable() or " " in value:
        raise refuse("idempotency_key", "'idempotency_key' must be 1 to 255 printable characters without spaces.")
    return value


# ------------------------------------------------------------------------------------------
# The connection
# ------------------------------------------------------------------------------------------

# Retries and warnings of the actions. Not under the connectors' "airbyte" logger: once the CDK
# is loaded, that one prints Airbyte messages on stdout. The CLI sends these lines to stderr.
log = logging.getLogger("source_stripe_proxy.actions")

# A person or an agent waits for the answer: give up well before the connectors' minutes of retries.
DEFAULT_TIMEOUT_SECONDS = 15.0
MAX_TIMEOUT_SECONDS = 600.0
TIMEOUT_CONFIG_KEY = "action_timeout_seconds"


def check_timeout(value: Any, name: str) -> float:
    """A total call deadline in seconds: a number above 0 and at most ``MAX_TIMEOUT_SECONDS``."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ConfigError(f"'{name}' must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}.")
    return float(value)


def action_timeout(config: Mapping[str, Any]) -> float:
    value = config.get(TIMEOUT_CONFIG_KEY) if isinstance(config, Mapping) else None
    return DEFAULT_TIMEOUT_SECONDS if value is None else check_timeout(value, TIMEOUT_CONFIG_KEY)


class StripeConnection:
    """Run any action: ``StripeConnection(config).run(action=..., entity=..., **params)``.

    ``config`` is the source's config (a ``credentials`` block plus optional ``api_base``,
    ``stripe_version``, ``account_id``, ``action_timeout_seconds``...). One connection holds one
    client (one session, one request budget, the same retries) for every call, from any thread.

    ``run`` returns Stripe's JSON unchanged, or raises ``ActionInputError`` (refused before any
    request), ``StripeAPIError`` subclasses (Stripe's ``error_type``, ``code``, ``param``,
    ``stripe_message``, ``http_status``), ``ConfigError`` or ``TransientError``;
    ``errors.error_to_dict`` turns any of them into Stripe's error object.

    Limits (``guardrails.py``), also read from the config's ``max_amount``, ``accounts`` and
    ``audit_log``: ``max_amount`` caps every amount parameter of a write (smallest currency
    unit); ``accounts`` (``["acct_1", ...]`` or ``"all"``) lets a call name a connected account
    with ``stripe_account=``; ``audit_log`` appends a JSON line per write attempt.

    After a write, ``last_idempotency_key`` holds the key sent (generated when none was given):
    pass it back as ``idempotency_key`` to retry after a timeout without creating twice.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        client: StripeClient | None = None,
        timeout_seconds: float | None = None,
        max_amount: int | None = None,
        accounts: Any = None,
        audit_log: str | None = None,
        environ: Mapping[str, str] | None = None,
        tool: str = "python",
    ):
        """``timeout_seconds``: the total time one call may take, retries included; default the
        config's ``action_timeout_seconds``, else ``DEFAULT_TIMEOUT_SECONDS``. ``environ``: where
        the limits' environment variables are read (the CLI passes the process's)."""
        from source_stripe_proxy.actions.attempts import Attempt
        from source_stripe_proxy.actions.audit import AuditLog
        from source_stripe_proxy.actions.guardrails import Guardrails, limits_from

        if client is None:
            from source_stripe_proxy.core.client import StripeClient
            from source_stripe_proxy.core.settings import ConnectionSettings

            deadline = action_timeout(config) if timeout_seconds is None else check_timeout(timeout_seconds, "timeout_seconds")
            client = StripeClient(ConnectionSettings.from_config(config), call_deadline_seconds=deadline, log=log)
        self.client = client
        self.last_idempotency_key: str | None = None
        cap, allowed, logs = limits_from(config, environ or {}, max_amount=max_amount, accounts=accounts, audit_log=audit_log)
        self.guardrails = Guardrails(max_amount=cap, accounts=allowed, configured_account=client.settings.account_id)
        self.audit = AuditLog(logs, secrets=client.settings.secrets) if logs else None
        self.attempt = Attempt(self.guardrails, tool, self.audit)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **limits: Any) -> StripeConnection:
        environ = os.environ if environ is None else environ
        return cls(config_from_env(environ), environ=environ, **limits)

    def prepare(
        self,
        action: Any = None,
        entity: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        stripe_account: str | None = None,
        **kwargs: Any,
    ) -> PreparedCall:
        """Parameters as keywords, or as ``params`` when a name is not a Python identifier
        (``metadata.plan``) or clashes with ``action``/``entity``. ``stripe_account``: a
        connected account for this call (allowed by ``accounts``)."""
        return self.attempt.prepare(find_action(action, entity), {**kwargs, **(params or {})}, stripe_account)

    def run(
        self,
        action: Any = None,
        entity: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        stripe_account: str | None = None,
        **kwargs: Any,
    ) -> Any:
        spec = find_action(action, entity)
        return self.attempt.run(spec, {**kwargs, **(params or {})}, account=stripe_account, send=self.send)

    def execute(self, call: PreparedCall) -> Any:
        """Send a prepared call under this connection's limits, with its audit line."""
        self.attempt.check(call)
        return self.attempt.send(call, self.send)

    def send(self, call: PreparedCall) -> Any:
        """Send a prepared call as it is: no limits, no audit (``execute`` and ``run`` add them)."""
        if call.idempotency_key:
            self.last_idempotency_key = call.idempotency_key
        if call.spec.body == "multipart" or call.spec.answer:
            return self._send_to_host(call)
        if call.fetch_all:
            return self._fetch_all(call)
        return self.client.send(
            call.method,
            call.path,
            params=call.query,
            data=call.body,
            idempotency_key=call.idempotency_key,
            account_id=call.account,
        ).data

    def check_reachable(self, call: PreparedCall) -> None:
        """Refuse, before anything is sent, a call this connection's mode cannot make."""
        refuse_unreachable(self.client.settings.connection_mode, call)

    def _send_to_host(self, call: PreparedCall) -> Any:
        """An upload, or a binary answer (saved to ``save_to``, else returned as bytes)."""
        self.check_reachable(call)
        files = {name: upload.part() for name, upload in call.uploads.items()} if call.spec.body == "multipart" else None
        answer = self.client.send_to_host(
            call.method,
            call.path,
            call.spec.host or STRIPE_API_BASE,
            params=call.body if files is not None else call.query,
            files=files,
            idempotency_key=call.idempotency_key,
            account_id=call.account,
        ).data
        if not call.spec.answer:
            return answer
        content = check_answer(answer, call.spec.answer, f"{call.method} {call.path}")
        return save(content, call.save_to) if call.save_to else content

    def _fetch_all(self, call: PreparedCall) -> dict[str, Any]:
        first: Mapping[str, Any] | None = None
        objects: list[Any] = []
        pages = self.client.list_pages(call.path, call.query, page_size=call.page_size or MAX_PAGE_SIZE, account_id=call.account)
        for page in pages:
            first = first or page
            objects.extend(page["data"])
        result: dict[str, Any] = dict(first or {"object": "list", "url": call.path})
        result["data"] = objects
        result["has_more"] = False
        return result


__all__ = [
    "ActionInputError",
    "PreparedCall",
    "StripeConnection",
    "prepare_call",
]
