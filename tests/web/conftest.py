"""Fixtures for the HTTP endpoints: a clean service, tiers in the database, users by permission."""

import gc
import hashlib
import os

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from bitstore_app import ledger
from bitstore_app.models import Tier
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for subprocesses


@pytest.fixture(autouse=True)
def collect_unread_responses(fresh_service):
    """A response an earlier test did not read records its stream when collected: collect
    it, and drop what it recorded, before this test starts."""
    gc.collect()
    ledger.buffer.clear()


def blob_of(data):
    """Return the SHA1 of the bytes (a blob's key)."""
    return hashlib.sha1(data).hexdigest()


def make_user(name, *permissions):
    """Create a user holding `permissions` (codenames in bitstore_app)."""
    user = User.objects.create(username=name)  # no password: hashing one takes a second
    for codename in permissions:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="bitstore_app", codename=codename)
        )
    return user


@pytest.fixture
def eager_celery():
    """Run Celery tasks in this process when they are sent (task_always_eager)."""
    from project.celery import app

    names = ("task_always_eager", "task_eager_propagates")
    previous = {name: app.conf[name] for name in names}
    app.conf.update(dict.fromkeys(names, True))
    yield
    app.conf.update(previous)


@pytest.fixture
def reader(db):
    """A user with `bitstore_app.view_blob`."""
    return make_user("reader", "view_blob")


@pytest.fixture
def client_of(db):
    """Return a function that gives a test client logged in as a user."""

    def of(user):
        client = Client()
        client.force_login(user)
        return client

    return of


@pytest.fixture
def reader_client(client_of, reader):
    """A test client logged in as a user with `bitstore_app.view_blob`."""
    return client_of(reader)


class FolderTier:
    """A filesystem tier in the database, and the folder it reads."""

    def __init__(self, root, name="disk", position=0, **fields):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.tier = Tier.objects.create(
            name=name, kind="filesystem", location=str(root), position=position, **fields
        )

    def add(self, data, sha1=None):
        """Store `data` under its SHA1 (or under `sha1`, to plant a wrong blob); return it."""
        sha1 = sha1 or blob_of(data)
        (self.root / sha1).write_bytes(data)
        return sha1


@pytest.fixture
def folder_tier(db, tmp_path):
    """A filesystem tier, the only tier."""
    return FolderTier(tmp_path / "tier")


def blob_url(sha1, **query):
    """Return the endpoint's path for a blob, as the project mounts it."""
    from urllib.parse import urlencode

    from django.urls import reverse

    path = reverse("bitstore:blob", args=[sha1])
    return f"{path}?{urlencode(query)}" if query else path


def body(response):
    """Return the whole body of a (streaming or not) response."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def closed_port():
    """Return a loopback port that refuses connections (nothing listens on it)."""
    from tests.helpers import free_port

    return free_port()


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials for boto3 that moto accepts."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, os.environ.get(name, value))


@pytest.fixture
def uvicorn_server(live_db_url, tmp_path):  # noqa: F811 - the fixture imported above
    """Return a function that starts `uvicorn project.asgi:application` on the test database
    (with `config` as its BITSTORE) and returns its base URL; it is stopped after the test."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import free_port, wait_for_port

    started = []

    def start(config=None):
        port = free_port()
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": live_db_url,
            "BITSTORE_TEST_CONFIG": json.dumps(config or {}),
            "DJANGO_DEBUG": "0",
            # Warm jobs run in the server process: nothing is sent to a shared broker.
            "BITSTORE_CELERY_EAGER": "1",
            "CELERY_BROKER_URL": "",
            "BITSTORE_VAR_DIR": str(tmp_path / "var"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "always",
        }
        log = open(tmp_path / f"uvicorn-{port}.log", "w+")  # noqa: SIM115 - closed below
        command = [sys.executable, "-m", "uvicorn", "tests.web.asgi_app:application"]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        wait_for_port("127.0.0.1", port, timeout=30)
        return f"http://127.0.0.1:{port}", log

    yield start
    for process, log in started:
        process.terminate()
        process.wait(10)
        log.close()
