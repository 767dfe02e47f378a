"""An HTTP API source for the warming case: `GET /<sha1>` serves one of `--count` generated
blobs (see `bench.data.blob`), anything else is a 404. Run as its own process:

    python -m bench.api_source --port 8123 --count 2000 --size 4096 --tag warm

`GET /_stats` returns how many blob requests it served, as JSON.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.data import blobs, sha1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0
    lock = threading.Lock()
    catalogue: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (the http.server spelling)
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        if self.path == "/_stats":
            return self._send(200, json.dumps({"served": Handler.served}).encode(), with_body)
        data = self.catalogue.get(self.path.strip("/").lower())
        if data is None:
            return self._send(404, b"not found", with_body)
        with Handler.lock:
            Handler.served += 1
        self._send(200, data, with_body)

    def _send(self, status: int, body: bytes, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's signature)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tag", default="warm")
    options = parser.parse_args()
    Handler.catalogue = {
        sha1(data): data for data in blobs(options.tag, options.count, options.size)
    }
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
