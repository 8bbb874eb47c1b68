"""One call through the guardrails, the same way for every face: the CLI, the Python API and
the MCP server.

    account -> prepare (checks against Stripe's spec) -> amount cap -> [dry run] ->
    [the face's guards] -> [a person's confirmation] -> send -> the audit line

Each step refuses before anything is sent; every write attempt (sent, refused, declined,
failed) leaves one audit line when an audit log is set. Reads skip the cap, the confirmation
and the audit. The cap is a check of the call itself, so a dry run is held to it too, and so is
what the connection can carry (``can_send``: no upload through Paragon); the guards and the
confirmation stand before sending, so a dry run passes them by.

The MCP server's guards (``mcp_tools.StripeTools(guards=...)``) are the ``before`` of ``send``,
and its ``context.ask(Question) -> Answer`` (MCP elicitation, either protocol era) becomes this
module's ``ask`` through ``mcp_tools.ask_person_through``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.actions.audit import AuditLog, ids_of
from source_stripe_proxy.actions.catalog import ActionSpec
from source_stripe_proxy.actions.connection import PreparedCall, callers_names, in_callers_names, prepare_call
from source_stripe_proxy.actions.errors import ActionInputError, error_to_dict
from source_stripe_proxy.actions.guardrails import (
    GuardrailRefusal,
    Guardrails,
    amounts_of,
    confirmation_message,
)

ACCEPTED, DECLINED, CANNOT = "accepted", "declined", "cannot"
AskPerson = Callable[[str], str]  # the confirmation's message -> accepted / declined / cannot
Before = Callable[[PreparedCall], None]  # a face's own checks of a prepared call; raise to refuse


@dataclass(frozen=True)
class Attempt:
    """Who calls (``tool``: a tool name, ``cli`` or ``python``) and under which limits."""

    guardrails: Guardrails
    tool: str
    audit: AuditLog | None = None
    ask: AskPerson | None = None  # None: this face cannot ask a person
    paths: bool = True  # uploads may name local files

    def run(
        self,
        spec: ActionSpec,
        params: Mapping[str, Any],
        *,
        account: Any = None,
        dry_run: bool = False,
        send: Callable[[PreparedCall], Any],
        before: Before | None = None,
        can_send: Before | None = None,
    ) -> Any:
        """Check, confirm, send and audit one call; ``dry_run`` returns the request instead.
        ``can_send`` refuses what the connection cannot carry, so a dry run says so too;
        ``before`` holds the face's guards of a call that is sent."""
        prepared = self.prepare(spec, params, account)
        if can_send is not None:
            self._guard(prepared, can_send)
        if dry_run:
            self._audit(spec, prepared, "dry_run")
            return {"dry_run": True, "request": prepared.request()}
        return self.send(prepared, send, before)

    def prepare(self, spec: ActionSpec, params: Mapping[str, Any], account: Any = None) -> PreparedCall:
        """The account, the checks against the spec and the amount cap; a refusal is audited."""
        try:
            stripe_account = self.guardrails.account_for(account)
            prepared = prepare_call(spec.action, spec.entity, params, account=stripe_account, paths=self.paths)
            try:
                self.check(prepared)
            except ActionInputError as exc:
                raise in_callers_names(exc, callers_names(spec, params)) from None
        except ActionInputError as exc:
            self.refused(spec, exc, account=account if isinstance(account, str) else None)
            raise
        return prepared

    def check(self, prepared: PreparedCall) -> None:
        """The amount cap of a write (a prepared call built elsewhere is held to it too)."""
        spec = prepared.spec
        if not spec.read_only:
            self.guardrails.check_amounts(spec.name, spec.moves_money, self._amounts(prepared))

    def send(self, prepared: PreparedCall, send: Callable[[PreparedCall], Any], before: Before | None = None) -> Any:
        """The face's guards (``before``), the person's confirmation where needed, then
        ``send``, then the audit line. A question whose answer comes with a retry of the call
        (``mcp_tools.QuestionPending``) goes through unaudited: nothing happened yet."""
        spec = prepared.spec
        if before is not None:
            self._guard(prepared, before)
        self._confirm(spec, prepared)
        try:
            result = send(prepared)
        except Exception as exc:
            if isinstance(exc, GuardrailRefusal):
                self._audit(spec, prepared, "refused", reason=exc.reason, param=exc.param)
            else:
                error = error_to_dict(exc)["error"]
                outcome = "no_answer" if error.get("type") == "api_connection_error" else "failed"
                self._audit(spec, prepared, outcome, error=error)
            raise
        object_id = result.get("id") if isinstance(result, Mapping) and isinstance(result.get("id"), str) else None
        self._audit(spec, prepared, "sent", object_id=object_id)
        return result

    def _guard(self, prepared: PreparedCall, guard: Before) -> None:
        """Run ``guard``; its refusal is audited."""
        try:
            guard(prepared)
        except ActionInputError as exc:
            reason = exc.reason if isinstance(exc, GuardrailRefusal) else "guard"
            self._audit(prepared.spec, prepared, "refused", reason=reason, param=exc.param)
            raise

    def refused(self, spec: ActionSpec, exc: ActionInputError, *, account: str | None = None) -> None:
        """The audit line of a write refused before it was prepared (policy, account, parameters)."""
        if self.audit is None or spec.read_only:
            return
        reason = exc.reason if isinstance(exc, GuardrailRefusal) else "invalid_parameter"
        self.audit.record(
            tool=self.tool,
            entity=spec.entity,
            action=spec.action,
            account=account,
            outcome="refused",
            reason=reason,
            param=exc.param,
            moves_money=spec.moves_money,
        )

    # -- steps -----------------------------------------------------------------------------

    def _confirm(self, spec: ActionSpec, prepared: PreparedCall) -> None:
        if not self.guardrails.needs_confirmation(spec.read_only, spec.moves_money):
            return
        message = confirmation_message(
            spec.name, self._amounts(prepared), self._ids(prepared), prepared.account or self.guardrails.configured_account
        )
        answer = self.ask(message) if self.ask is not None else CANNOT
        if answer == ACCEPTED:
            return
        if answer == DECLINED:
            self._audit(spec, prepared, "declined")
            raise GuardrailRefusal(f"The person declined '{spec.name}'; nothing was sent.", param="action", reason="declined")
        self._audit(spec, prepared, "refused", reason="cannot_confirm")
        raise GuardrailRefusal(
            f"'{spec.name}' needs a person's confirmation (--confirm {self.guardrails.confirm}), and this client cannot "
            "ask one (it does not support MCP elicitation); nothing was sent.",
            param="action",
            reason="cannot_confirm",
        )

    def _audit(self, spec: ActionSpec, prepared: PreparedCall, outcome: str, **fields: Any) -> None:
        if self.audit is None or spec.read_only:
            return
        self.audit.record(
            tool=self.tool,
            entity=spec.entity,
            action=spec.action,
            account=prepared.account or self.guardrails.configured_account,
            outcome=outcome,
            idempotency_key=prepared.idempotency_key,
            amounts=self._amounts(prepared),
            ids=self._ids(prepared),
            moves_money=spec.moves_money,
            **fields,
        )

    @staticmethod
    def _amounts(prepared: PreparedCall) -> list:
        return amounts_of(prepared.spec.amount_fields, prepared.body or prepared.query or {})

    @staticmethod
    def _ids(prepared: PreparedCall) -> Mapping[str, str]:
        return ids_of(prepared.body or prepared.query or {}, prepared.path_ids)
