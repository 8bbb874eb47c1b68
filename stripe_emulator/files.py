"""Stripe's files host on the emulator: multipart uploads (POST /v1/files) and a quote's PDF
(GET /v1/quotes/{quote}/pdf, application/pdf).

Real Stripe serves both from https://files.stripe.com; the emulator serves every host on its
one port, as a client pointed at it (api_base) sends both there. Uploaded files are catalogue
objects (``files``: listed and retrieved by the generic routes), with their bytes kept per
account; ``file_link_data[create]=true`` also makes a file link, as Stripe does.
"""

import email.parser
import email.policy
import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from . import catalog, forms
from .httpbase import Response
from .schema import StripeError, invalid, parameter_missing, resource_missing

# Stripe's purposes for an upload (its spec's enum for POST /v1/files).
PURPOSES = (
    "account_requirement",
    "additional_verification",
    "business_icon",
    "business_logo",
    "customer_signature",
    "dispute_evidence",
    "identity_document",
    "issuing_regulatory_reporting",
    "pci_document",
    "tax_document_user_upload",
    "terminal_reader_splashscreen",
)
FILE_FIELDS = {"purpose", "file", "file_link_data", "expand"}
FINALIZED_QUOTES = ("open", "accepted")
PDF_TYPE = "application/pdf"
_STORED = {}  # (account, file id) -> bytes


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes
    content_type: str

    def summary(self):
        """How the request log shows it: never the bytes themselves."""
        return {
            "filename": self.filename,
            "bytes": len(self.content),
            "type": self.content_type,
            "sha256": hashlib.sha256(self.content).hexdigest(),
        }


def is_multipart(content_type):
    return (content_type or "").lower().startswith("multipart/form-data")


def parse_multipart(body, content_type):
    """A multipart/form-data body -> its fields (nested as a form's) with each file part an
    ``UploadedFile`` under its field name. A body that does not parse is Stripe's 400."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise invalid("Invalid multipart body: no parts found (check the boundary).")
    pairs, uploads = [], {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise invalid("Invalid multipart body: a part has no name.")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            uploads[name] = UploadedFile(filename, payload, part.get_content_type())
        else:
            pairs.append((name, payload.decode("utf-8", "replace")))
    params = forms.parse(urlencode(pairs))
    params.update(uploads)
    return params


def create_file(call):
    p = call.params
    unknown = sorted(set(p) - FILE_FIELDS)
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {unknown[0]}", code="parameter_unknown", param=unknown[0])
    upload = p.get("file")
    if not isinstance(upload, UploadedFile):
        raise parameter_missing("file")
    if not p.get("purpose"):
        raise parameter_missing("purpose")
    if p["purpose"] not in PURPOSES:
        raise invalid(f"Invalid purpose: must be one of {', '.join(PURPOSES)}", param="purpose")
    if not upload.content:
        raise invalid("The file you uploaded is empty.", param="file")
    obj = catalog.add(
        call.store,
        "files",
        {
            "id": call.store.new_id("file"),
            "purpose": p["purpose"],
            "size": len(upload.content),
            "filename": upload.filename,
            "title": upload.filename,
            "type": _extension(upload.filename),
            "expires_at": None,
            "links": {"object": "list", "data": [], "has_more": False, "url": "/v1/file_links"},
        },
    )
    obj["url"] = f"https://files.stripe.com/v1/files/{obj['id']}/contents"
    _STORED[(call.store.account_id, obj["id"])] = upload.content
    link_data = p.get("file_link_data") or {}
    if str(link_data.get("create", "")).lower() == "true":
        link = catalog.add(
            call.store,
            "file_links",
            {
                "id": call.store.new_id("link"),
                "file": obj["id"],
                "expired": False,
                "expires_at": None,
                "url": f"https://files.stripe.com/links/{obj['id']}",
            },
        )
        obj["links"] = dict(obj["links"], data=[link], url=f"/v1/file_links?file={obj['id']}")
    catalog.state(call.store).by_id["files"][obj["id"]].update(url=obj["url"], links=obj["links"])
    return 200, obj


def stored_content(store, file_id):
    """The bytes uploaded as ``file_id`` (tests compare them with what was sent)."""
    return _STORED.get((store.account_id, file_id))


def quote_pdf(call):
    quote_id = call.args[0]
    quote = catalog.state(call.store).by_id.get("quotes", {}).get(quote_id)
    if quote is None:
        raise resource_missing("quote", quote_id, param="quote")
    if quote.get("status") not in FINALIZED_QUOTES:
        raise invalid("This quote is not finalized: finalize it before downloading its PDF.", code="quote_not_finalized")
    return 200, Response(200, render_pdf(quote), [("Content-Type", PDF_TYPE)])


def render_pdf(quote):
    """A small, valid one-page PDF naming the quote and its total."""
    text = f"Quote {quote['id']} total {quote.get('amount_total')} {quote.get('currency') or ''}".replace("(", "[").replace(")", "]")
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _extension(filename):
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else None


_ID = r"(?P<id>[^/]+)"
ROUTES = [
    ("POST", r"/v1/files", create_file, "files"),
    ("GET", rf"/v1/quotes/{_ID}/pdf", quote_pdf, "quotes"),
]
