"""README's nginx server block, read from README, in front of the shipped gunicorn
configuration: static files from STATIC_ROOT, blobs streamed through, `/metrics` closed to
addresses outside the Prometheus network."""

import hashlib
import os
import re
import shutil
import subprocess
import sys

import pytest
import requests

from bitstore_app.signed_urls import signed_blob_url
from bitstore_app.web.tokens import issue
from tests.app.conftest import REPO, live_db_url  # noqa: F401 - the test database
from tests.deployment.test_gunicorn import Gunicorn
from tests.helpers import free_port, require_service, wait_for_port
from tests.web.conftest import FolderTier, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BLOCK = re.compile(r"<!-- deploy: nginx -->\n```nginx\n(.*?)```", re.DOTALL)
BIG = bytes(range(256)) * 4096 * 5  # 5 MiB: more than nginx buffers in memory


def readme_server_block(port, upstream, static_root):
    """Return README's server block with this machine's port, upstream and static folder."""
    (block,) = BLOCK.findall((REPO / "README.md").read_text())
    replaced = (
        block.replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
        .replace("/srv/mysite/static/", f"{static_root}/")
    )
    assert replaced.count(f"127.0.0.1:{upstream}") == 2 and str(static_root) in replaced
    return replaced


@pytest.fixture
def nginx(tmp_path, live_db_url):  # noqa: F811
    require_service("nginx", lambda: shutil.which("nginx") is not None)
    static_root = tmp_path / "static"
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO,
        env={**os.environ, "BITSTORE_VAR_DIR": str(tmp_path)},
        check=True,
    )
    server = Gunicorn(live_db_url, tmp_path)
    port = free_port()
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"""
worker_processes 1;
{"user root;" if os.geteuid() == 0 else ""}  # the test's folders are its user's alone
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log warn;  # warn: a request body spooled to disk
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    {readme_server_block(port, server.port, static_root)}
}}
"""
    )
    subprocess.run(["nginx", "-t", "-q", "-c", config], check=True)
    subprocess.run(["nginx", "-c", config], check=True)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["nginx", "-c", config, "-s", "quit"], check=False)
        server.stop()


def test_nginx_serves_static_files_streams_blobs_and_closes_metrics(nginx, tmp_path):
    css = requests.get(f"{nginx}/static/bitstore_app/statistics.css", timeout=10)
    assert css.status_code == 200 and "bitstore-chart" in css.text
    assert "gunicorn" not in css.headers.get("Server", "")

    sha1 = FolderTier(tmp_path / "tier").add(BIG)
    blob = requests.get(f"{nginx}{signed_blob_url(sha1)}", timeout=30)
    assert blob.status_code == 200 and blob.content == BIG
    assert blob.headers["ETag"] == f'"{sha1}"'
    ranged = requests.get(
        f"{nginx}{signed_blob_url(sha1)}", headers={"Range": "bytes=10-19"}, timeout=10
    )
    assert ranged.status_code == 206 and ranged.content == BIG[10:20]

    # From 127.0.0.1, as every request reaches gunicorn: nginx itself must refuse it.
    refused = requests.get(f"{nginx}/bitstore/metrics", timeout=10)
    assert refused.status_code == 403 and "nginx" in refused.text


def test_uploads_up_to_the_size_setting_pass_nginx_streamed(nginx, tmp_path):
    cache = FolderTier(tmp_path / "cache", name="cache", role="cache")
    _, token = issue(make_user("nginx-uploader", "add_blob"), "uploads", ["upload"])
    program = {"Authorization": f"Bearer {token}"}
    # Past the 20 MB that a warm job's list needs, within UPLOAD_MAX_SIZE (5 GiB).
    data = os.urandom(24 * 1024 * 1024)
    sha1 = hashlib.sha1(data).hexdigest()
    put = requests.put(f"{nginx}/bitstore/blobs/{sha1}", data=data, headers=program, timeout=60)
    assert put.status_code == 201, put.text[:500]
    assert (cache.root / sha1).read_bytes() == data
    posted = requests.post(f"{nginx}/bitstore/blobs", data=data, headers=program, timeout=60)
    assert (posted.status_code, posted.json()["created"]) == (200, False)
    # nginx hands the body on as it arrives instead of spooling it to its own disk first.
    assert "buffered to a temporary file" not in (tmp_path / "nginx-error.log").read_text()
