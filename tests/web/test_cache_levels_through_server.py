"""Cache levels through the blob URL of a real server: two filesystem levels (a per-host
disk on top of a second folder) in front of a counting, write-back HTTP API on loopback. The
first fetch fills both levels; with the blob gone from the first, the next fetch is served
by the second and refills the first; the API is asked once. A bounded first level stays
under its size through the server, and /metrics shows what each level holds."""

import hashlib
import os
import re

import pytest

from bitstore_app.models import Tier
from bitstore_app.signed_urls import signed_blob_url
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for the server
from tests.warming.source_api import SourceAPI
from tests.web.web_server import WebServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def blob(size):
    data = os.urandom(size)
    return hashlib.sha1(data).hexdigest(), data


@pytest.fixture
def api():
    server = SourceAPI().start()
    yield server
    server.stop()


@pytest.fixture
def folders(tmp_path):
    return tmp_path / "disk", tmp_path / "shared"


@pytest.fixture
def start_server(live_db_url, api, folders, tmp_path):  # noqa: F811
    servers = []

    def start(disk_max_bytes=None):
        disk, shared = folders
        Tier.objects.create(
            name="disk",
            kind="filesystem",
            location=str(disk),
            role="cache",
            position=0,
            max_bytes=disk_max_bytes,
        )
        Tier.objects.create(
            name="shared", kind="filesystem", location=str(shared), role="cache", position=1
        )
        Tier.objects.create(
            name="api", kind="http_api", location=api.url, write_back=True, position=2
        )
        server = WebServer("runserver", live_db_url, tmp_path / "web.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def fetch(server, sha1):
    response = server.get(signed_blob_url(sha1))
    assert response.status_code == 200, response.text[:300]
    return response.content


def metric(server, name, tier):
    text = server.get("/bitstore/metrics").text
    found = re.search(rf'^{name}{{tier="{tier}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


@pytest.mark.parametrize("size", [200_000, 6 * 1024 * 1024])  # checked whole, and teed
def test_the_second_level_refills_the_first_and_the_api_is_asked_once(
    api, folders, start_server, size
):
    disk, shared = folders
    sha1, data = blob(size)
    api.blobs[sha1] = data
    server = start_server()
    assert fetch(server, sha1) == data
    wait_until(lambda: (disk / sha1).exists() and (shared / sha1).exists(), message="not filled")
    assert (disk / sha1).read_bytes() == (shared / sha1).read_bytes() == data
    (disk / sha1).unlink()  # gone from the first level (evicted, or the host's disk replaced)
    assert fetch(server, sha1) == data
    wait_until(lambda: (disk / sha1).exists(), message="the first level was not refilled")
    assert (disk / sha1).read_bytes() == data
    assert fetch(server, sha1) == data
    assert api.counts()[sha1] == 1
    assert metric(server, "bitstore_cache_promotions_total", "disk") == 1.0
    assert metric(server, "bitstore_cache_level", "shared") == 2.0
    assert not list(disk.glob(".incoming-*")) and not list(shared.glob(".incoming-*"))


def test_a_bounded_first_level_stays_under_its_size_through_the_server(api, folders, start_server):
    disk, shared = folders
    blobs = [blob(50_000) for _ in range(16)]  # 800 kB through a 200 kB first level
    for sha1, data in blobs:
        api.blobs[sha1] = data
    server = start_server(disk_max_bytes=200_000)
    for sha1, data in blobs:
        assert fetch(server, sha1) == data
        held = sum(path.stat().st_size for path in disk.iterdir() if path.name[0] != ".")
        assert held <= 200_000
    assert (disk / blobs[-1][0]).exists() and not (disk / blobs[0][0]).exists()
    assert all((shared / sha1).exists() for sha1, _ in blobs)  # the unbounded level keeps all
    assert fetch(server, blobs[0][0]) == blobs[0][1]  # from the second level, promoted
    assert sum(api.counts().values()) == 16
    assert metric(server, "bitstore_cache_bytes", "disk") <= 200_000
    assert metric(server, "bitstore_cache_blobs", "disk") == len(
        [path for path in disk.iterdir() if path.name[0] != "."]
    )
    assert metric(server, "bitstore_cache_max_bytes", "disk") == 200_000
    assert metric(server, "bitstore_cache_evictions_total", "disk") >= 12
