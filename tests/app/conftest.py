"""Fixtures for the Django app: a clean service per test, real tier backends, a real HTTP API,
and a database that a second process can see."""

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.app.blob_api import BlobAPI

REPO = Path(__file__).resolve().parents[2]


def make_blob(label="blob"):
    """Return (sha1, data) of a new, unique blob."""
    data = f"{label} {uuid.uuid4().hex}".encode()
    return hashlib.sha1(data).hexdigest(), data


@pytest.fixture
def blob_api():
    """A real HTTP API on loopback that serves `api.blobs` and counts the requests it gets."""
    api = BlobAPI()
    api.start()
    yield api
    api.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """Return the name of a new, empty bucket on the moto S3 server."""
    return s3_server.make_bucket(f"app-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def gcs_bucket(gcs_server):
    """Return the name of a new, empty bucket on the GCS emulator."""
    return gcs_server.make_bucket(f"app-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def live_db_url(transactional_db):
    """Return a DATABASE_URL for the test database, for processes the test starts.

    Needs committed data: the test runs with `django_db(transaction=True)`. On SQLite the
    test database is a file (project/settings.py sets TEST NAME), so other processes see it.
    """
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(config["NAME"])
        assert "memory" not in name, "an in-memory SQLite database is invisible to other processes"
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = quote(config["USER"] or "", safe="")
        password = f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else ""
        host = config["HOST"] or "localhost"
        port = f":{config['PORT']}" if config["PORT"] else ""
        return f"postgres://{user}{password}@{host}{port}/{config['NAME']}"
    pytest.fail(f"live_db_url does not know the {connection.vendor} backend")


@pytest.fixture
def second_process(live_db_url):
    """Return a function that starts `python -m tests.app.process ARGS` on the test database.

    The process runs Django with the project's settings; `config` becomes its `BITSTORE`,
    `env` is added to its environment; its stdin is a pipe the test may write to.
    Every process started is ended when the test ends.
    """
    import json

    started = []

    def start(*args, config=None, env=None):
        env = (
            os.environ
            | (env or {})
            | {
                "DJANGO_SETTINGS_MODULE": "project.settings",
                "DATABASE_URL": live_db_url,
                "BITSTORE_TEST_CONFIG": json.dumps(config or {}),
                "PYTHONUNBUFFERED": "1",
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.app.process", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()
