"""An http_api tier whose server has no HEAD (405 or 501) checks existence with a one-byte
ranged GET instead; the demo API answers HEAD."""

import threading
from http.server import ThreadingHTTPServer

import pytest
import requests

from bitstore_app.composer import build_tier
from bitstore_app.services import check_tier
from project import demo_api
from tests.resilience.conftest import api_tier, make_blob
from tests.resilience.servers import ShortBodyServer


@pytest.fixture
def no_head_server():
    server = ShortBodyServer()
    server.short = False
    yield server
    server.stop()


@pytest.mark.parametrize("status", [405, 501])
def test_exists_falls_back_to_a_one_byte_get(no_head_server, status):
    no_head_server.head_status = status
    sha1, data = make_blob(size=10_000)
    no_head_server.blobs[sha1] = data
    store = build_tier(api_tier(no_head_server.url))
    assert store.exists(sha1) is True
    missing, _ = make_blob()
    assert store.exists(missing) is False
    assert no_head_server.gets[sha1] == 1 and no_head_server.gets[missing] == 1
    spec = api_tier(no_head_server.url)
    assert check_tier(spec).reachable, check_tier(spec).error


def test_a_server_with_head_is_asked_with_head(no_head_server):
    sha1, data = make_blob()
    no_head_server.blobs[sha1] = data
    store = build_tier(api_tier(no_head_server.url))
    assert store.exists(sha1) is True
    assert no_head_server.gets[sha1] == 0


@pytest.fixture
def demo_server():
    demo_api.Handler.delay = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), demo_api.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/blobs"
    server.shutdown()
    server.server_close()


def test_the_demo_api_answers_head(demo_server):
    sha1, data = next(iter(demo_api.BLOBS.items()))
    head = requests.head(f"{demo_server}/{sha1}", timeout=5)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert head.content == b""
    assert requests.head(f"{demo_server}/{'0' * 40}", timeout=5).status_code == 404
    assert build_tier(api_tier(demo_server)).exists(sha1)
