"""The HTTP API tier reads the environment's proxy settings once, when a process makes its
client, and still honours them: a proxy from HTTP_PROXY, a host excluded by NO_PROXY."""

import hashlib
from http.server import BaseHTTPRequestHandler

import pytest

from bitstore_app.core import HTTPAPISource
from tests.loopback import LoopbackHTTPServer

BLOB = b"through the proxy"
SHA1 = hashlib.sha1(BLOB).hexdigest()


class Answering(BaseHTTPRequestHandler):
    """Answer every GET with the blob, remembering the request line it was sent."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server spelling
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(BLOB)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Answering.seen = []
    running = LoopbackHTTPServer(Answering).start()
    yield running
    running.stop()


def test_a_proxy_named_by_the_environment_carries_the_requests(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server.endpoint)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    source = HTTPAPISource("http://blobs.example.invalid/api")
    assert source.get(SHA1) == BLOB
    # A proxy is sent the whole URL; the made-up host was never resolved.
    assert Answering.seen == [f"http://blobs.example.invalid/api/{SHA1}"]


def test_a_host_in_no_proxy_is_asked_directly(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    source = HTTPAPISource(server.endpoint)
    assert source.get(SHA1) == BLOB
    assert Answering.seen == [f"/{SHA1}"]


def test_a_verifying_api_streams_a_whole_blob_and_checks_it_at_its_end(server):
    from bitstore_app.core import InvalidDataFound

    with HTTPAPISource(server.endpoint, verify=True).open(SHA1) as stream:
        assert stream.read() == BLOB
    wrong = hashlib.sha1(b"another blob").hexdigest()  # the server answers BLOB for any key
    with HTTPAPISource(server.endpoint, verify=True).open(wrong) as stream:
        assert stream.read(5) == BLOB[:5]  # streamed, not read whole first
        with pytest.raises(InvalidDataFound):
            stream.read()
    with HTTPAPISource(server.endpoint).open(wrong) as stream:
        assert stream.read() == BLOB  # without verify, as it is
