"""Limits on what a call may do, checked before anything is sent: an amount cap, the accounts
a call may act for, and which calls need a person's confirmation.

The same rules for every face: the CLI and the Python API (``StripeConnection``) and the MCP
server (``mcp_tools.StripeTools``). A refusal is a ``GuardrailRefusal``: an
``ActionInputError`` that names the parameter and carries a short ``reason`` for the audit log.

* ``--max-amount N`` (smallest currency unit): every amount parameter of a write, at any depth
  (the generated table lists them per action: ``amount``, ``unit_amount``, ``amount_to_capture``,
  ``line_items[0][price_data][unit_amount]``...), must be at most N. A call that moves money
  and shows no amount (a refund of the whole charge, paying an invoice) is refused too: a cap
  that cannot see an amount cannot hold it.
* ``--accounts acct_1,acct_2`` or ``all``: which connected accounts a call may name (sent as
  ``Stripe-Account``). Without it, naming one is refused and the configured ``account_id``
  alone is used.
* ``--confirm money|writes|none``: which calls wait for a person's yes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.actions.errors import ActionInputError, Hint, Words, python_words
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.stripe_facts import currency_exponent

ACCOUNT_PARAM = "account"
ALL_ACCOUNTS = "all"
CONFIRM_MODES = ("none", "money", "writes")
MAX_AMOUNT_LIMIT = 10**12  # above any amount Stripe takes; a larger cap is a typo
_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


class GuardrailRefusal(ActionInputError):
    """A call refused by a limit of this connection; ``reason`` names the limit for the audit."""

    def __init__(self, message: str, *, param: str | None, reason: str, accepted: Sequence[str] = (), hint: Hint | None = None):
        self.reason = reason
        super().__init__(message, param=param, accepted=accepted, hint=hint)

    def to_dict(self, words: Words = python_words) -> Mapping[str, Any]:
        error = dict(super().to_dict(words)["error"])
        error["code"] = self.reason  # which limit: max_amount, account, policy, declined, cannot_confirm...
        return {"error": error}


# ------------------------------------------------------------------------------------------
# Reading the options (command line, config, environment)
# ------------------------------------------------------------------------------------------


def parse_max_amount(value: Any, name: str) -> int | None:
    """A cap in the smallest currency unit: a whole number from 0, or None when not set."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = value.strip() if isinstance(value, str) else value
    if isinstance(number, str) and re.fullmatch(r"[0-9]+", number):
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_AMOUNT_LIMIT:
        raise ConfigError(
            f"'{name}' must be a whole number of the smallest currency unit (cents: 5000 is 50.00 USD), from 0 to {MAX_AMOUNT_LIMIT}."
        )
    return number


Accounts = str | frozenset[str] | None  # None: none beyond the configured one; "all"; or these


