"""Keeping secrets out of output: the one place that knows what a secret looks like.

Two kinds are removed: the exact values of this connection's secrets (a key, a proxy token,
extra header values), and anything shaped like a Stripe key, since Stripe and proxies echo
masked or foreign keys in some messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "****"
REDACTED_KEY = "[redacted key]"
# sk_ (secret), rk_ (restricted) and pk_ (publishable) keys, test or live, masked or not.
KEY_PATTERN = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secret values and without anything key-shaped."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return KEY_PATTERN.sub(REDACTED_KEY, text)


CREDENTIAL_WORDS = ("key", "token", "secret", "password")


def names_a_credential(name: str) -> bool:
    """A parameter or option named like a credential (api_key, user_token): its value is never echoed."""
    return any(word in name.lower() for word in CREDENTIAL_WORDS)


def scrub_document(document: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON value with every string in it (keys too) scrubbed. String by string, not over its
    serialized text: a secret holding a quote or a backslash is escaped there and would slip by."""
    secrets = tuple(secrets)
    if isinstance(document, str):
        return scrub(document, secrets)
    if isinstance(document, dict):
        return {scrub(str(key), secrets): scrub_document(value, secrets) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [scrub_document(item, secrets) for item in document]
    return document
