"""Uploads through a real server process: 100 MiB streamed into the tier in constant memory,
and a chunked body (no Content-Length, which Django's WSGI request cannot read) refused with
a JSON 411 rather than stored as an empty blob."""

import hashlib
import os
from pathlib import Path

import pytest
import requests

from bitstore_app.models import Tier
from bitstore_app.web.tokens import issue
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for the server
from tests.web.conftest import make_user
from tests.web.web_server import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(180)]

SIZE = 100 * 1024 * 1024
#: What the server process may grow by while it takes the upload.
LIMIT_KIB = 32 * 1024


@pytest.fixture
def cache_dir(tmp_path):
    folder = tmp_path / "cache"
    Tier.objects.create(name="cache", kind="filesystem", location=str(folder), role="cache")
    return folder


@pytest.fixture
def server(live_db_url, cache_dir, tmp_path):  # noqa: F811
    server = WebServer("runserver", live_db_url, tmp_path / "web.log")
    yield server
    server.stop()


@pytest.fixture
def headers():
    _, token = issue(make_user("uploader", "add_blob"), "uploads", ["upload"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}


def status_kib(pid, field):
    """Return a field of /proc/PID/status (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def big_file(folder):
    """A file of SIZE random bytes; return its path and SHA1."""
    digest, path = hashlib.sha1(), folder / "upload.bin"
    with open(path, "wb") as file:
        for _ in range(SIZE // (4 * 1024 * 1024)):
            chunk = os.urandom(4 * 1024 * 1024)
            digest.update(chunk)
            file.write(chunk)
    return path, digest.hexdigest()


def test_a_100_mib_put_is_stored_in_constant_memory(server, headers, cache_dir, tmp_path):
    small = b"warm up the imports, the database connection and the tier"
    sha1 = hashlib.sha1(small).hexdigest()
    assert requests.put(f"{server.base}/bitstore/blobs/{sha1}", small, headers=headers).ok
    path, sha1 = big_file(tmp_path)
    pid = server.process.pid
    before = status_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from here
    with open(path, "rb") as body:  # requests sends a file in blocks, with its Content-Length
        response = requests.put(
            f"{server.base}/bitstore/blobs/{sha1}", data=body, headers=headers, timeout=120
        )
    assert response.status_code == 201, response.text
    growth = status_kib(pid, "VmHWM") - before
    assert growth < LIMIT_KIB, f"the server grew by {growth} KiB for a {SIZE >> 20} MiB upload"
    stored = cache_dir / sha1
    assert stored.stat().st_size == SIZE
    assert hashlib.sha1(stored.read_bytes()).hexdigest() == sha1


def test_a_chunked_body_is_refused_with_411_and_nothing_is_stored(server, headers, cache_dir):
    def chunks():  # a generator: requests sends it chunked, without Content-Length
        yield b"a blob sent "
        yield b"in chunks"

    response = requests.post(f"{server.base}/bitstore/blobs", data=chunks(), headers=headers)
    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]
    assert not cache_dir.exists() or not any(cache_dir.iterdir())