def parse_accounts(value: Any, name: str) -> Accounts:
    """``acct_1,acct_2`` (or a list of them), or ``all``; None when not set."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"'{name}' must be connected account ids separated by commas (acct_1,acct_2), or all.")
    ids = [item.strip() for item in items if item.strip()]
    if ids == [ALL_ACCOUNTS]:
        return ALL_ACCOUNTS
    bad = [item for item in ids if not _ACCOUNT_ID.match(item)]
    if bad or not ids:
        raise ConfigError(
            f"'{name}' must be connected account ids (acct_ followed by letters and digits) separated by commas, "
            f"or all; {len(bad)} of them are not."
            if bad
            else f"'{name}' names no account; give acct_... ids or all."
        )
    return frozenset(ids)


def parse_confirm(value: Any, name: str) -> str:
    mode = (value or "none").strip().lower() if isinstance(value, str) or value is None else value
    if mode not in CONFIRM_MODES:
        raise ConfigError(f"'{name}' must be one of {', '.join(CONFIRM_MODES)}.")
    return mode


# The same limits in a config file and in the environment; every one given holds at once
# (the lowest cap, the accounts in every list), so an option cannot loosen what the operator set.
LIMIT_SOURCES = (
    # config key      environment variable             command-line option
    ("max_amount", "STRIPE_CONNECTION_MAX_AMOUNT", "--max-amount"),
    ("accounts", "STRIPE_CONNECTION_ACCOUNTS", "--accounts"),
    ("audit_log", "STRIPE_CONNECTION_AUDIT_LOG", "--audit-log"),
)


def limits_from(
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    max_amount: Any = None,
    accounts: Any = None,
    audit_log: str | None = None,
) -> tuple[int | None, Accounts, list[str]]:
    """(cap, accounts, audit log paths) from the options, the environment and the config."""
    given = {}
    for key, variable, option in LIMIT_SOURCES:
        given[key] = [
            (option, {"max_amount": max_amount, "accounts": accounts, "audit_log": audit_log}[key]),
            (variable, environ.get(variable)),
            (key, config.get(key) if isinstance(config, Mapping) else None),
        ]
    cap = tightest_cap(*(parse_max_amount(value, name) for name, value in given["max_amount"]))
    allowed = narrowest_accounts(*(parse_accounts(value, name) for name, value in given["accounts"]))
    logs = []
    for name, value in given["audit_log"]:
        if value is None or value == "":
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"'{name}' must be the path of a file to append the audit log to.")
        if value:
            logs.append(value.strip())
    return cap, allowed, logs


def tightest_cap(*caps: int | None) -> int | None:
    """Several caps given (option, environment, config): the lowest holds."""
    given = [cap for cap in caps if cap is not None]
    return min(given) if given else None


def narrowest_accounts(*lists: Accounts) -> Accounts:
    """Several account lists given: an account must be in every one."""
    given = [item for item in lists if item is not None]
    if not given:
        return None
    named = [item for item in given if isinstance(item, frozenset)]  # the rest say "all"
    if not named:
        return ALL_ACCOUNTS
    allowed = frozenset.intersection(*named)
    if not allowed:
        raise ConfigError("The account lists given (--accounts, the environment, the config) have no account in common.")
    return allowed


# ------------------------------------------------------------------------------------------
# Amounts of a prepared call
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    param: str  # in Stripe's form notation: line_items[0][price_data][unit_amount]
    value: int | float
    currency: str | None

    def shown(self) -> str:
        """'10.00 USD (1000)' where the currency is known, else '1000 in the smallest unit'."""
        if not self.currency:
            return f"{self.value:g} in the smallest currency unit"
        exponent = currency_exponent(self.currency)
        major = f"{self.value / 10**exponent:,.{exponent}f}"
        return f"{major} {self.currency.upper()} ({self.value:g})"


def amounts_of(fields: Sequence[Sequence[str]], values: Mapping[str, Any]) -> list[Amount]:
    """Every amount ``values`` gives at the paths ``fields`` ('*': each item of a list)."""
    found: list[Amount] = []
    for field in fields:
        for where, value, parent in _at(values, list(field), "", values):
            number = _number(value)
            if number is not None:
                currency = parent.get("currency") if isinstance(parent.get("currency"), str) else values.get("currency")
                found.append(Amount(where, number, currency if isinstance(currency, str) else None))
    return found


def _at(value: Any, path: list[str], where: str, parent: Mapping[str, Any]) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    if not path:
        yield where, value, parent
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _at(item, rest, f"{where}[{index}]", parent)
    elif isinstance(value, Mapping) and head in value:
        yield from _at(value[head], rest, f"{where}[{head}]" if where else head, value)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):  # a decimal amount (unit_amount_decimal)
        try:
            return float(value)
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------------------------------
# The limits
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardrails:
    """The limits of one connection or server. ``configured_account``: the config's
    ``account_id`` (every call acts for it unless it names another)."""

    max_amount: int | None = None
    accounts: Accounts = None
    confirm: str = "none"
    configured_account: str | None = None

    @property
    def takes_account(self) -> bool:
        return self.accounts is not None

    def account_for(self, requested: Any) -> str | None:
        """The ``Stripe-Account`` of a call that named ``requested`` (None: the configured one)."""
        if requested is None or requested == "":
            return None
        if not isinstance(requested, str) or not _ACCOUNT_ID.match(requested.strip()):
            raise GuardrailRefusal(
                "'account' must be a connected account id such as acct_1Nv0FGQ9RKHgCVdK.", param=ACCOUNT_PARAM, reason="account"
            )
        account = requested.strip()
        if account == self.configured_account:
            return account
        if self.accounts is None:
            where = f"account {self.configured_account}" if self.configured_account else "the account of its key"
            raise GuardrailRefusal(
                f"This connection acts for {where} only: 'account' is refused. To let calls name connected accounts, "
                "allow them with --accounts acct_1,acct_2 (or --accounts all).",
                param=ACCOUNT_PARAM,
                reason="account",
            )
        if self.accounts != ALL_ACCOUNTS and account not in self.accounts:
            raise GuardrailRefusal(
                f"Account {account} is not one this connection may act for: --accounts allows {', '.join(sorted(self.accounts))}.",
                param=ACCOUNT_PARAM,
                reason="account",
                accepted=sorted(self.accounts),
            )
        return account

    def check_amounts(self, name: str, moves_money: bool, amounts: Sequence[Amount]) -> None:
        """Refuse a write whose amounts exceed the cap, or a money movement with none to check."""
        if self.max_amount is None:
            return
        for amount in amounts:
            if amount.value > self.max_amount:
                raise GuardrailRefusal(
                    f"'{amount.param}' is {amount.value:g}, over this connection's --max-amount of {self.max_amount} "
                    "(smallest currency unit); nothing was sent.",
                    param=amount.param,
                    reason="max_amount",
                )
        if moves_money and not amounts:
            raise GuardrailRefusal(
                f"'{name}' moves money, and its parameters carry no amount to hold against --max-amount "
                f"{self.max_amount}: without one it acts on a whole amount this connection cannot see (a refund of "
                "the full charge, an invoice's amount due). Give the amount where the action takes one; nothing was sent.",
                param="amount",
                reason="max_amount",
            )

    def needs_confirmation(self, read_only: bool, moves_money: bool) -> bool:
        if self.confirm == "writes":
            return not read_only
        return self.confirm == "money" and moves_money


def confirmation_message(name: str, amounts: Sequence[Amount], ids: Mapping[str, str], account: str | None) -> str:
    """What the person is asked: the action, its amounts and currency, what it acts on, the account."""
    parts = [f"Allow this Stripe call: {name}"]
    if amounts:
        parts.append(", ".join(f"{a.param}: {a.shown()}" for a in amounts))
    else:
        parts.append("no amount given (Stripe's default applies, such as the whole charge)")
    if ids:
        parts.append("on " + ", ".join(f"{key} {value}" for key, value in ids.items()))
    parts.append(f"for connected account {account}" if account else "for the account of this connection")
    return "; ".join(parts) + ". Confirm to send it; decline and nothing is sent."  # one line: clients show it as is


CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Send this call", "description": "true sends it; false stops it."}},
    "required": ["confirm"],
}
