"""Stripe's form encoding: nested values flatten into bracketed keys.

    {"metadata": {"plan": "gold"}}        -> metadata[plan]=gold
    {"items": [{"price": "price_1"}]}     -> items[0][price]=price_1
    {"expand": ["data.customer"]}         -> expand[]=data.customer
    {"active": True}                      -> active=true

``None`` values are left out (Stripe reads a missing key as "no change"); send "" to clear.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Tuple

FormPairs = List[Tuple[str, str]]


def encode_form(params: Mapping[str, Any]) -> FormPairs:
    return list(_flatten(params, prefix=None))


def _flatten(value: Any, prefix: Any) -> Iterator[Tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}[{key}]" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        if not value:
            yield prefix, ""  # an empty list clears the field on Stripe's side
        elif all(_is_scalar(item) for item in value):
            for item in value:
                yield f"{prefix}[]", _scalar(item)
        else:
            for index, item in enumerate(value):
                yield from _flatten(item, f"{prefix}[{index}]")
    elif value is not None:
        yield prefix, _scalar(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_multipart(params: Mapping[str, Any], files: Mapping[str, Tuple[str, bytes, str]], boundary: str) -> bytes:
    """A multipart/form-data body (RFC 7578): ``params`` as form fields in Stripe's bracket
    notation, ``files`` as ``{field: (filename, content, content type)}``. The caller sends
    ``Content-Type: multipart/form-data; boundary=<boundary>``."""
    lines: List[bytes] = []
    dash = f"--{boundary}".encode()
    for key, value in encode_form(params):
        lines += [dash, f'Content-Disposition: form-data; name="{_quoted(key)}"'.encode(), b"", value.encode("utf-8")]
    for field, (filename, content, content_type) in files.items():
        lines += [
            dash,
            f'Content-Disposition: form-data; name="{_quoted(field)}"; filename="{_quoted(filename)}"'.encode("utf-8"),
            f"Content-Type: {content_type}".encode(),
            b"",
            content,
        ]
    lines += [dash + b"--", b""]
    return b"\r\n".join(lines)


def _quoted(text: str) -> str:
    """A name inside a quoted header parameter: quotes, backslashes and line breaks escaped (RFC 7578 4.2)."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
