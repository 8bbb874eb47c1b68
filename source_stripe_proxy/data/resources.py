"""Stripe's resources and their operations: the one registry the faces read.

Generated from Stripe's OpenAPI description by ``scripts/generate_operations.py`` into
``generated/operations_index.json``: every entity (Stripe's object names, ``customer``,
``checkout_session``...) with its actions, their methods and path templates. The actions'
table is built on it (``actions/catalog.py``), the destination takes its paths from it, and the
stream catalogue (``generated/streams.json``) names the same objects (a test holds them together).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from source_stripe_proxy.data import load_generated


def entities() -> Mapping[str, Any]:
    """Entity name -> its names, actions and their flags."""
    return load_generated("operations_index.json")["entities"]


def operation(entity: str, action: str) -> Mapping[str, Any]:
    """One action of one entity: method, path template, description, flags."""
    return entities()[entity]["actions"][action]


def path(entity: str, action: str) -> str:
    """The path template of an action, e.g. ``path("customer", "get")`` -> ``/v1/customers/{customer}``."""
    return operation(entity, action)["path"]
