"""`make run` end to end, as a newcomer uses it: one command, then the admin, a blob URL and
a warm job work, and Ctrl-C stops everything."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
READY = "bitstore is running"


@pytest.fixture
def run_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)  # the embedded defaults: SQLite and a filesystem broker
    env.update(
        BITSTORE_VAR_DIR=str(tmp_path / "var"),
        BITSTORE_WEB_PORT=str(free_port()),
        BITSTORE_DEMO_API_PORT=str(free_port()),
        BITSTORE_ADMIN_PASSWORD="newcomer-password",
    )
    return env


def read_until_ready(process, deadline):
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError("make run did not become ready:\n" + "".join(lines))


@pytest.mark.slow
def test_make_run_serves_admin_blob_and_warm_job(run_env):
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = read_until_ready(process, time.monotonic() + 90)
        assert READY in output
        started = re.findall(r"started (\w+).*?\(pid (\d+)\)", output)
        pids = {name: int(pid) for name, pid in started}
        assert set(pids) == {"demo", "web", "worker"}, output
        blob_url = re.search(r"a blob:\s+(\S+)", output).group(1)
        port = run_env["BITSTORE_WEB_PORT"]

        # The tour's first step: the curl line three times; the demo API serves the first
        # (written into the cache as it is sent), the cache the other two.
        sha1 = re.search(r"/blobs/([0-9a-f]{40})", blob_url).group(1)
        for _ in range(3):
            response = requests.get(blob_url, timeout=10)
            assert response.status_code == 200
            assert response.headers["ETag"].strip('"') == sha1
        database = Path(run_env["BITSTORE_VAR_DIR"]) / "db.sqlite3"
        served = wait_for_records(database, sha1, 3)
        assert served == [
            ("demo-api", '["local-cache"]'),
            ("local-cache", "[]"),
            ("local-cache", "[]"),
        ]

        # The tour's warming step: the printed line, as it is, warms blobs of the demo API.
        warm_line = re.search(r"warm cache:\s+(.+)", output).group(1)
        warmed = subprocess.run(
            ["bash", "-c", warm_line], cwd=ROOT, env=run_env, capture_output=True, text=True
        )
        assert warmed.returncode == 0, warmed.stdout + warmed.stderr
        assert re.search(r"warmed\s+3\b", warmed.stdout), warmed.stdout

        # The admin login printed works.
        session = requests.Session()
        login = f"http://127.0.0.1:{port}/admin/login/"
        session.get(login, timeout=10)
        answer = session.post(
            login,
            data={
                "username": "admin",
                "password": "newcomer-password",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/bitstore_app/tier/",
            },
            headers={"Referer": login},
            timeout=10,
        )
        assert answer.status_code == 200 and "local-cache" in answer.text

        # A warm job of demo API blobs completes through the worker that make run started.
        from project.demo_api import BLOBS

        hashes = list(BLOBS)[5:25]
        warm = subprocess.run(
            [sys.executable, "manage.py", "bitstore_warm", "-"],
            cwd=ROOT,
            env=run_env,
            input="\n".join(hashes),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert warm.returncode == 0, warm.stdout + warm.stderr
        cache = Path(run_env["BITSTORE_VAR_DIR"]) / "demo" / "cache"
        assert {path.name for path in cache.iterdir()} >= set(hashes)
        for sha1 in hashes:
            assert (cache / sha1).read_bytes() == BLOBS[sha1]
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        rest, _ = process.communicate(timeout=30)
    assert "stopped" in rest, rest
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"{name} still runs"


def wait_for_records(database, sha1, count, timeout=30):
    """Return (tier, written_to) of the first `count` ledger records of `sha1`, in order, once
    the web process has flushed them."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(database) as db:
            rows = db.execute(
                "SELECT tier_name, written_to FROM bitstore_app_fetchrecord WHERE sha1 = ?"
                " ORDER BY created_at, id",
                (sha1,),
            ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows[:count]
        time.sleep(0.2)


def _is_zombie(pid):
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
