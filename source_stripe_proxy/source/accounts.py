"""The Connect accounts a sync reads (``account_ids``), and telling a disconnected account apart.

``"all"`` lists ``/v1/accounts`` through the concurrent reader, like any list: its ``created``
ranges split themselves across workers, so the thousands of accounts of a platform are listed
in a few round trips rather than one page after another.

An account the platform can no longer reach (disconnected, deauthorized, or never connected)
answers every request with Stripe's 403 ``account_invalid`` ("... does not have access to
account 'acct_...' ... Application access may have been revoked."). That is not a stream the
key lacks a permission for (also a 403, but naming a ``rak_...`` permission, per stream:
``availability.py``): the account is gone, for every stream at once.
"""

from __future__ import annotations

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import PermissionDeniedError
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE
from source_stripe_proxy.source.options import ALL_ACCOUNTS
from source_stripe_proxy.source.reader import ConcurrentReader, Failed, ReadPlan, Records

ACCOUNTS_PATH = "/v1/accounts"
ACCOUNT_INVALID = "account_invalid"  # Stripe's code for a Stripe-Account the key can't act for


def connected_accounts(client: StripeClient, account_ids: tuple[str, ...] | None, concurrency: int = 1) -> tuple[str, ...] | None:
    """The accounts to read: as configured, or for ``"all"`` every account ``/v1/accounts``
    lists (newest first), read with up to ``concurrency`` requests in flight."""
    if account_ids != ALL_ACCOUNTS:
        return account_ids
    plan = ReadPlan(name="connected accounts", path=ACCOUNTS_PATH, fixed_params={}, intervals=((None, None),), page_size=MAX_PAGE_SIZE)
    created: dict[str, int] = {}
    for signal in ConcurrentReader(client, max(1, concurrency), stop_on=lambda error: True).run([plan]):
        if isinstance(signal, Records):
            created.update((account["id"], account.get("created") or 0) for account in signal.records)
        elif isinstance(signal, Failed):
            raise signal.error
    return tuple(sorted(created, key=lambda account: (-created[account], account)))


def account_gone(error: BaseException) -> bool:
    """Stripe says the platform can't act for this account any more (or never could)."""
    return isinstance(error, PermissionDeniedError) and error.code == ACCOUNT_INVALID
