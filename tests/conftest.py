"""Session-wide fixtures: real S3 and GCS stand-ins on loopback, and the Redis URL."""

import os
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests

from tests.helpers import free_port, require_service, wait_for_port

# The gunicorn processes tests start (and their children) make no control socket: gunicorn 26
# puts every instance's at the same path, ~/.gunicorn/gunicorn.ctl, which concurrent test
# runs on one machine would share.
os.environ.setdefault("GUNICORN_CMD_ARGS", "--no-control-socket")


@dataclass
class S3Server:
    """A moto S3 server on 127.0.0.1; boto3 finds it through AWS_ENDPOINT_URL_S3."""

    endpoint: str
    port: int

    def client(self):
        """Return a boto3 S3 client bound to this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def make_bucket(self, name):
        """Create bucket `name` and return its name."""
        self.client().create_bucket(Bucket=name)
        return name

    def reset(self):
        """Drop every bucket and object."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()


@dataclass
class GCSServer:
    """A gcp-storage-emulator on 127.0.0.1; google-cloud-storage finds it through
    STORAGE_EMULATOR_HOST."""

    endpoint: str
    port: int
    server: object

    def client(self):
        """Return a google.cloud.storage Client bound to this emulator."""
        from google.cloud import storage

        return storage.Client()

    def make_bucket(self, name):
        """Create bucket `name` and return its name."""
        self.client().create_bucket(name)
        return name

    def wipe(self):
        """Drop every bucket and object."""
        self.server.wipe()


@contextmanager
def _environment(values):
    """Set environment variables for the duration of the block, then restore them."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def s3_server():
    """Run moto's S3 server for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        wait_for_port(host, port)
        with _environment(env):
            yield S3Server(endpoint=endpoint, port=port)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gcs_server():
    """Run the GCS emulator, in memory, for the whole session."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "test-project"}
    try:
        wait_for_port("127.0.0.1", port)
        with _environment(env):
            yield GCSServer(endpoint=endpoint, port=port, server=server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url():
    """Return the URL of a reachable Redis database for tests (skip when there is none)."""
    import redis

    url = os.environ.get("BITSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

    def ping():
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return client.ping()
        finally:
            client.close()

    require_service(f"Redis at {url}", ping)
    return url


#: What each test's service starts from: no background ledger thread writing outside the
#: test's transaction (tests flush). A folder's conftest may override `base_bitstore_config`.
@pytest.fixture
def base_bitstore_config():
    return {"LEDGER_BACKGROUND_FLUSH": False}


@pytest.fixture(autouse=True)
def fresh_service(settings, base_bitstore_config):
    """Give each test a service that knows no composite and holds no ledger records."""
    from bitstore_app import ledger, services

    settings.BITSTORE = dict(base_bitstore_config)
    services.configuration.invalidate()
    ledger.buffer.clear()
    yield
    ledger.buffer.stop()
    ledger.buffer.clear()
    services.configuration.invalidate()


@pytest.fixture
def bitstore_config(settings, base_bitstore_config):
    """Return a function that sets `BITSTORE` keys on top of the test defaults."""

    def configure(**values):
        settings.BITSTORE = base_bitstore_config | values

    return configure
