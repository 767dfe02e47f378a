"""The cache's job, through the blob URL of a real server: a filesystem cache in front of a
counting, write-back HTTP API on loopback. One API request per blob, however many clients
ask at once (runserver's threads; gunicorn's workers, sharing leases in Redis); damaged cache
entries repaired; a client that leaves early leaves no partial entry; a range fills it."""

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bitstore_app.models import FetchRecord, Tier
from bitstore_app.signed_urls import signed_blob_url
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for the server
from tests.warming.source_api import SourceAPI
from tests.web.web_server import WebServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def blob(size=200_000):
    data = os.urandom(size)
    return hashlib.sha1(data).hexdigest(), data


@pytest.fixture
def api():
    server = SourceAPI(delay=0.3).start()  # slow, as the paid APIs it stands for
    yield server
    server.stop()


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def tiers(api, cache_dir):
    Tier.objects.create(
        name="cache", kind="filesystem", location=str(cache_dir), role="cache", position=0
    )
    Tier.objects.create(name="api", kind="http_api", location=api.url, write_back=True, position=1)


@pytest.fixture
def start_server(live_db_url, tiers, tmp_path):  # noqa: F811
    servers = []

    def start(kind="runserver", **options):
        server = WebServer(kind, live_db_url, tmp_path / f"web{len(servers)}.log", **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def fetch(server, sha1, **kwargs):
    return server.get(signed_blob_url(sha1), **kwargs)


def no_partial_files(cache_dir):
    return not any(path.name.startswith(".incoming-") for path in cache_dir.rglob("*"))


def test_three_gets_make_one_api_request_and_leave_a_correct_cache_file(
    api, cache_dir, start_server
):
    sha1, data = blob()
    api.blobs[sha1] = data
    server = start_server()
    for _ in range(3):
        response = fetch(server, sha1)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["ETag"] == f'"{sha1}"'
    assert api.counts()[sha1] == 1
    assert (cache_dir / sha1).read_bytes() == data


@pytest.mark.parametrize("kind", ["runserver", "gunicorn"])
def test_16_concurrent_gets_make_one_api_request(api, cache_dir, start_server, redis_url, kind):
    # gunicorn: two worker processes, which share one fill through the leases in Redis.
    sha1, data = blob(6 * 1024 * 1024)  # streamed: larger than what is checked before sending
    api.blobs[sha1] = data
    bitstore = {"LEASE_REDIS_URL": redis_url}
    server = start_server(kind, bitstore=bitstore if kind == "gunicorn" else {})
    fetch(server, blob()[0])  # the first request builds the configuration in a worker
    if kind == "gunicorn":
        fetch(server, blob()[0])
    api.forget()
    start = threading.Barrier(16)

    def one(_):
        start.wait()
        response = fetch(server, sha1)
        return response.status_code, hashlib.sha1(response.content).hexdigest()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert results == [(200, sha1)] * 16
    assert api.counts()[sha1] == 1, server.text()[-3000:]
    assert (cache_dir / sha1).read_bytes() == data


def read_slowly(server, sha1, rate):
    """GET the blob on a socket as a slow client would, at about `rate` bytes a second;
    return the status line and the body. The kernel's buffers let the server run ahead of
    the client by a few MB at most, so the server's fill takes about as long as the client."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        line = f"GET {signed_blob_url(sha1)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        connection.sendall(f"{line}Connection: close\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(256 * 1024):
            received += chunk
            time.sleep(len(chunk) / rate)  # the client's pace, not a wait for anything
    head, body = received.split(b"\r\n\r\n", 1)
    return head.split(b"\r\n", 1)[0], body


@pytest.mark.parametrize("processes", [1, 2])
def test_a_slow_client_s_fill_is_followed_for_as_long_as_it_lasts(
    api, cache_dir, start_server, redis_url, processes
):
    # The first client reads the blob in about 3 s; the leases last 1 s and the readers wait
    # 1 s after a fill's last progress. The second client asks while the first one reads
    # (from the same server, or from another process sharing the leases in Redis): it follows
    # the fill, however long the fill takes, instead of asking the API again.
    size = 24 * 1024 * 1024
    sha1, data = blob(size)
    api.blobs[sha1] = data
    bitstore = {"LEASE_REDIS_URL": redis_url, "LEASE_TTL": 1.0}
    first = start_server(bitstore=bitstore)
    second = first if processes == 1 else start_server(bitstore=bitstore)
    for server in {first, second}:
        fetch(server, blob()[0])  # each process builds its configuration first
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(read_slowly, first, sha1, rate=size / 3)
        wait_until(lambda: api.counts()[sha1] == 1, message="the first fill did not start")
        response = fetch(second, sha1)
        assert (response.status_code, response.content == data) == (200, True)
        assert slow.result() == (b"HTTP/1.1 200 OK", data)
    assert api.counts()[sha1] == 1, second.text()[-3000:]
    assert (cache_dir / sha1).read_bytes() == data


@pytest.mark.parametrize("damage", ["corrupted", "empty", "truncated"])
def test_a_damaged_cache_file_is_answered_right_and_repaired(api, cache_dir, start_server, damage):
    sha1, data = blob()
    api.blobs[sha1] = data
    server = start_server()
    assert fetch(server, sha1).content == data  # cached
    damaged = {"corrupted": os.urandom(len(data)), "empty": b"", "truncated": data[:-1000]}
    (cache_dir / sha1).write_bytes(damaged[damage])
    response = fetch(server, sha1)
    assert response.status_code == 200
    assert response.content == data
    assert (cache_dir / sha1).read_bytes() == data
    assert api.counts()[sha1] == 2  # the API once more, to refill the cache
    assert fetch(server, sha1).content == data
    assert api.counts()[sha1] == 2
    records = FetchRecord.objects.filter(sha1=sha1).order_by("id")
    wait_until(lambda: records.count() == 3, message="the fetches were not recorded")
    repair = records[1]  # the damaged entry is recorded invalid, and the API refilled it
    assert [(a["tier"], a["outcome"]) for a in repair.attempts] == [
        ("cache", "invalid"),
        ("api", "hit"),
    ]
    assert (repair.outcome, repair.tier_name, repair.cache_written) == ("hit", "api", True)


@pytest.mark.parametrize("kind", ["runserver", "gunicorn"])
def test_a_large_corrupted_cache_file_is_cut_short_removed_and_then_served_right(
    api, cache_dir, start_server, kind
):
    sha1, data = blob(6 * 1024 * 1024)  # above VERIFY_BEFORE_SEND_MAX_BYTES: checked at the end
    api.blobs[sha1] = data
    server = start_server(kind)
    assert fetch(server, sha1).content == data
    (cache_dir / sha1).write_bytes(os.urandom(len(data)))
    if kind == "gunicorn":  # it closes even a keep-alive connection: the client sees it at once
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            fetch(server, sha1)
    else:  # runserver leaves a keep-alive connection open (README): this client asks to close
        received = read_raw(server, sha1)
        assert len(received) < len(data)  # a broken transfer, never a complete wrong body
    wait_until(lambda: not (cache_dir / sha1).exists(), message="the entry was not removed")
    assert fetch(server, sha1).content == data
    assert (cache_dir / sha1).read_bytes() == data


@pytest.mark.parametrize("size", [200_000, 6 * 1024 * 1024])
def test_wrong_bytes_from_a_source_without_verify_are_never_served_whole_nor_cached(
    api, cache_dir, start_server, size
):
    sha1, _ = blob(size)
    api.blobs[sha1] = os.urandom(size)  # other bytes of the same size; verify is not ticked
    server = start_server()
    if size <= 4 * 1024 * 1024:  # checked before any header: no tier has the right bytes
        response = fetch(server, sha1)
        assert response.status_code == 404 and "error" in response.json()
    else:  # checked as it streams: cut short before its last chunk
        assert len(read_raw(server, sha1)) < size
    assert not (cache_dir / sha1).exists() and no_partial_files(cache_dir)
    record = FetchRecord.objects.filter(sha1=sha1)
    wait_until(record.exists, message="the fetch was not recorded")
    assert [a["outcome"] for a in record.get().attempts] == ["not_found", "invalid"]


def read_raw(server, sha1, stop_after=None):
    """Send a GET on a socket and return the body bytes received until the server closed the
    connection, or until `stop_after` bytes (then hang up)."""
    host = f"127.0.0.1:{server.port}"
    request = f"GET {signed_blob_url(sha1)} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, body = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        while stop_after is None or len(body) < stop_after:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return body


@pytest.mark.parametrize("finish", [True, False])
def test_a_client_that_hangs_up_after_the_first_chunk_leaves_no_partial_entry(
    api, cache_dir, start_server, finish
):
    size = 32 * 1024 * 1024
    sha1, data = blob(size)
    api.blobs[sha1] = data
    server = start_server(bitstore={"FILL_AFTER_DISCONNECT_MAX_BYTES": size if finish else 0})
    read_raw(server, sha1, stop_after=1)
    if finish:  # the fill goes on in the background and commits the whole, right blob
        wait_until(lambda: (cache_dir / sha1).exists(), message="the fill did not finish")
        assert (cache_dir / sha1).read_bytes() == data
    else:  # the fill is dropped
        wait_until(lambda: no_partial_files(cache_dir), message="a partial file was left")
        assert not (cache_dir / sha1).exists()
    assert no_partial_files(cache_dir)
    assert fetch(server, sha1).content == data


def test_a_range_request_on_an_uncached_small_blob_fills_the_cache(api, cache_dir, start_server):
    sha1, data = blob()
    api.blobs[sha1] = data
    server = start_server()
    response = fetch(server, sha1, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == data[100:200]
    wait_until(lambda: (cache_dir / sha1).exists(), message="the range did not fill the cache")
    assert (cache_dir / sha1).read_bytes() == data
    requests_before = api.counts()[sha1]
    assert fetch(server, sha1).content == data
    assert api.counts()[sha1] == requests_before
    # The fill asked the API a second time: it is in the ledger, with the level it wrote.
    records = FetchRecord.objects.filter(sha1=sha1, tier_name="api")
    wait_until(lambda: records.count() == 2, message="the background fill was not recorded")
    assert sorted(record.written_to for record in records) == [[], ["cache"]]
