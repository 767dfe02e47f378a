"""Prove the S3 and GCS fixtures speak the real protocols end to end."""

import uuid


def test_s3_round_trip(s3_server):
    import boto3

    bucket = s3_server.make_bucket(f"emu-{uuid.uuid4().hex[:12]}")
    # A plain client, configured only by the environment the fixture set.
    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello s3")
    body = client.get_object(Bucket=bucket, Key="hello.txt")["Body"].read()
    assert body == b"hello s3"


def test_s3_reset_drops_buckets(s3_server):
    bucket = s3_server.make_bucket(f"emu-{uuid.uuid4().hex[:12]}")
    s3_server.reset()
    names = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]
    assert bucket not in names


def test_gcs_round_trip(gcs_server):
    from google.cloud import storage

    name = gcs_server.make_bucket(f"emu-{uuid.uuid4().hex[:12]}")
    # A plain client, configured only by the environment the fixture set.
    blob = storage.Client().bucket(name).blob("hello.txt")
    blob.upload_from_string(b"hello gcs")
    assert storage.Client().bucket(name).blob("hello.txt").download_as_bytes() == b"hello gcs"


def test_gcs_wipe_drops_buckets(gcs_server):
    name = gcs_server.make_bucket(f"emu-{uuid.uuid4().hex[:12]}")
    gcs_server.wipe()
    assert name not in [b.name for b in gcs_server.client().list_buckets()]


def test_redis_url_answers(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
    finally:
        client.close()
