"""BLOB_SENDFILE: whole-blob GETs of filesystem-cache hits answered with the file, which the
WSGI server (a real gunicorn here) sends through wsgi.file_wrapper, with sendfile."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.http import FileResponse
from django.urls import resolve

from bitstore_app import ledger
from bitstore_app.models import FetchRecord, Tier
from bitstore_app.signed_urls import signed_blob_url
from tests.app.conftest import live_db_url  # noqa: F401 - a fixture
from tests.helpers import free_port, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def cache_folder(tmp_path, bitstore_config):
    folder = tmp_path / "cache"
    folder.mkdir()
    Tier.objects.create(name="disk-cache", kind="filesystem", location=str(folder), role="cache")
    bitstore_config(BLOB_SENDFILE=True)
    return folder


def put(folder, data):
    sha1 = hashlib.sha1(data).hexdigest()
    (folder / sha1).write_bytes(data)
    return sha1


def test_a_cached_blob_is_answered_with_its_file(cache_folder, client, rf):
    sha1 = put(cache_folder, b"sent by the server")
    url = signed_blob_url(sha1)
    # Called as the WSGI handler calls it (the test client wraps the body, which drops the
    # file): the response carries the file for wsgi.file_wrapper.
    match = resolve(url.split("?")[0])
    direct = match.func(rf.get(url), **match.kwargs)
    assert isinstance(direct, FileResponse) and direct.file_to_stream is not None
    direct.close()
    response = client.get(url)
    assert b"".join(response.streaming_content) == b"sent by the server"
    assert response["Content-Length"] == "18" and response["ETag"] == f'"{sha1}"'
    assert "Content-Disposition" not in response
    # A range is cut by Django as without the setting.
    part = client.get(signed_blob_url(sha1), HTTP_RANGE="bytes=0-3")
    assert (part.status_code, b"".join(part.streaming_content)) == (206, b"sent")


@pytest.fixture
def gunicorn(live_db_url, cache_folder, tmp_path):  # noqa: F811
    port = free_port()
    database_url = live_db_url
    if database_url.startswith("sqlite"):
        database_url += "?timeout=30"
    environment = os.environ | {
        "DATABASE_URL": database_url,
        "BITSTORE_TEST_CONFIG": json.dumps({"BLOB_SENDFILE": True}),
    }
    command = [sys.executable, "-m", "gunicorn", "tests.web.sendfile_wsgi:application"]
    command += ["-b", f"127.0.0.1:{port}", "-w", "1", "--log-level", "warning"]
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=log)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_gunicorn_sends_the_whole_file(gunicorn, cache_folder):
    data = os.urandom(8 * 1024 * 1024)
    sha1 = put(cache_folder, data)
    response = requests.get(gunicorn + signed_blob_url(sha1), timeout=30)
    assert response.status_code == 200 and response.content == data
    assert response.headers["Content-Length"] == str(len(data))
    ledger.buffer.flush()
    # The hit is recorded by the gunicorn process; its ledger thread writes it within a second.
    for _ in range(100):
        if FetchRecord.objects.filter(sha1=sha1).exists():
            break
        time.sleep(0.05)
    assert FetchRecord.objects.get(sha1=sha1).tier_name == "disk-cache"
