"""Filesystem-cache hits handed to nginx (X-Accel-Redirect): Django checks access, nginx sends
the file; a real nginx in front of Django's live server."""

import getpass
import hashlib
import shutil
import subprocess

import pytest
import requests

from bitstore_app import ledger
from bitstore_app.models import FetchRecord, Tier
from bitstore_app.signed_urls import signed_blob_url
from tests.helpers import free_port, require_service, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)

LOCATION = "/_bitstore_cache/"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def cache_folder(tmp_path, bitstore_config):
    folder = tmp_path / "cache"
    folder.mkdir()
    Tier.objects.create(name="disk-cache", kind="filesystem", location=str(folder), role="cache")
    Tier.objects.create(name="source", kind="filesystem", location=str(tmp_path), position=1)
    bitstore_config(BLOB_ACCEL_REDIRECT=LOCATION)
    return folder


@pytest.fixture
def nginx(live_server, cache_folder, tmp_path):
    """nginx on a free port: the app proxied, the cache folder as an internal location."""
    require_service(
        "nginx", lambda: subprocess.run([NGINX, "-v"], capture_output=True).returncode == 0
    )
    port = free_port()
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"""
# The worker reads the cache folder as the folder's owner does (ignored unless root).
user {getpass.getuser()};
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  client_body_temp_path {tmp_path}/body;
  proxy_temp_path {tmp_path}/proxy;
  fastcgi_temp_path {tmp_path}/fastcgi;
  uwsgi_temp_path {tmp_path}/uwsgi;
  scgi_temp_path {tmp_path}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass {live_server.url}; }}
    location {LOCATION} {{ internal; alias {cache_folder}/; }}
  }}
}}
"""
    )
    process = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"])
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def put(folder, data):
    sha1 = hashlib.sha1(data).hexdigest()
    (folder / sha1).write_bytes(data)
    return sha1


def test_nginx_sends_a_cached_blob_that_django_let_through(nginx, cache_folder, live_server):
    data = bytes(range(256)) * 4096  # 1 MiB
    sha1 = put(cache_folder, data)
    url = signed_blob_url(sha1)
    direct = requests.get(live_server.url + url, timeout=10)
    assert direct.headers["X-Accel-Redirect"] == LOCATION + sha1 and direct.content == b""
    through = requests.get(nginx + url, timeout=10)
    assert through.status_code == 200 and through.content == data
    assert "X-Accel-Redirect" not in through.headers
    assert through.headers["Content-Type"] == "application/octet-stream"
    head = requests.head(nginx + url, timeout=10)
    assert (head.status_code, head.headers["Content-Length"]) == (200, str(len(data)))
    part = requests.get(nginx + url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert (part.status_code, part.content) == (206, data[10:20])
    ledger.buffer.flush()
    records = FetchRecord.objects.filter(sha1=sha1)
    assert {(r.outcome, r.tier_name, r.size) for r in records} == {("hit", "disk-cache", len(data))}
    assert records.count() == 4  # the direct request, the GET, the HEAD and the range


def test_access_is_still_checked_and_misses_are_streamed_by_django(nginx, cache_folder, tmp_path):
    sha1 = put(cache_folder, b"cached")
    unsigned = requests.get(nginx + signed_blob_url(sha1).split("?")[0], timeout=10)
    assert unsigned.status_code in (401, 403) and unsigned.content != b"cached"
    # The internal location answers only Django's redirects, never a client.
    assert requests.get(f"{nginx}{LOCATION}{sha1}", timeout=10).status_code == 404
    # Not in the cache: Django streams it from the source, as without the setting.
    source_only = hashlib.sha1(b"from the source").hexdigest()
    (tmp_path / source_only).write_bytes(b"from the source")
    through = requests.get(nginx + signed_blob_url(source_only), timeout=10)
    assert (through.status_code, through.content) == (200, b"from the source")
    unknown = hashlib.sha1(b"nowhere").hexdigest()
    assert requests.get(nginx + signed_blob_url(unknown), timeout=10).status_code == 404


def test_x_sendfile_names_the_file_for_apache_or_lighttpd(cache_folder, bitstore_config, client):
    bitstore_config(BLOB_ACCEL_REDIRECT=LOCATION, BLOB_ACCEL_HEADER="X-Sendfile")
    sha1 = put(cache_folder, b"for apache")
    response = client.get(signed_blob_url(sha1, download="report.bin"))
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == str(cache_folder / sha1)
    assert response["ETag"] == f'"{sha1}"'
    assert 'filename="report.bin"' in response["Content-Disposition"]


def test_without_the_setting_django_streams_the_cached_blob(cache_folder, bitstore_config, client):
    bitstore_config()
    sha1 = put(cache_folder, b"streamed")
    response = client.get(signed_blob_url(sha1))
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == b"streamed"


def test_a_blob_handed_to_nginx_is_spared_by_the_eviction_of_a_bounded_level(
    nginx, cache_folder, tmp_path, bitstore_config
):
    from bitstore_app import services

    bitstore_config(BLOB_ACCEL_REDIRECT=LOCATION, EVICTION_SPARE_SECONDS=60)
    Tier.objects.filter(name="disk-cache").update(max_bytes=150_000)
    Tier.objects.filter(name="source").update(write_back=True)
    services.configuration.invalidate()
    blobs = [put(tmp_path, bytes([number]) * 50_000) for number in range(4)]
    first, *others = blobs
    for sha1 in blobs[:3]:  # filled through Django: the level is full
        assert requests.get(nginx + signed_blob_url(sha1), timeout=10).status_code == 200
    assert sorted(p.name for p in cache_folder.iterdir() if p.name[0] != ".") == sorted(blobs[:3])
    handed = requests.get(nginx + signed_blob_url(first), timeout=10)  # nginx sends the file
    assert handed.content == bytes([0]) * 50_000
    # A fill needs room: the least recently used go, but not the blob nginx was just handed,
    # although it was filled first.
    assert requests.get(nginx + signed_blob_url(others[-1]), timeout=10).status_code == 200
    kept = {p.name for p in cache_folder.iterdir() if p.name[0] != "."}
    assert first in kept and others[-1] in kept and len(kept) <= 3
    assert requests.get(nginx + signed_blob_url(first), timeout=10).content == handed.content


def test_the_front_server_is_handed_the_first_filesystem_level(
    cache_folder, tmp_path, bitstore_config, client
):
    bitstore_config(BLOB_ACCEL_REDIRECT=LOCATION, BLOB_ACCEL_HEADER="X-Sendfile")
    second = tmp_path / "second-level"
    second.mkdir()
    Tier.objects.create(
        name="second", kind="filesystem", location=str(second), role="cache", position=1
    )
    Tier.objects.filter(name="source").update(position=2)
    both, lower = put(cache_folder, b"in both levels"), put(second, b"in the second only")
    put(second, b"in both levels")
    response = client.get(signed_blob_url(both))
    assert response["X-Sendfile"] == str(cache_folder / both)
    response = client.get(signed_blob_url(lower))  # not in the folder the front server reads
    assert "X-Sendfile" not in response
    assert b"".join(response.streaming_content) == b"in the second only"
    assert (cache_folder / lower).read_bytes() == b"in the second only"  # promoted
    assert client.get(signed_blob_url(lower))["X-Sendfile"] == str(cache_folder / lower)
