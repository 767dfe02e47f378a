"""A threaded HTTP server on a free loopback port: the base of the tests' stand-in servers."""

import threading
from http.server import ThreadingHTTPServer


class LoopbackHTTPServer:
    """Serve `handler` on 127.0.0.1 from a daemon thread, once `start()` is called."""

    server_class = ThreadingHTTPServer

    def __init__(self, handler: type) -> None:
        self._server = self.server_class(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
