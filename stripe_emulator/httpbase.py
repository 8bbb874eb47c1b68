"""Plumbing shared by the emulators: a loopback HTTP/1.1 server running in a
daemon thread, a request log, and transport-level fault rendering.

An app (StripeEmulator, ParagonEmulator, PinkConnectEmulator) subclasses
LoopbackServer and implements:
    handle(req) -> Response             the normal answer
    fault_response(kind, req) -> Response   for status-type faults (429, 500, ...)
    log_headers(headers) -> dict        headers as they may appear in the log
"""

import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import forms
from .faults import SHORT_CIRCUIT, FaultInjector


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict        # case-preserving; use header() for lookups
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
    headers: list = field(default_factory=list)   # [(name, value)]

    @classmethod
    def json(cls, status, payload, headers=()):
        body = json.dumps(payload, indent=2).encode()
        return cls(status, body, [("Content-Type", "application/json")] + list(headers))

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

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive; every response has Content-Length
    timeout = 60                      # idle keep-alive connections are dropped after this

    def log_message(self, *args):     # keep test output quiet
        pass

    def do_GET(self):
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self):
        app = self.server.app
        if app.stopping:
            self.close_connection = True
            return self._reset()
        split = urlsplit(self.path)
        req = Request(self.command, split.path, split.query, dict(self.headers.items()), self._read_body())
        kind = app.faults.decide(req.path)
        if kind in SHORT_CIRCUIT:
            status = self._send_fault(app, kind, req)
        else:
            if kind == "slow":
                time.sleep(app.faults.slow_seconds)
            resp = app.handle(req)
            status = resp.status
            if kind == "commit_then_reset":
                self._reset()
            else:
                self._send(resp)
        app.requests.append({
            "method": req.method,
            "path": req.path,
            "query": parse_qs(req.query_string, keep_blank_values=True),
            "headers": app.log_headers(req.headers),
            "body": req.decoded_body(),
            "status": status,
            "fault": kind,
        })

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

    def _send(self, resp, content_length=None):
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body) if content_length is None else content_length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _send_fault(self, app, kind, req):
        """Render one short-circuit fault; returns the status the log should show."""
        if kind == "drop":
            self._reset()
            return None
        if kind in ("reset", "truncate"):
            body = json.dumps({"object": "list", "data": [{"id": "obj_123", "object": "thing"}],
                               "has_more": True, "url": req.path}, indent=2).encode()
            half = body[: len(body) // 2]
            resp = Response(200, half, [("Content-Type", "application/json")])
            if kind == "truncate":
                self._send(resp)                            # the cut body is all there is
            else:
                self._send(resp, content_length=len(body))  # promise more than we send...
                self._reset()                               # ...then reset
            return 200
        resp = app.fault_response(kind, req)
        self._send(resp)
        return resp.status

    def _reset(self):
        """Close with SO_LINGER 0 so the peer sees a TCP RST, not a clean FIN."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()        # rfile holds a reference that would delay the real close
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

    @property
    def url(self):
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        if self._server is not None:
            return self
        self.stopping = False
        self._server = _Server((self.host, self.port), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}-{self._server.server_address[1]}", daemon=True)
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
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- for subclasses -------------------------------------------------
    def handle(self, req):
        raise NotImplementedError

    def fault_response(self, kind, req):
        raise NotImplementedError

    def log_headers(self, headers):
        return dict(headers)
