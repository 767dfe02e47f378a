"""The S3 server is killed in the middle of a get_many of 1,000 blobs that a GCS tier also
holds: every call still returns the right bytes, from GCS once S3 is gone."""

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from bitstore_app.composer import TierSpec, build_composite
from bitstore_app.core import breaker, map_in_order
from tests.resilience.conftest import make_blob, unique
from tests.resilience.processes import GCSProcess, MotoProcess

BLOBS = 1000
KILL_AFTER = 300


@pytest.fixture
def moto(aws_env):
    server = MotoProcess()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def gcs(monkeypatch):
    server = GCSProcess()
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.endpoint)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test-project")
    yield server
    server.kill()


def upload(moto, bucket, blobs):
    """Put every blob into a new bucket of that name on moto and on the GCS emulator."""
    from google.cloud import storage

    s3 = boto3.client("s3", endpoint_url=moto.endpoint)
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda b: s3.put_object(Bucket=bucket, Key=f"b/{b[0]}", Body=b[1]), blobs))
    gcs_bucket = storage.Client().create_bucket(bucket)
    for sha1, data in blobs:  # the emulator answers one request at a time
        gcs_bucket.blob(f"b/{sha1}").upload_from_string(data)


def test_get_many_survives_the_s3_server_dying(moto, gcs, record_property):
    bucket = f"killed-{uuid.uuid4().hex[:8]}"
    blobs = [make_blob("killed", size=2048) for _ in range(BLOBS)]
    upload(moto, bucket, blobs)
    s3_tier = TierSpec(
        name=unique("s3"),
        kind="s3",
        location=f"s3://{bucket}/b/",
        options={"endpoint_url": moto.endpoint},
        connect_timeout=1,
        read_timeout=2,
    )
    gs_tier = TierSpec(name=unique("gs"), kind="gs", location=f"gs://{bucket}/b/")
    composite = build_composite([s3_tier, gs_tier])

    served, wrong, killed_at = Counter(), 0, None
    started = time.perf_counter()
    fetches = map_in_order(composite.fetch, [sha1 for sha1, _ in blobs], workers=16)
    for number, (result, (_, data)) in enumerate(zip(fetches, blobs, strict=True)):
        if number == KILL_AFTER:
            moto.kill()
            killed_at = time.perf_counter() - started
        wrong += result.data != data
        served[result.served_by] += 1
    seconds = time.perf_counter() - started

    record_property("seconds", round(seconds, 2))
    record_property("killed_at", round(killed_at, 2))
    record_property("served", dict(served))
    assert wrong == 0, "every blob came back with the right bytes"
    assert sum(served.values()) == BLOBS
    assert served[s3_tier.name] >= KILL_AFTER and served[gs_tier.name] > 0
    assert breaker.states()[s3_tier.name] == breaker.OPEN
    assert seconds < 30
