"""Emulators of the credential-injecting proxies that sit between us and Stripe.

Both check their own credentials, then forward the request upstream (our
StripeEmulator, localstripe, ...) with `Authorization: Bearer <stripe key>`
added, and return the upstream status, selected headers and body unchanged.
Neither the Stripe key nor the proxy token is ever logged or echoed.

  Paragon:      {base}/projects/{project_id}/sdk/proxy/{integration}/v1/...  -> upstream /v1/...
                or {base}/projects/{project_id}/sdk/proxy/{integration} with the full URL in
                X-Paragon-Proxy-Url (Stripe's api or files host)          -> upstream /v1/...
  PinkConnect:  {base}/v1/...                                                -> upstream /v1/...

Paragon's Proxy API documents JSON request bodies, and a binary answer only with the
X-Paragon-Use-Raw-Response header (docs.useparagon.com/apis/proxy). The emulator holds to
that: a multipart body is refused (415), and a non-JSON answer without the header is a 502.
"""

import hmac
import http.client
import re
from urllib.parse import urlsplit

from .httpbase import LoopbackServer, Response
from .server import html_error

# Request headers passed upstream (anything else, e.g. the proxy's own Authorization, is dropped).
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Idempotency-Key", "Stripe-Version", "Stripe-Account")
# Upstream response headers passed back to the client.
FORWARDED_RESPONSE_HEADERS = (
    "Content-Type",
    "Retry-After",
    "Stripe-Should-Retry",
    "Idempotent-Replayed",
    "Request-Id",
    "Original-Request",
    "Stripe-Version",
    "Stripe-Rate-Limited-Reason",
    "Date",
)

REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def bearer(req):
    scheme, _, value = (req.header("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def same_secret(given, expected):
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class _ForwardingProxy(LoopbackServer):
    def __init__(self, upstream_url, upstream_api_key, *, host="127.0.0.1", port=0, faults=None, timeout=30.0, log_limit=100_000):
        super().__init__(host, port, faults, log_limit)
        self.upstream_url = upstream_url.rstrip("/")
        self._upstream_api_key = upstream_api_key
        self.timeout = timeout
        self._secret_headers = {"authorization"}

    def __repr__(self):  # never show the key, even in a debugger or a failing assert
        return f"{type(self).__name__}(upstream_url={self.upstream_url!r})"

    def forward(self, req, path):
        upstream = urlsplit(self.upstream_url)
        conn_class = http.client.HTTPSConnection if upstream.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(upstream.hostname, upstream.port, timeout=self.timeout)
        target = upstream.path + path + (f"?{req.query_string}" if req.query_string else "")
        headers = {name: req.header(name) for name in FORWARDED_REQUEST_HEADERS if req.header(name) is not None}
        headers["Authorization"] = f"Bearer {self._upstream_api_key}"
        try:
            conn.request(req.method, target, body=req.body or None, headers=headers)
            upstream_resp = conn.getresponse()
            body = upstream_resp.read()
        except (OSError, http.client.HTTPException):
            # A reset or cut upstream response becomes a gateway error, as with a real proxy.
            return self.error(502, "Upstream request failed")
        finally:
            conn.close()
        out = [(name, upstream_resp.getheader(name)) for name in FORWARDED_RESPONSE_HEADERS if upstream_resp.getheader(name) is not None]
        return Response(upstream_resp.status, body, out)

    def error(self, status, message):
        raise NotImplementedError

    def fault_response(self, kind, req):
        if kind == "html_502":
            return html_error(502, "Bad Gateway")
        if kind == "401_proxy":
            return self.error(401, "Token expired")
        status = 429 if kind.startswith("429") else int(kind)
        resp = self.error(status, REASONS[status])
        if kind == "429" and self.faults.retry_after is not None:
            resp.headers.append(("Retry-After", str(self.faults.retry_after)))
        return resp

    def log_headers(self, headers):
        return {name: ("[REDACTED]" if name.lower() in self._secret_headers else value) for name, value in headers.items()}


class ParagonEmulator(_ForwardingProxy):
    """Paragon's SDK proxy: /projects/{project_id}/sdk/proxy/{integration_type}/<upstream path>."""

    PATH = re.compile(r"/projects/([^/]+)/sdk/proxy/([^/]+)(/.*)?")
    TARGET_HEADER, RAW_HEADER = "X-Paragon-Proxy-Url", "X-Paragon-Use-Raw-Response"
    STRIPE_HOSTS = ("api.stripe.com", "files.stripe.com")  # the upstream stands in for both

    def __init__(
        self, upstream_url, upstream_api_key, project_id="proj_demo", user_token="paragon-user-token", integration_type="stripe", **kwargs
    ):
        super().__init__(upstream_url, upstream_api_key, **kwargs)
        self.project_id = project_id
        self._user_token = user_token
        self.integration_type = integration_type

    def base_url(self):
        """What a client puts in front of `/v1/...`."""
        return f"{self.url}/projects/{self.project_id}/sdk/proxy/{self.integration_type}"

    def error(self, status, message):
        payload = {"message": message}
        if status == 401 and message == "Unauthorized":
            payload["status"] = 401
        return Response.json(status, payload)

    def handle(self, req):
        match = self.PATH.fullmatch(req.path)
        if not match:
            return self.error(404, "Not Found")
        project, integration, rest = match.groups()
        if project != self.project_id:
            return self.error(404, "Project not found")
        if not same_secret(bearer(req), self._user_token):
            return self.error(401, "Unauthorized")
        if integration != self.integration_type:
            return self.error(404, "Integration not found")
        if "multipart/" in (req.header("Content-Type") or "").lower():
            return self.error(415, "The Proxy API accepts JSON request bodies")
        target = req.header(self.TARGET_HEADER)
        if target is not None:
            parts = urlsplit(target)
            if parts.scheme != "https" or parts.hostname not in self.STRIPE_HOSTS or not parts.path.startswith("/v1/"):
                return self.error(400, "X-Paragon-Proxy-Url must be a URL of this integration's API")
            rest = parts.path
            req.query_string = parts.query or req.query_string
        if not rest or rest == "/":
            return self.error(404, "Not Found")
        response = self.forward(req, rest)
        kind = (response.header("Content-Type") or "").lower()
        if response.status < 400 and "json" not in kind and req.header(self.RAW_HEADER) is None:
            return self.error(502, "The integration's response could not be parsed as JSON")
        return response


class PinkConnectEmulator(_ForwardingProxy):
    """PinkConnect: {base}/v1/..., with a bearer token and optional required headers."""

    def __init__(self, upstream_url, upstream_api_key, token="pink-token", required_headers=None, **kwargs):
        super().__init__(upstream_url, upstream_api_key, **kwargs)
        self._token = token
        self.required_headers = dict(required_headers or {})
        # Required headers may carry secrets (connection keys), so they are redacted in the log too.
        self._secret_headers |= {name.lower() for name in self.required_headers}

    def base_url(self):
        return self.url

    def error(self, status, message, code=None):
        codes = {400: "bad_request", 401: "unauthorized", 404: "not_found"}
        return Response.json(status, {"error": code or codes.get(status, "proxy_error"), "message": message})

    def handle(self, req):
        if not req.path.startswith("/v1/"):
            return self.error(404, "Not Found")
        if not same_secret(bearer(req), self._token):
            return self.error(401, "Missing or invalid bearer token")
        for name, expected in self.required_headers.items():
            given = req.header(name)
            if given is None:
                return self.error(400, f"Missing required header: {name}", "missing_header")
            if not same_secret(given, str(expected)):
                return self.error(401, f"Invalid value for header: {name}", "invalid_header")
        return self.forward(req, req.path)

    def fault_response(self, kind, req):
        if kind == "401_proxy":
            return self.error(401, "Token expired", "token_expired")
        return super().fault_response(kind, req)
