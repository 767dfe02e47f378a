"""A small, deliberately slow blob API for the demo: GET /blobs/<sha1>.

It stands in for the internal APIs that are slow or cost money per call, so that `make run`
shows write-back into the cache tier without any cloud account.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The blobs the demo API holds, by SHA1.
BLOBS = {
    hashlib.sha1(data).hexdigest(): data
    for data in (f"bitstore demo API blob {n}\n".encode() for n in range(100))
}


class Handler(BaseHTTPRequestHandler):
    delay = 0.05

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        sha1 = self.path.rstrip("/").rsplit("/", 1)[-1].lower()
        time.sleep(self.delay)
        data = BLOBS.get(sha1)
        if data is None:
            self.send_error(404, "no such blob")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_GET  # send_error and the headers are the same; HEAD sends no body

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args()
    Handler.delay = args.delay
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
