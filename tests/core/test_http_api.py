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


LARGE = bytes(range(256)) * 4096  # 1 MiB
LARGE_SHA1 = hashlib.sha1(LARGE).hexdigest()


class Ranges(BaseHTTPRequestHandler):
    """Serve LARGE, honouring one `Range` when `honour` is set (else the whole body, as
    servers that ignore Range do); remember the Range headers received."""

    honour = True
    ranges: list[str | None] = []

    def do_GET(self):  # noqa: N802 - the http.server spelling
        asked = self.headers.get("Range")
        self.ranges.append(asked)
        first, last = 0, len(LARGE) - 1
        if asked and self.honour:
            a, _, b = asked.removeprefix("bytes=").partition("-")
            if a == "":
                first = max(len(LARGE) - int(b), 0)
            else:
                first, last = int(a), min(int(b), last) if b else last
            if first >= len(LARGE):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(LARGE)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(LARGE)}")
        else:
            self.send_response(200)
        body = LARGE[first : last + 1]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(params=[True, False], ids=["honours Range", "ignores Range"])
def ranges_server(request):
    Ranges.honour, Ranges.ranges = request.param, []
    running = LoopbackHTTPServer(Ranges).start()
    yield running
    running.stop()


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (10, 20, LARGE[10:20]),
        (1000, None, LARGE[1000:]),
        (-5, None, LARGE[-5:]),
        (-(2**30), None, LARGE),
        (2**30, None, b""),
        (7, 7, b""),
        (0, 0, b""),
    ],
)
def test_a_range_is_asked_for_and_read_from_the_whole_body_when_ignored(
    ranges_server, start, end, expected
):
    with HTTPAPISource(ranges_server.endpoint).open(LARGE_SHA1, start, end) as stream:
        assert stream.size == len(LARGE)
        assert stream.read() == expected
    assert len(Ranges.ranges) == 1 and Ranges.ranges[0] is not None  # one request, a Range
