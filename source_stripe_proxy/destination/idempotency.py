"""Deterministic Idempotency-Keys and derived product ids: the same write gets the same key.

Idempotency keys: ``sp-<stream>-<action>-<sha256 hex[:48]>`` of the canonical JSON of
``["v1", stream, action, record key, target id, payload, before]``, where ``before`` is
the object's current value of every field the payload sets (updates only). The same
input against the same Stripe state gives the same key, so a retried or re-run write
replays instead of applying twice; a genuinely different write gets a different key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

IDEMPOTENCY_KEY_VERSION = "v1"
DERIVED_ID_PREFIX = "prod_x_"
DERIVED_ID_SLUG_MAX = 32
DERIVED_ID_HASH_CHARS = 16


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(
    stream: str,
    action: str,
    record_key: tuple[str, str],
    payload: Mapping[str, Any],
    *,
    target_id: str | None = None,
    before: Mapping[str, Any] | None = None,
) -> str:
    """Deterministic Idempotency-Key: same stream, key, target, payload and prior state -> same key."""
    material = [IDEMPOTENCY_KEY_VERSION, stream, action, list(record_key), target_id, payload, before]
    digest = hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()
    return f"sp-{stream}-{action}-{digest[:48]}"


def derived_product_id(external_id: str) -> str:
    """``prod_x_<readable slug>_<16 hex of sha256>``: stable, valid as a Stripe id, collision-safe."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", external_id).strip("_")[:DERIVED_ID_SLUG_MAX].strip("_")
    digest = hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:DERIVED_ID_HASH_CHARS]
    return f"{DERIVED_ID_PREFIX}{slug}_{digest}" if slug else f"{DERIVED_ID_PREFIX}{digest}"
