"""Bucket cache levels on the emulators: with `touch_interval`, a hit refreshes the object's
time (S3: a copy onto itself, which makes Last-Modified new; GCS: its Custom-Time) at most
once per interval, so that the bucket's lifecycle rule removes what is cold. The emulators
do not run lifecycle rules: what is tested is the time a rule would read."""

import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from bitstore_app.core import GSRaw, S3Raw
from tests.core.conftest import unique


class Calls:
    """Count one S3 operation of a store's client (botocore's own event hooks)."""

    def __init__(self, store, operation):
        self.count = 0
        store.client().meta.events.register(f"before-call.s3.{operation}", self._seen)

    def _seen(self, **kwargs):
        self.count += 1


def s3_time(server, uri):
    bucket, key = uri[len("s3://") :].split("/", 1)
    return server.client().head_object(Bucket=bucket, Key=key)["LastModified"]


def test_an_s3_hit_on_an_object_older_than_the_interval_makes_it_new_once(s3_server, s3_bucket):
    uri = f"s3://{s3_bucket}/{unique()}"
    S3Raw(endpoint_url=s3_server.endpoint).put(uri, b"cached blob")
    written = s3_time(s3_server, uri)
    store = S3Raw(endpoint_url=s3_server.endpoint, touch_interval=2)
    copies = Calls(store, "CopyObject")
    assert store.get(uri) == b"cached blob"
    assert copies.count == 0  # written under two seconds ago: not due
    while datetime.now(UTC) - s3_time(s3_server, uri) < timedelta(seconds=2):
        time.sleep(0.1)  # Last-Modified counts whole seconds
    assert store.get(uri) == b"cached blob"
    assert copies.count == 1 and s3_time(s3_server, uri) > written
    with store.open(uri) as stream:
        assert stream.read() == b"cached blob"
    assert store.get(uri) == b"cached blob"
    assert copies.count == 1  # made new: not due again within the interval
    other = S3Raw(endpoint_url=s3_server.endpoint, touch_interval=2)  # another process
    other_copies = Calls(other, "CopyObject")
    assert other.get(uri) == b"cached blob"
    assert other_copies.count == 0  # the answer's Last-Modified is new: not due there either


def test_s3_refreshes_nothing_without_the_option(s3_server, s3_bucket):
    uri = f"s3://{s3_bucket}/{unique()}"
    store = S3Raw(endpoint_url=s3_server.endpoint)
    store.put(uri, b"blob")
    copies = Calls(store, "CopyObject")
    store.get(uri)
    assert copies.count == 0


def gcs_object(server, uri):
    bucket, key = uri[len("gs://") :].split("/", 1)
    return server.client().bucket(bucket).get_blob(key)


def test_a_gcs_write_gets_a_custom_time_and_a_hit_within_the_interval_keeps_it(
    gcs_server, gcs_bucket
):
    uri = f"gs://{gcs_bucket}/{unique()}"
    store = GSRaw(endpoint=gcs_server.endpoint, touch_interval=3600)
    store.put(uri, b"cached blob")
    written = gcs_object(gcs_server, uri).custom_time
    assert datetime.now(UTC) - written < timedelta(minutes=5)
    assert store.get(uri) == b"cached blob"
    with store.open(uri) as stream:
        assert stream.read() == b"cached blob"
    assert gcs_object(gcs_server, uri).custom_time == written


@pytest.mark.parametrize("read", ["get", "open"])
@pytest.mark.parametrize("custom_time", [datetime(2020, 1, 1, tzinfo=UTC), None])
def test_a_gcs_hit_on_a_cold_object_sets_its_custom_time_once(
    gcs_server, gcs_bucket, read, custom_time
):
    uri = f"gs://{gcs_bucket}/{unique()}"
    bucket, key = uri[len("gs://") :].split("/", 1)
    old = gcs_server.client().bucket(bucket).blob(key)  # filled long ago, or by an old release
    old.custom_time = custom_time
    old.upload_from_file(io.BytesIO(b"cold blob"), size=9)
    store = GSRaw(endpoint=gcs_server.endpoint, touch_interval=3600)
    if read == "get":
        assert store.get(uri) == b"cold blob"
    else:
        with store.open(uri) as stream:
            assert stream.read() == b"cold blob"
    refreshed = gcs_object(gcs_server, uri).custom_time
    assert datetime.now(UTC) - refreshed < timedelta(minutes=5)
    store.get(uri)
    assert gcs_object(gcs_server, uri).custom_time == refreshed
