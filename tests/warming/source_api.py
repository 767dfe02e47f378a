"""A real blob API for the warming tests: a threaded HTTP server on loopback.

GET `/blobs/<sha1>` answers 200 with the blob, or 404. It can be made slow (`delay`), lie
(`corrupt`: other bytes than the blob's) or fail for a while (`failures[sha1]`: that many 503
answers first). Every GET is counted, with the moment it arrived, so that tests can count
requests per blob and per second.
"""

import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.loopback import LoopbackHTTPServer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client killed in the middle of a request (the tests kill workers) is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SourceAPI(LoopbackHTTPServer):
    server_class = _QuietServer

    def __init__(self, delay=0.0):
        self.blobs: dict[str, bytes] = {}
        self.corrupt: set[str] = set()
        self.failures: Counter = Counter()
        self.delay = delay
        self.gets: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def url(self) -> str:
        return f"{self.endpoint}/blobs"

    def forget(self):
        """Forget the requests counted so far."""
        with self._lock:
            self.gets.clear()

    def counts(self) -> Counter:
        """Return the number of GETs per SHA1."""
        with self._lock:
            return Counter(sha1 for _, sha1 in self.gets)

    def times(self) -> list[float]:
        """Return the moments (time.monotonic) the GETs arrived, in order."""
        with self._lock:
            return sorted(moment for moment, _ in self.gets)

    def answer(self, sha1: str) -> tuple[int, bytes]:
        """Count a GET of `sha1` and return the status and body to send."""
        with self._lock:
            self.gets.append((time.monotonic(), sha1))
            if self.failures[sha1] > 0:
                self.failures[sha1] -= 1
                return 503, b""
        data = self.blobs.get(sha1)
        if data is None:
            return 404, b""
        if sha1 in self.corrupt:
            return 200, b"not the blob you asked for: " + data
        return 200, data


def _handler_for(api: SourceAPI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if api.delay:
                time.sleep(api.delay)
            status, body = api.answer(self.path.rsplit("/", 1)[-1])
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler
