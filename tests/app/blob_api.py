"""A real blob API for `http_api` tiers: a threaded HTTP server on loopback.

GET and HEAD `/blobs/<sha1>` answer 200 with the blob, or 404; `fail_with` makes every
request answer that status instead. Every request is counted, with its headers.
"""

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackHTTPServer

CHUNK = 64 * 1024


class BlobAPI(LoopbackHTTPServer):
    def __init__(self):
        self.blobs: dict[str, bytes] = {}
        self.fail_with: int | None = None
        self.requests: Counter = Counter()
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def url(self) -> str:
        return f"{self.endpoint}/blobs"

    def count(self, method: str, sha1: str) -> int:
        """Return how many `method` requests asked for `sha1`."""
        return self.requests[(method, sha1)]

    def seen(self, method, sha1, headers):
        with self._lock:
            self.requests[(method, sha1)] += 1
            self.headers.append(headers)


def _handler_for(api: BlobAPI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._answer(send_body=True)

        def do_HEAD(self):
            self._answer(send_body=False)

        def _answer(self, send_body):
            sha1 = self.path.rsplit("/", 1)[-1]
            api.seen(self.command, sha1, dict(self.headers))
            data = api.blobs.get(sha1) if self.path.startswith("/blobs/") else None
            status = api.fail_with or (200 if data is not None else 404)
            body = data if status == 200 else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                view = memoryview(body)
                for offset in range(0, len(view), CHUNK):
                    self.wfile.write(view[offset : offset + CHUNK])

        def log_message(self, format, *args):
            pass

    return Handler
