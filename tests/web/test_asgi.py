"""Under a real ASGI server (uvicorn), a blob streams from a slow tier without blocking the
event loop: other requests are answered while the tier stalls, and the body is whole."""

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from bitstore_app.models import Tier
from bitstore_app.web.tokens import issue
from tests.loopback import LoopbackHTTPServer
from tests.web.conftest import FolderTier, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

CHUNK = 256 * 1024
CHUNKS = 16
#: The slow tier stops this long in the middle of the blob.
STALL = 2.0


class SlowBlobAPI(BaseHTTPRequestHandler):
    """An http_api source holding one blob, which it sends in chunks with a stall halfway."""

    data = b""
    sha1 = ""
    stalling = threading.Event()

    def do_GET(self):  # noqa: N802 - the http.server name
        if self.path.rstrip("/").rsplit("/", 1)[-1] != self.sha1:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.data)))
        self.end_headers()
        for index in range(CHUNKS):
            if index == CHUNKS // 2:
                self.stalling.set()
                time.sleep(STALL)
                self.stalling.clear()
            self.wfile.write(self.data[index * CHUNK : (index + 1) * CHUNK])
            self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_api():
    data = bytes(range(256)) * (CHUNK * CHUNKS // 256)
    SlowBlobAPI.data, SlowBlobAPI.sha1 = data, hashlib.sha1(data).hexdigest()
    server = LoopbackHTTPServer(SlowBlobAPI).start()
    yield server, SlowBlobAPI.sha1, data
    server.stop()


def test_a_blob_streams_from_a_stalling_tier_while_other_requests_are_served(
    uvicorn_server, slow_api, tmp_path
):
    server, big_sha1, big = slow_api
    folder = FolderTier(tmp_path / "disk", name="disk", position=0)
    small_sha1 = folder.add(b"a small blob on disk")
    Tier.objects.create(
        name="slow-api", kind="http_api", location=f"{server.endpoint}/blobs", position=1
    )
    _, token = issue(make_user("asgi", "view_blob"), "asgi", ["read"])
    headers = {"Authorization": f"Bearer {token}"}
    base, log = uvicorn_server()

    received = []

    def download():
        with requests.get(f"{base}/bitstore/blobs/{big_sha1}", headers=headers, stream=True) as r:
            received.append(r.status_code)
            received.append(b"".join(r.iter_content(64 * 1024)))

    downloader = threading.Thread(target=download)
    downloader.start()
    assert SlowBlobAPI.stalling.wait(20), "the slow tier was never asked"
    answered = []
    while SlowBlobAPI.stalling.is_set() and len(answered) < 5:
        response = requests.get(f"{base}/bitstore/blobs/{small_sha1}", headers=headers, timeout=10)
        # Answered before the tier went on: a blocked event loop answers only after it.
        answered.append((response.status_code, SlowBlobAPI.stalling.is_set()))
    downloader.join(30)
    assert received[0] == 200 and hashlib.sha1(received[1]).hexdigest() == big_sha1
    assert len(received[1]) == len(big)
    assert answered, "no request was made while the tier stalled"
    assert all(status == 200 for status, _ in answered)
    assert answered[0][1], "the first request was answered only after the tier's stall"
    log.seek(0)
    output = log.read()
    assert "synchronous iterators" not in output, output  # the body is an async iterator
