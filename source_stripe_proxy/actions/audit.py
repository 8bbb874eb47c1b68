"""The audit log: one JSON line per write attempt, sent or refused (``--audit-log FILE``).

A line holds when, which tool, entity, action and account, the idempotency key, the outcome
(``sent``, ``refused`` and why, ``declined``, ``failed`` with Stripe's error type, ``no_answer``,
``dry_run``) and the Stripe object's id. Of the call's parameters it keeps only ids (path ids
and values shaped like Stripe ids) and amounts: never a secret, a name, an email or free text.
Every line is scrubbed of the connection's secrets and of anything key-shaped as well.

Lines are appended with one ``write`` each on a file opened for appending, so concurrent
writers (threads, several processes on one file) never interleave within a line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from source_stripe_proxy.actions.guardrails import Amount
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.redaction import scrub

# A Stripe id: a lower-case prefix (cus_, pi_, acct_, ...) and a random part of letters and
# digits with at least one digit or capital (so an enum such as requested_by_customer is not
# one). Key-shaped values (sk_, rk_, pk_, whsec_) are never ids.
_STRIPE_ID = re.compile(r"^(?:[a-z]{1,12}_){1,3}(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{2,255}$")
_NOT_IDS = ("sk_", "rk_", "pk_", "whsec_")

OUTCOMES = ("sent", "refused", "declined", "failed", "no_answer", "dry_run")


def is_stripe_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_STRIPE_ID.match(value)) and not value.startswith(_NOT_IDS)


def ids_of(values: Mapping[str, Any], path_ids: Mapping[str, str]) -> dict[str, str]:
    """The ids a call names: its path ids, and its top-level values shaped like Stripe ids."""
    found = {name: value for name, value in path_ids.items() if isinstance(value, str)}
    for name, value in values.items():
        if name not in found and is_stripe_id(value):
            found[name] = value
    return found


class AuditLog:
    """Appends audit lines to each of ``paths`` (created with mode 0600 if missing): a log set
    in the config or the environment keeps its lines when a command line names another."""

    def __init__(self, paths: Sequence[str], *, secrets: Sequence[str] = ()):
        self.paths = tuple(dict.fromkeys(os.path.abspath(os.path.expanduser(p)) for p in paths))
        self.secrets = tuple(s for s in secrets if s)
        self._lock = threading.Lock()
        self._fds = []
        for path in self.paths:
            try:
                self._fds.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            except OSError as exc:
                self.close()
                raise ConfigError(f"Cannot open the audit log {path} for appending: {exc.strerror or exc}.") from None

    def record(
        self,
        *,
        tool: str,
        entity: str | None,
        action: str | None,
        account: str | None,
        outcome: str,
        idempotency_key: str | None = None,
        reason: str | None = None,
        param: str | None = None,
        error: Mapping[str, Any] | None = None,
        object_id: str | None = None,
        amounts: Sequence[Amount] = (),
        ids: Mapping[str, str] | None = None,
        moves_money: bool = False,
    ) -> dict[str, Any]:
        """Write one line; returns what was written."""
        line: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "tool": tool,
            "entity": entity,
            "action": action,
            "account": account,
            "outcome": outcome,
            "idempotency_key": idempotency_key,
        }
        if moves_money:
            line["moves_money"] = True
        if reason:
            line["reason"] = reason
        if param:
            line["param"] = param
        if error:  # Stripe's classification, never its message (it may echo values)
            line["error"] = {key: error[key] for key in ("type", "code", "http_status") if error.get(key) is not None}
        if object_id:
            line["object_id"] = object_id
        if amounts:
            line["amounts"] = [{"param": a.param, "value": a.value, "currency": a.currency} for a in amounts]
        if ids:
            line["ids"] = dict(ids)
        text = scrub(json.dumps(line, ensure_ascii=False, separators=(",", ":")), self.secrets) + "\n"
        with self._lock:
            for fd in self._fds:
                os.write(fd, text.encode("utf-8"))
        return line

    def close(self) -> None:
        with self._lock:
            for fd in self._fds:
                os.close(fd)
            self._fds = []

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        with contextlib.suppress(Exception):
            self.close()
