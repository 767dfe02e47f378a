"""Fixtures for the admin tests: a logged-in superuser, tiers on disk, and a tier that is down."""

import hashlib

import pytest

from bitstore_app.models import Tier
from tests.helpers import free_port

#: A credentials entry whose values must never reach a page; tests search every page for them.
SECRET = "SECRET-XYZ"
CREDENTIALS = {
    "prod-s3": {"aws_access_key_id": "AKIA-" + SECRET, "aws_secret_access_key": SECRET},
}


@pytest.fixture
def base_bitstore_config():
    return {"LEDGER_BACKGROUND_FLUSH": False, "CREDENTIALS": CREDENTIALS, "PROBE_TIMEOUT": 1.0}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The admin_client fixture's superuser: a fast hasher keeps each test's setup short."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_tier(tmp_path):
    """Return a function that creates a tier; by default a filesystem tier in a new folder."""
    count = 0

    def make(name, **fields):
        nonlocal count
        count += 1
        if fields.get("kind", "filesystem") == "filesystem" and "location" not in fields:
            folder = tmp_path / name
            folder.mkdir()
            fields["location"] = str(folder)
        fields.setdefault("kind", "filesystem")
        fields.setdefault("position", count)
        return Tier.objects.create(name=name, **fields)

    return make


@pytest.fixture
def closed_port():
    """Return a loopback port that nothing listens on: a tier pointed there is down."""
    return free_port()


@pytest.fixture
def down_s3_tier(make_tier, closed_port):
    """An S3 tier whose endpoint is a closed loopback port."""
    return make_tier(
        "s3-down",
        kind="s3",
        location="s3://bucket/blobs/",
        credentials="prod-s3",
        options={"endpoint_url": f"http://127.0.0.1:{closed_port}"},
    )


def blob(label):
    """Return (sha1, data) of a small blob."""
    data = f"bitstore admin test {label}".encode()
    return hashlib.sha1(data).hexdigest(), data


def store_blob(tier, data):
    """Write a blob into a filesystem tier's folder, where the tier looks for it."""
    from pathlib import Path

    sha1 = hashlib.sha1(data).hexdigest()
    Path(tier.location, sha1).write_bytes(data)
    return sha1


def make_record(sha1, outcome, attempts, *, at, size=0, latency_ms=None, tier=None):
    """Write one hand-made ledger record the way the ledger does (with its rollups); attempts
    are (tier, outcome, ms) triples."""
    from bitstore_app.ledger.writer import write_batch
    from bitstore_app.models import FetchRecord

    served = tier.name if tier is not None else ""
    if outcome == "hit" and tier is None:
        served = next(name for name, said, _ in attempts if said == "hit")
    write_batch(
        [
            {
                "sha1": sha1,
                "tier_id": tier.id if tier is not None else None,
                "tier_name": served,
                "outcome": outcome,
                "attempts": [{"tier": n, "outcome": said, "ms": ms} for n, said, ms in attempts],
                "size": size,
                "latency_ms": sum(ms for _, _, ms in attempts)
                if latency_ms is None
                else latency_ms,
                "cache_written": False,
                "user_id": None,
                "task_id": "",
                "created_at": at,
            }
        ]
    )
    return FetchRecord.objects.latest("id")


def form_data(form, **overrides):
    """Return what a browser posts for `form` as shown, with `overrides` (None drops a key)."""
    from django import forms

    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            data[name] = "on" if value else None
        else:
            data[name] = "" if value is None else value
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
