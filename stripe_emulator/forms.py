"""Decode Stripe-style form bodies and query strings into nested dicts/lists.

Stripe clients flatten nested parameters with brackets:

    metadata[k]=v           -> {"metadata": {"k": "v"}}
    items[0][price]=p       -> {"items": [{"price": "p"}]}
    expand[]=a&expand[]=b   -> {"expand": ["a", "b"]}
    created[gte]=5          -> {"created": {"gte": "5"}}

Values stay strings; converting them to Stripe's types is the job of the
schema validation in the server (it knows which param is an integer).
"""

import re
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\]]*)\]")


def split_key(key):
    """'items[0][price]' -> ['items', '0', 'price']; 'expand[]' -> ['expand', '']."""
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    return [head, *_SEGMENT.findall(key[len(head) :])]


def parse(text):
    """Decode an urlencoded string into a nested structure of dicts, lists and strings."""
    root = {}
    for key, value in parse_qsl(text or "", keep_blank_values=True):
        _insert(root, split_key(key), value)
    return _lists_from_numeric_dicts(root)


def _insert(node, parts, value):
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            # "[]" appends. A later "[]" followed by a key already present starts a new element.
            if not isinstance(node, list):
                return  # conflicting shapes (e.g. "a=1&a[]=2"): ignore the odd one out
            if last:
                node.append(value)
                return
            nxt = parts[i + 1]
            if not node or not isinstance(node[-1], dict) or nxt in node[-1]:
                node.append({})
            node = node[-1]
            continue
        if not isinstance(node, dict):
            return
        if last:
            # A nested value wins over a blank scalar ("metadata=" then "metadata[a]=b").
            if not isinstance(node.get(part), (dict, list)):
                node[part] = value
            return
        child = node.get(part)
        want_list = parts[i + 1] == ""
        if not isinstance(child, (dict, list)):
            child = [] if want_list else {}
            node[part] = child
        node = child


def _lists_from_numeric_dicts(node):
    """Turn {"0": x, "1": y} into [x, y] (Stripe's indexed arrays), recursively."""
    if isinstance(node, list):
        return [_lists_from_numeric_dicts(v) for v in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _lists_from_numeric_dicts(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
