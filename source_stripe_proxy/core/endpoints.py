"""Which Stripe endpoint a request counts against, for Stripe's per-endpoint rate limits.

Stripe limits each API operation separately: ``GET /v1/customers/cus_1`` and
``GET /v1/customers/cus_2`` share one limit (``GET /v1/customers/{customer}``), while
``GET /v1/customers/search`` has its own. The path templates come from Stripe's OpenAPI
spec through ``data/generated/endpoints.json`` (written by ``scripts/generate_schemas.py``);
the spec itself is never read at run time.

Matching walks the templates as a tree of path segments and prefers a literal segment
over a ``{param}`` one, so ``/v1/customers/search`` is not ``/v1/customers/{customer}``.
A path no template fits is its own endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from source_stripe_proxy.core.stripe_facts import SEARCH_REQUESTS_PER_SECOND
from source_stripe_proxy.data import load_generated


def fill_path(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` given in ``values`` replaced by its value, percent-encoded
    as one path segment (an id holding ``/`` or ``?`` can't reach another endpoint)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(value, safe=""))
    return template


class _Node:
    __slots__ = ("literals", "param", "template")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.template: str | None = None


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def compile_templates(templates: list[str]) -> _Node:
    root = _Node()
    for template in templates:
        node = root
        for segment in template.split("/"):
            if _is_param(segment):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        node.template = template
    return root


def _match(node: _Node, segments: list[str], index: int) -> str | None:
    if index == len(segments):
        return node.template
    segment = segments[index]
    child = node.literals.get(segment)
    if child is not None:
        found = _match(child, segments, index + 1)
        if found is not None:
            return found
    if node.param is not None and segment:  # an empty segment is no id
        return _match(node.param, segments, index + 1)
    return None


def match_template(root: _Node, path: str) -> str:
    """The template ``path`` belongs to, or ``path`` itself when none fits."""
    return _match(root, path.split("/"), 0) or path


_TEMPLATES: list[str] = load_generated("endpoints.json")
_ROOT = compile_templates(_TEMPLATES)

# Stripe's documented limits stricter than the default per-endpoint one: every Search API endpoint.
STRIPE_ENDPOINT_LIMITS: Mapping[tuple[str, str], float] = {
    ("GET", t): SEARCH_REQUESTS_PER_SECOND for t in _TEMPLATES if t.endswith("/search")
}  # (method, template) -> requests/s


def endpoint_template(path: str) -> str:
    """``/v1/customers/cus_123`` -> ``/v1/customers/{customer}``; the query string is ignored."""
    return match_template(_ROOT, path.split("?", 1)[0])
