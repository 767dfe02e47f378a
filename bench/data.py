"""The blobs the benchmark reads: generated from a tag and an index, so that any process
(the API source server included) makes the same bytes without sharing files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

S3_BUCKET = "bench-s3"
GCS_BUCKET = "bench-gcs"
#: The three tiers of every layout: an S3 prefix, a GCS prefix, another S3 prefix.
FIRST = f"s3://{S3_BUCKET}/first/"
SECOND = f"gs://{GCS_BUCKET}/second/"
THIRD = f"s3://{S3_BUCKET}/third/"
KIB = 1024
MIB = 1024 * KIB


def blob(tag: str, index: int, size: int) -> bytes:
    """Return blob number `index` of the family `tag`: `size` pseudo-random bytes."""
    seed = hashlib.sha256(f"{tag}:{index}".encode()).digest()
    whole, rest = divmod(size, len(seed))
    return seed * whole + seed[:rest]


def blobs(tag: str, count: int, size: int) -> list[bytes]:
    return [blob(tag, index, size) for index in range(count)]


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def split(uri: str) -> tuple[str, str]:
    """Return (bucket, key prefix) of an `s3://` or `gs://` prefix."""
    bucket, _, prefix = uri.split("://", 1)[1].partition("/")
    return bucket, prefix


def s3_client(pool: int = 32, endpoint: str | None = None):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=pool))


def write_files(root: Path, prefix: str, items: list[bytes]) -> list[str]:
    """Write the blobs where nginx serves `prefix + sha1` from `root`; return the SHA1s."""
    bucket, key_prefix = split(prefix)
    folder = root / bucket / key_prefix
    folder.mkdir(parents=True, exist_ok=True)
    keys = []
    for data in items:
        keys.append(sha1(data))
        (folder / keys[-1]).write_bytes(data)
    return keys


def write_large_file(root: Path, prefix: str, tag: str, size: int) -> str:
    """Write one large generated blob where nginx serves it, chunk by chunk; return its SHA1."""
    bucket, key_prefix = split(prefix)
    folder = root / bucket / key_prefix
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1()
    partial = folder / f"{tag}.partial"
    with partial.open("wb") as file:
        for chunk in large_chunks(tag, size):
            digest.update(chunk)
            file.write(chunk)
    partial.rename(folder / digest.hexdigest())
    return digest.hexdigest()


def make_buckets() -> None:
    """Create the S3 and GCS buckets (the emulators start empty)."""
    from google.cloud import storage

    s3_client().create_bucket(Bucket=S3_BUCKET)
    storage.Client().create_bucket(GCS_BUCKET)


def put_s3(prefix: str, items: list[bytes], workers: int = 16) -> list[str]:
    """Write the blobs under an `s3://` prefix, keyed by SHA1; return the SHA1s."""
    client = s3_client()
    bucket, key_prefix = split(prefix)

    def put(data: bytes) -> str:
        key = sha1(data)
        client.put_object(Bucket=bucket, Key=key_prefix + key, Body=data)
        return key

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(put, items))


def put_s3_large(prefix: str, chunks: Iterator[bytes], digest: str) -> None:
    """Write one large blob from its chunks as a multipart upload, never whole in memory."""
    client = s3_client()
    bucket, key_prefix = split(prefix)
    key = key_prefix + digest
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        part = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )


def large_chunks(tag: str, size: int, chunk: int = 16 * MIB) -> Iterator[bytes]:
    """Yield the chunks of a large generated blob: chunk i is blob(tag, i, chunk)."""
    for index, start in enumerate(range(0, size, chunk)):
        yield blob(tag, index, min(chunk, size - start))


def large_sha1(tag: str, size: int) -> str:
    digest = hashlib.sha1()
    for chunk in large_chunks(tag, size):
        digest.update(chunk)
    return digest.hexdigest()


def put_gcs(prefix: str, items: list[bytes]) -> list[str]:
    from google.cloud import storage

    bucket_name, key_prefix = split(prefix)
    bucket = storage.Client().bucket(bucket_name)
    keys = []
    for data in items:
        key = sha1(data)
        bucket.blob(key_prefix + key).upload_from_string(data)
        keys.append(key)
    return keys


def delete_s3_prefix(prefix: str) -> int:
    """Delete every object under an `s3://` prefix; return how many there were."""
    client = s3_client()
    bucket, key_prefix = split(prefix)
    deleted = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            deleted += len(keys)
    return deleted


def count_s3_prefix(prefix: str) -> int:
    client = s3_client()
    bucket, key_prefix = split(prefix)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
    return sum(page.get("KeyCount", 0) for page in pages)
