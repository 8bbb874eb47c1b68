"""Files generated from Stripe's OpenAPI description, and the one loader for them.

``generated/*.json`` are tables (endpoints, parameters, event types) and ``schemas/*.json``
the streams' JSON schemas, all written by ``scripts/generate_schemas.py`` and
``scripts/generate_operations.py`` and committed; ``provenance.json`` records the sha256 of the
spec each came from (``make check-generated`` regenerates and compares). Stripe's spec itself is
never read at run time. Each file is parsed once per process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load_generated(name: str) -> Any:
    """``generated/<name>``, e.g. ``load_generated("endpoints.json")``."""
    return _load("generated", name)


@cache
def load_schema(stream_name: str) -> Mapping[str, Any]:
    """The JSON schema of a stream's records."""
    return _load("schemas", f"{stream_name}.json")


def _load(folder: str, name: str) -> Any:
    return json.loads((files(__name__) / folder / name).read_text(encoding="utf-8"))
