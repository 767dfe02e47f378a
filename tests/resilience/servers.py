"""Misbehaving servers on loopback, for fault injection: real sockets, no mocked clients.

- `BlobServer`: an HTTP blob API whose answers a test scripts (503 for a while, wrong bytes,
  a slow answer) and which counts every request.
- `FaultProxy`: an HTTP proxy in front of a real server (moto, the GCS emulator) that answers
  the first requests with an injected status (or cuts their bodies short), then forwards.
- `HangingServer`: accepts TCP connections and never answers.
- `SlowProxy`: a TCP proxy that forwards at a limited rate, so an upload can be killed halfway.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackHTTPServer

#: The error code an S3 server sends with each status (GCS reads the status alone).
S3_ERROR_CODES = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}


class _Server(LoopbackHTTPServer):
    """A loopback server that starts serving as soon as it is made."""

    def __init__(self, handler: type) -> None:
        super().__init__(handler)
        self.start()


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class BlobServer(_Server):
    """GET/HEAD `/blobs/<sha1>`: 200 with `blobs[sha1]`, else 404.

    `status` (if set) is the answer to every request instead; `failures` answers that many
    next requests with `failure_status` first; `delay` seconds pass before each answer.
    `requests[sha1]` counts the requests for each key.
    """

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.status: int | None = None
        self.failures = 0
        self.failure_status = 503
        self.delay = 0.0
        self.requests: Counter = Counter()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return f"{self.endpoint}/blobs"

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def _answer(self, sha1: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests[sha1] += 1
            if self.failures > 0:
                self.failures -= 1
                return self.failure_status, b""
        if self.status is not None:
            return self.status, b""
        data = self.blobs.get(sha1)
        return (200, data) if data is not None else (404, b"")

    def _handler(self) -> type:
        server = self

        class Handler(_QuietHandler):
            def do_GET(self):
                status, body = server._answer(self.path.rsplit("/", 1)[-1])
                time.sleep(server.delay)
                self._send(status, body)

            do_HEAD = do_GET

        return Handler


class FaultProxy(_Server):
    """Forward HTTP requests to `upstream` (host, port), except that the next `failures`
    requests are answered with `status` at once. `seen` counts every request by method."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.failures = 0
        self.status = 503
        #: The next this many GETs answered 200 send half their body, then close.
        self.cut_short = 0
        self.seen: Counter = Counter()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def _cut(self, method: str, status: int) -> bool:
        with self._lock:
            if method == "GET" and status == 200 and self.cut_short > 0:
                self.cut_short -= 1
                return True
        return False

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self.failures, self.status = count, status

    def _inject(self, method: str) -> int | None:
        with self._lock:
            self.seen[method] += 1
            if self.failures > 0:
                self.failures -= 1
                return self.status
        return None

    def _handler(self) -> type:
        proxy = self

        class Handler(_QuietHandler):
            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                status = proxy._inject(self.command)
                if status is not None:
                    code = S3_ERROR_CODES.get(status, "ServiceUnavailable")
                    self._send(status, f"<Error><Code>{code}</Code></Error>".encode())
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    skip = {"content-length", "transfer-encoding", "connection"}
                    kept = {k: v for k, v in response.getheaders() if k.lower() not in skip}
                    if proxy._cut(self.command, response.status):
                        self.send_response(response.status)
                        for name, value in kept.items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.close_connection = True
                        return
                    self._send(response.status, data, kept)
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler


class HangingServer:
    """Accept TCP connections on 127.0.0.1 and never send a byte back."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(256)
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    @property
    def connections(self) -> int:
        return len(self._accepted)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._accepted.append(connection)

    def stop(self) -> None:
        self._socket.close()
        for connection in self._accepted:
            connection.close()


class SlowProxy:
    """Forward TCP connections to 127.0.0.1:`upstream_port`, passing client bytes at about
    `rate` bytes a second. `received` counts the client bytes forwarded so far; `cut()` drops
    every connection at once, with a reset, forwarding nothing more (the kernel would still
    deliver what a killed client had already written into its socket)."""

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.received = 0
        self._cut = threading.Event()
        self._connections: list[socket.socket] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, throttle: bool) -> None:
        chunk = max(self.rate // 20, 1) if throttle else 65536
        try:
            while (data := source.recv(chunk)) and not self._cut.is_set():
                target.sendall(data)
                if throttle:
                    self.received += len(data)
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                if self._cut.is_set():
                    _abort(sock)
                else:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                sock.close()

    def cut(self) -> None:
        self._cut.set()
        for sock in self._connections:
            _abort(sock)

    def stop(self) -> None:
        self._socket.close()


def _abort(sock: socket.socket) -> None:
    """Make the socket's close a reset (no orderly end of a body), and wake a thread blocked
    reading it, without sending anything."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class ShortBodyServer(_Server):
    """GET `/blobs/<sha1>`: 200 with the whole blob's Content-Length, but only its first half
    sent before the connection closes (a source that dies mid-body). `head_status` answers
    HEAD (405 or 501: an API without HEAD); a GET with `Range: bytes=0-0` is answered 206
    with one byte, whole. `gets` counts GETs."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.short = True
        self.head_status: int | None = None
        self.gets: Counter = Counter()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return f"{self.endpoint}/blobs"

    def _handler(self) -> type:
        server = self

        class Handler(_QuietHandler):
            def do_GET(self):
                sha1 = self.path.rsplit("/", 1)[-1]
                with server._lock:
                    server.gets[sha1] += 1
                data = server.blobs.get(sha1)
                if data is None:
                    self._send(404)
                elif self.headers.get("Range") == "bytes=0-0":
                    headers = {"Content-Range": f"bytes 0-0/{len(data)}"}
                    self._send(206, data[:1], headers)
                elif not server.short:
                    self._send(200, data)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True

            def do_HEAD(self):
                if server.head_status is not None:
                    self._send(server.head_status)
                    return
                data = server.blobs.get(self.path.rsplit("/", 1)[-1])
                self._send(200 if data is not None else 404, data or b"")

        return Handler
