"""Plumbing shared by the emulators: a loopback HTTP/1.1 server running in a
daemon thread, a request log, and transport-level fault rendering.

An app (StripeEmulator, ParagonEmulator, PinkConnectEmulator) subclasses
LoopbackServer and implements:
    handle(req) -> Response             the normal answer
    fault_response(kind, req) -> Response   for status-type faults (429, 500, ...)
    log_headers(headers) -> dict        headers as they may appear in the log
"""

import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import forms
from .faults import SHORT_CIRCUIT, FaultInjector

# Faults that break the connection itself rather than answering with an error status.
TRANSPORT_FAULTS = frozenset({"reset", "drop", "truncate"})


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict  # case-preserving; use header() for lookups
    body: bytes

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return default

    def decoded_body(self):
        if not self.body:
            return {}
        content_type = self.header("Content-Type") or ""
        if content_type.lower().startswith("multipart/form-data"):
            from .files import UploadedFile, parse_multipart  # the log shows a file by size and hash

            try:
                parts = parse_multipart(self.body, content_type)
            except Exception:  # noqa: BLE001 - an unparsable body is logged as such; the handler answers 400
                return "<unparsable multipart body>"
            return {k: v.summary() if isinstance(v, UploadedFile) else v for k, v in parts.items()}
        text = self.body.decode("utf-8", "replace")
        if (self.header("Content-Type") or "").startswith("application/json"):
            try:
                return json.loads(text)
            except ValueError:
                return text
        return forms.parse(text)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list = field(default_factory=list)  # [(name, value)]

    @classmethod
    def json(cls, status, payload, headers=()):
        body = json.dumps(payload).encode()  # compact: indent would force the slow pure-Python encoder
        return cls(status, body, [("Content-Type", "application/json"), *headers])

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RequestLog:
    """Thread-safe, bounded log of handled requests (newest last)."""

    def __init__(self, limit=100_000):
        self._lock = threading.Lock()
        self._items = deque(maxlen=limit)

    def append(self, entry):
        with self._lock:
            self._items.append(entry)

    def snapshot(self):
        with self._lock:
            return list(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()

    def __len__(self):
        with self._lock:
            return len(self._items)

    def __iter__(self):
        return iter(self.snapshot())

    def __getitem__(self, index):
        return self.snapshot()[index]

    def __repr__(self):
        return f"RequestLog({self.snapshot()!r})"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, app):
        self.app = app
        self.open_sockets = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        # Remember live connections so stop() can cut idle keep-alive ones.
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response (timeouts, resets in tests) are normal here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has Content-Length
    timeout = 60  # idle keep-alive connections are dropped after this

    def log_message(self, *args):  # keep test output quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815 - http.server's handler names

    def _serve(self):
        self._date = None
        app = self.server.app
        if app.stopping:
            self.close_connection = True
            self._reset()
            return
        split = urlsplit(self.path)
        req = Request(self.command, split.path, split.query, dict(self.headers.items()), self._read_body())
        kind = app.faults.decide(req.path)
        if kind in SHORT_CIRCUIT:
            resp = None if kind in TRANSPORT_FAULTS else app.fault_response(kind, req)
        else:
            if kind == "slow":
                time.sleep(app.faults.slow_seconds)
            resp = app.handle(req)
        # Log before answering, so a client that got its answer always finds it in the log.
        status = {"drop": None, "reset": 200, "truncate": 200}.get(kind, resp.status if resp else None)
        app.requests.append(
            {
                "method": req.method,
                "path": req.path,
                "query": parse_qs(req.query_string, keep_blank_values=True),
                "headers": app.log_headers(req.headers),
                "body": req.decoded_body(),
                "status": status,
                "fault": kind,
            }
        )
        if kind in TRANSPORT_FAULTS or kind == "commit_then_reset":
            self._send_transport_fault(kind, req)
        else:
            self._send(resp)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def date_time_string(self, timestamp=None):
        """The Date header: the server's own clock (an emulator's may be set), or the one given."""
        given = getattr(self, "_date", None)
        return given or super().date_time_string(self.server.app.server_time() if timestamp is None else timestamp)

    def _send(self, resp, content_length=None):
        self._date = next((value for name, value in resp.headers if name.lower() == "date"), None)  # a proxy's upstream's
        self.send_response(resp.status)
        for name, value in resp.headers:
            if name.lower() != "date":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body) if content_length is None else content_length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _send_transport_fault(self, kind, req):
        if kind in ("drop", "commit_then_reset"):
            self._reset()
            return
        body = json.dumps(
            {"object": "list", "data": [{"id": "obj_123", "object": "thing"}], "has_more": True, "url": req.path}, indent=2
        ).encode()
        half = Response(200, body[: len(body) // 2], [("Content-Type", "application/json")])
        if kind == "truncate":
            self._send(half)  # the cut body is all there is
        else:
            self._send(half, content_length=len(body))  # promise more than we send...
            self._reset()  # ...then reset

    def _reset(self):
        """Close with SO_LINGER 0 so the peer sees a TCP RST, not a clean FIN."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # rfile holds a reference that would delay the real close
            self.connection.close()
        except OSError:
            pass


class LoopbackServer:
    """Base class: start/stop/url/context manager, request log, fault injector."""

    def __init__(self, host="127.0.0.1", port=0, faults=None, log_limit=100_000):
        self.host, self.port = host, port
        self.faults = faults if faults is not None else FaultInjector()
        self.requests = RequestLog(log_limit)
        self.stopping = False
        self._server = None
        self._thread = None
        self._url = None

    @property
    def url(self):
        """http://127.0.0.1:<port> (still set after stop(), e.g. to test "server down")."""
        if self._url is None:
            raise RuntimeError("server not started")
        return self._url

    def start(self):
        if self._server is not None:
            return self
        self.stopping = False
        self._server = _Server((self.host, self.port), _Handler, self)
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self):
        """Run in the foreground (used by `python -m stripe_emulator`)."""
        self.start()
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self):
        if self._server is None:
            return
        self.stopping = True
        self._server.shutdown()
        self._server.server_close()
        # Wake handler threads parked on idle keep-alive connections.
        with self._server.sockets_lock:
            sockets = list(self._server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by its client
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- for subclasses -------------------------------------------------
    def server_time(self):
        """Epoch seconds for the Date header."""
        return time.time()

    def handle(self, req):
        raise NotImplementedError

    def fault_response(self, kind, req):
        raise NotImplementedError

    def log_headers(self, headers):
        return dict(headers)
