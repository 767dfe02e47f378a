"""A real runserver with DEBUG on: a failure while a tier holds resolved credentials shows
the debug page, and the secret is on no page and in no log line. The secret sits in an
environment variable the tier's credentials reference (runserver copies the environment
into every request's META) under a name Django's own filter does not hide."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.helpers import free_port, wait_for_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "s3cr3t-Zq8vN2-debug-page"
ACCESS = "AKIADEBUGPAGE1234"


def manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture
def debug_server(tmp_path):
    """(base URL, session logged in as admin, log file) of a runserver with DEBUG on."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")} | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "BITSTORE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TIER_LOGIN_JSON": json.dumps({"aws_access_key_id": ACCESS, "password": SECRET}),
        "MISSPELT_LOGIN": json.dumps({"aws_acess_key_id": ACCESS, "aws_secret_access_key": SECRET}),
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--verbosity", "0")
    setup = (
        "from django.contrib.auth.models import User; from bitstore_app.models import Tier; "
        "User.objects.create_superuser('boss', 'b@x', 'pw-boss-1'); "
        "Tier.objects.create(name='s3-misspelt', kind='s3', location='s3://bucket/b/', "
        "credentials='env:MISSPELT_LOGIN', options={'endpoint_url': 'http://127.0.0.1:9'})"
    )
    manage(env, "shell", "-c", setup)
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--skip-checks",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=30)
        except TimeoutError:
            log.seek(0)
            raise AssertionError(log.read()[-3000:]) from None
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.get(f"{base}/admin/login/", timeout=10)
        answer = session.post(
            f"{base}/admin/login/",
            data={
                "username": "boss",
                "password": "pw-boss-1",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            timeout=10,
        )
        assert answer.status_code == 200 and "Log out" in answer.text
        yield base, session, log
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def add_tier(base, session, **fields):
    page = session.get(f"{base}/admin/bitstore_app/tier/add/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {
        "csrfmiddlewaretoken": token,
        "role": "source",
        "position": "0",
        "enabled": "on",
        "options": "{}",
        "connect_timeout": "5",
        "read_timeout": "30",
        "retries": "2",
        "breaker_threshold": "5",
        "breaker_cooldown": "30",
        "negative_ttl": "5",
        "rate_limit": "0",
    } | fields
    return session.post(f"{base}/admin/bitstore_app/tier/add/", data=data, timeout=30)


def test_a_crash_with_resolved_credentials_shows_no_secret(debug_server):
    base, session, log = debug_server
    crash = add_tier(
        base,
        session,
        name="plugin",
        kind="tests.security.crashing_tier.CrashingSource",
        credentials="env:TIER_LOGIN_JSON",
    )
    assert crash.status_code == 500
    assert "RuntimeError" in crash.text and "plugin crashed" in crash.text, "the debug page"
    assert "TIER_LOGIN_JSON" in crash.text, "the variable is listed, its value hidden"
    blob = session.get(f"{base}/bitstore/blobs/{'a' * 40}", timeout=30)
    assert blob.status_code in (404, 503) and "error" in blob.json()
    time.sleep(0.5)
    log.seek(0)
    logged = log.read()
    for secret in (SECRET, ACCESS):
        assert secret not in crash.text
        assert secret not in blob.text
        assert secret not in logged, [line for line in logged.splitlines() if secret in line]
    assert "plugin crashed" in logged, "the failure itself is logged"
