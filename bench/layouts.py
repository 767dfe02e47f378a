"""The tier layout every case uses, built with the seed library and with bitstore's core:
an S3 prefix, then a GCS prefix, then another S3 prefix (see `bench.data`)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

from .data import FIRST, SECOND, THIRD


def seed_composite(s3: str | None = None) -> Any:
    """Return the layout as code written for the seed library (`epic.bitstore`) builds it.

    `s3` is an endpoint to use instead of the environment's: the seed reads it from
    `AWS_ENDPOINT_URL_S3` when it makes its clients, which is done here at once.
    """
    from epic.bitstore import GSRaw, S3Raw, Sha1Composite, Sha1Store

    composite = Sha1Composite()
    first, third = S3Raw(), S3Raw()
    composite.append_source(Sha1Store(first, FIRST))
    composite.append_source(Sha1Store(GSRaw(), SECOND))
    composite.append_source(Sha1Store(third, THIRD))
    if s3 is not None:
        with s3_endpoint(s3):
            assert first._s3_client is not None and third._s3_client is not None
    return composite


@contextmanager
def s3_endpoint(endpoint: str):
    """Point boto3 clients made in the block at `endpoint`."""
    saved = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    try:
        yield
    finally:
        os.environ["AWS_ENDPOINT_URL_S3"] = saved or ""
        if saved is None:
            del os.environ["AWS_ENDPOINT_URL_S3"]


def our_composite(s3: str | None = None, gcs: str | None = None, **options: Any) -> Any:
    """Return the layout built with bitstore's core; `options` go to `Sha1Composite`.

    `s3` and `gcs` are endpoints to use instead of the environment's.
    """
    from bitstore_app.core import GSRaw, S3Raw, Sha1Composite, Sha1Store

    composite = Sha1Composite(**options)
    composite.append_source(Sha1Store(S3Raw(endpoint_url=s3), FIRST))
    composite.append_source(Sha1Store(GSRaw(endpoint=gcs), SECOND))
    composite.append_source(Sha1Store(S3Raw(endpoint_url=s3), THIRD))
    return composite


def raw_s3_get(prefix: str, s3: str | None = None, pool: int = 10):
    """Return a function that reads `prefix + sha1` with a plain boto3 `get_object`."""
    from .data import s3_client, split

    client = s3_client(pool=pool, endpoint=s3)
    bucket, key_prefix = split(prefix)

    def get(sha1: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=key_prefix + sha1)["Body"].read()

    return get
