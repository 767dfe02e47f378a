"""Fixtures for the tier engine: buckets on the session emulators, and S3/GCS servers of a
test's own that it may stop and restart on the same port."""

import hashlib
import os
import uuid

import pytest

from tests.helpers import free_port, wait_for_port


def make_blob(label="blob", size=0):
    """Return (sha1, data) of a new, unique blob, padded with random bytes to `size`."""
    head = f"{label} {uuid.uuid4().hex} ".encode()
    data = head + os.urandom(max(size - len(head), 0))
    return hashlib.sha1(data).hexdigest(), data


def unique(prefix="t"):
    """Return a new name that is also a valid bucket name."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# A bucket per test: other suites reset the session servers, so a shared one may vanish.


@pytest.fixture
def s3_bucket(s3_server):
    """A new S3 bucket on the session's moto server."""
    return s3_server.make_bucket(unique("core"))


@pytest.fixture
def gcs_bucket(gcs_server):
    """A new GCS bucket on the session's emulator."""
    return gcs_server.make_bucket(unique("core"))


class OwnMoto:
    """A moto S3 server on a fixed free port, which a test can stop and start again.

    It runs in this process, so it shares moto's in-memory state with the session server:
    what it held before a restart is still there after it.
    """

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port("127.0.0.1", self.port)

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")


class OwnGCS:
    """A GCS emulator on a fixed free port, which a test can stop and start again.

    It keeps its data in memory, so a restart starts empty.
    """

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self):
        from gcp_storage_emulator.server import create_server

        self._server = create_server("127.0.0.1", self.port, in_memory=True)
        self._server.start()
        wait_for_port("127.0.0.1", self.port)

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server = None

    def make_bucket(self, name):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            project="test-project",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )
        client.create_bucket(name)
        return name


@pytest.fixture
def own_moto(s3_server):
    """A moto server of this test's own, not yet started (the session one sets the dummy
    credentials in the environment)."""
    server = OwnMoto()
    yield server
    server.stop()


@pytest.fixture
def own_gcs(gcs_server):
    """A GCS emulator of this test's own, not yet started."""
    server = OwnGCS()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_broker_connection_to_fork():
    """Close the Celery broker connections that earlier tests (a warm job's worker ping, say)
    left pooled in this process: in a forked child, kombu's after-fork hook closes each of
    them and waits for an answer to the parent's pending Redis BRPOP, for ever. Processes of
    the app never fork after using the broker (`get_many(processes=)` starts its workers from
    a fork server); these tests fork the test process itself."""
    import sys

    if "celery" in sys.modules:
        from celery import current_app

        current_app.pool.force_close_all()
    if "kombu.pools" in sys.modules:
        sys.modules["kombu.pools"].reset()
