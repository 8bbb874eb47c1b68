"""Files in and out: the upload of ``create file`` and the PDF of ``pdf quote``.

Stripe's spec types an upload's ``file`` as binary and says which operations live on its files
host (``https://files.stripe.com``); the generated table carries both (``body: multipart``,
``host``, ``answer``). An upload takes a local path (CLI, Python), bytes (Python) or
``{"name": ..., "content_base64": ...}`` (any face; the only form the MCP server accepts, so
an agent cannot send a file of the server's machine to Stripe). A binary answer is saved to
``save_to`` (CLI, Python) or handed back as bytes.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from source_stripe_proxy.actions.errors import refuse

# Stripe's file upload guide lists a size limit per purpose; the largest is 16 MB.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
CONTENT_KEY, NAME_KEY, TYPE_KEY = "content_base64", "name", "type"
PDF_MAGIC = b"%PDF-"

UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        NAME_KEY: {"type": "string", "description": "The file's name, such as receipt.pdf."},
        CONTENT_KEY: {"type": "string", "description": "The file's bytes, base64-encoded."},
        TYPE_KEY: {"type": "string", "description": "Its media type (default: guessed from the name)."},
    },
    "required": [NAME_KEY, CONTENT_KEY],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Upload:
    """One file of a multipart body."""

    name: str
    content: bytes
    content_type: str

    def part(self) -> tuple:
        return (self.name, self.content, self.content_type)

    def summary(self) -> dict[str, Any]:
        """What a dry run shows (never the content)."""
        return {"name": self.name, "bytes": len(self.content), "type": self.content_type}


def is_upload(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "binary"


def upload_schema(paths: bool) -> dict[str, Any]:
    """The JSON Schema of an upload parameter; with ``paths``, a local path is accepted too."""
    if not paths:
        return dict(UPLOAD_SCHEMA)
    return {
        "description": "The file to upload: a local path, or an object with its name and base64 content.",
        "anyOf": [{"type": "string", "description": "A local path."}, dict(UPLOAD_SCHEMA)],
    }


def read_upload(value: Any, where: str, *, paths: bool = True) -> Upload:
    """An upload parameter's value as a file to send; refused (naming ``where``) when it is
    missing, unreadable, too large, or a path where paths are not accepted."""
    if isinstance(value, Mapping):
        return _from_object(value, where)
    if isinstance(value, (bytes, bytearray)) and paths:
        return _checked(Upload("upload", bytes(value), "application/octet-stream"), where)
    if isinstance(value, (str, os.PathLike)) and paths:
        return _from_path(Path(value).expanduser(), where)
    accepted = "a local path, bytes, or " if paths else ""
    raise refuse(
        where, f"'{where}' must be {accepted}an object with '{NAME_KEY}' and '{CONTENT_KEY}' (base64).", (NAME_KEY, CONTENT_KEY, TYPE_KEY)
    )


def _from_object(value: Mapping[str, Any], where: str) -> Upload:
    unknown = [key for key in value if key not in (NAME_KEY, CONTENT_KEY, TYPE_KEY)]
    name, content = value.get(NAME_KEY), value.get(CONTENT_KEY)
    if unknown or not isinstance(name, str) or not name.strip() or not isinstance(content, str):
        raise refuse(
            where,
            f"'{where}' takes '{NAME_KEY}' (the file's name) and '{CONTENT_KEY}' (its bytes in base64), and optionally '{TYPE_KEY}'.",
            (NAME_KEY, CONTENT_KEY, TYPE_KEY),
        )
    if len(content) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise refuse(where, f"'{where}' is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the largest file Stripe takes.")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise refuse(f"{where}[{CONTENT_KEY}]", f"'{where}[{CONTENT_KEY}]' is not valid base64.") from None
    kind = value.get(TYPE_KEY) or _guess_type(name)
    if not isinstance(kind, str) or "/" not in kind or any(c in kind for c in '\r\n"'):
        raise refuse(f"{where}[{TYPE_KEY}]", f"'{where}[{TYPE_KEY}]' must be a media type such as application/pdf.")
    return _checked(Upload(os.path.basename(name.strip()), data, kind), where)


def _from_path(path: Path, where: str) -> Upload:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise refuse(where, f"'{where}': {path} is not a file.")
        if size > MAX_UPLOAD_BYTES:
            raise refuse(where, f"'{where}': {path} is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the largest file Stripe takes.")
        data = path.read_bytes()
    except OSError as exc:
        raise refuse(where, f"'{where}': cannot read {path}: {exc.strerror or exc}.") from None
    return _checked(Upload(path.name, data, _guess_type(path.name)), where)


def _checked(upload: Upload, where: str) -> Upload:
    if not upload.content:
        raise refuse(where, f"'{where}' is an empty file.")
    if len(upload.content) > MAX_UPLOAD_BYTES:
        raise refuse(where, f"'{where}' is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the largest file Stripe takes.")
    return upload


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# ------------------------------------------------------------------------------------------
# Binary answers
# ------------------------------------------------------------------------------------------


def check_answer(content: Any, media_type: str, what: str) -> bytes:
    """The bytes of a binary answer, checked to be what was asked for (a PDF starts %PDF-)."""
    from source_stripe_proxy.core.errors import StripeAPIError

    if not isinstance(content, (bytes, bytearray)) or (media_type == "application/pdf" and not bytes(content).startswith(PDF_MAGIC)):
        message = f"{what} answered something other than {media_type}."
        raise StripeAPIError(message, http_status=200, error_type="api_error", stripe_message=message)
    return bytes(content)


def save(content: bytes, destination: Any) -> dict[str, Any]:
    """Write ``content`` to ``destination`` whole (a temporary file, then renamed into place)."""
    path = Path(destination).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except OSError as exc:
        raise refuse("save_to", f"'save_to': cannot write {path}: {exc.strerror or exc}.") from None
    return {"saved_to": str(path), "bytes": len(content)}


def default_name(entity: str, ids: Mapping[str, str | None], media_type: str) -> str:
    """A file name for a download: quote-qt_123.pdf."""
    extension = mimetypes.guess_extension(media_type) or ".bin"
    ident = next((value for value in ids.values() if value), entity)
    return f"{entity}-{ident}{extension}"
