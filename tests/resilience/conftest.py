"""Fixtures for fault injection: misbehaving servers, and tiers built the way the service
builds them (through `composer.build_tier`, so behind their breaker and negative cache)."""

import hashlib
import os
import shutil
import uuid

import pytest

from bitstore_app.composer import TierSpec
from tests.helpers import require_service
from tests.resilience.processes import RedisProcess
from tests.resilience.servers import BlobServer, HangingServer

#: AWS settings for S3 tiers pointed at a stand-in (no real AWS is ever reached).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def make_blob(label="blob", size=0):
    """Return (sha1, data) of a new, unique blob, padded with random bytes to `size`."""
    data = f"{label} {uuid.uuid4().hex} ".encode()
    data += os.urandom(max(size - len(data), 0))
    return hashlib.sha1(data).hexdigest(), data


def unique(name):
    """Return a tier name no other test uses: breakers are shared per tier name."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def api_tier(url, **values):
    """Return the spec of an http_api tier at `url`, with short timeouts."""
    defaults = {"connect_timeout": 1.0, "read_timeout": 1.0, "breaker_cooldown": 60.0}
    return TierSpec(name=unique("api"), kind="http_api", location=url, **(defaults | values))


def folder_tier(path, **values):
    """Return the spec of a filesystem tier in `path`."""
    return TierSpec(name=unique("disk"), kind="filesystem", location=str(path), **values)


@pytest.fixture
def blob_server():
    server = BlobServer()
    yield server
    server.stop()


@pytest.fixture
def hanging_server():
    server = HangingServer()
    yield server
    server.stop()


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials and region for boto3, without starting the session's moto server. (A test
    that also uses `s3_server` must not use this: the session fixture would start inside this
    test's environment, and lose its settings when this test's are undone.)"""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def service():
    """The service, building its composite from this test's Tier rows (the shared
    `fresh_service` fixture gives each test a fresh one, its ledger written on `flush()`)."""
    from bitstore_app import services

    return services


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of this test's own, on a free port: tests may stop and restart it."""
    require_service("redis-server", lambda: shutil.which("redis-server") is not None)
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.kill()
