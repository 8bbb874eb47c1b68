"""How the action search reads words: one rule for the index and for a query.

``scripts/generate_operations.py`` loads this file by path (it stays standard-library only)
to build ``data/generated/search_index.json`` from the spec's own words; ``search.py`` reads
a query with the same rule, so both sides meet on the same stems.
"""

from __future__ import annotations

import re

# Words that say nothing about which action is meant.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "for",
        "from",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "so",
        "some",
        "that",
        "the",
        "their",
        "them",
        "this",
        "to",
        "up",
        "us",
        "want",
        "we",
        "what",
        "when",
        "which",
        "with",
        "you",
        "your",
    ]
)

# Plain words for an action's verb, added to the index beside Stripe's own verb, so "make a
# new customer" or "issue a credit note" meet `create`. Reviewed by hand; short on purpose.
VERB_WORDS = {
    "create": ("new", "add", "make", "issue", "open", "start", "set up"),
    "get": ("retrieve", "show", "fetch", "look up", "read", "details", "find"),
    "list": ("all", "every", "show", "find", "browse"),
    "search": ("find", "query", "look up", "lookup"),
    "update": ("change", "edit", "modify", "rename", "set"),
    "delete": ("remove", "erase"),
    "cancel": ("stop", "end", "terminate"),
    "pay": ("collect", "charge"),
    "capture": ("collect", "settle"),
    "void": ("annul", "invalidate"),
    "finalize": ("complete", "lock"),
    "send": ("email", "deliver"),
    "pdf": ("download", "document", "file"),
}

# Plain words for some entities, for requests that do not use Stripe's noun: "pay out my
# balance" (a payout), "charge a card", "money back" (a refund). Reviewed by hand; short.
ENTITY_WORDS = {
    "payout": ("pay out", "send funds to bank"),
    "topup": ("top up", "add funds"),
    "transfer": ("send money", "move funds to connected account"),
    "charge": ("payment", "card"),
    "payment_intent": ("payment", "charge", "card", "collect"),
    "refund": ("money back", "return"),
    "credit_note": ("credit",),
    "customer_balance_transaction": ("credit", "adjust balance"),
    "subscription": ("plan", "recurring"),
    "checkout_session": ("checkout", "payment page"),
    "file": ("upload", "document"),
    "dispute": ("chargeback",),
}

_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """A light suffix rule, the same on both sides: refunds, refunded, refunding -> refund;
    invoice, invoices -> invoic; cancelled, canceling -> cancel; billing, bill -> bil."""
    if len(word) == 3 and word.endswith("s") and word[1] not in "aeious":  # ids -> id
        return word[:2]
    if len(word) <= 3 or word.isdigit():
        return word
    if not word.endswith(("ss", "us", "is")):
        for suffix, keep in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: len(word) - len(suffix)] + keep
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouys":
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Stems of the words of ``text`` that carry meaning, in order ('tax_ids' -> tax, id)."""
    return [stem(word) for word in _WORD.findall(text.lower().replace("_", " ")) if word not in STOP_WORDS]
