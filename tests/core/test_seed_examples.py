"""The seed README's examples, run against the S3 and GCS stand-ins.

The README's code is copied as it is; only its import lines changed, from `epic.bitstore` to
`bitstore_app.core`. Not even the bucket names changed: `aws_customer_data` is not a valid
name on real S3 (no underscores), but moto and the GCS emulator accept all four names as the
README spells them. The stores find the stand-ins through AWS_ENDPOINT_URL_S3 and
STORAGE_EMULATOR_HOST, which the session fixtures set.
"""
# The README's import lines are kept as written, in its order: no import sorting here.
# ruff: noqa: I001

import pytest

from tests.core.conftest import make_blob

# The README's first example.
from bitstore_app.core import Sha1Composite, Sha1Store, S3Raw, GSRaw

# The README's second example.
from bitstore_app.core import Sha1APISource


class MyAPIStore(Sha1APISource):
    def __init__(self, api_client):
        super().__init__()
        self.api_client = api_client

    def api_get(self, sha1):
        # return None for a blob that can't be found
        return self.api_client.get_bytes(sha1)


# End of the README's code; what it leaves to the reader follows.

README_SHA1 = "4bc39c7d87318382feb3cc5a684c767fbd913968"


class MyAPIClient:
    """The README's `my_api_client`: serves blobs by SHA1, and counts what it is asked."""

    def __init__(self, blobs):
        self.blobs = blobs
        self.asked = []

    def get_bytes(self, sha1):
        self.asked.append(sha1)
        return self.blobs.get(sha1)


@pytest.fixture
def buckets(s3_server, gcs_server):
    """Create the README's buckets (if an earlier test has not) and return put functions."""
    from google.api_core.exceptions import Conflict

    s3 = s3_server.client()
    s3.create_bucket(Bucket="aws_customer_data")
    gcs = gcs_server.client()
    for name in ("gcp_customer_data", "my_project", "cache_for_api"):
        try:
            gcs.create_bucket(name)
        except Conflict:
            pass

    def put(uri, data):
        scheme, _, path = uri.partition("://")
        bucket, _, key = path.partition("/")
        if scheme == "s3":
            s3.put_object(Bucket=bucket, Key=key, Body=data)
        else:
            gcs.bucket(bucket).blob(key).upload_from_string(data)

    return put


@pytest.fixture
def hashes(buckets):
    """Put blobs in the README's three passive locations; return {sha1: data}."""
    blobs = {}
    for i in range(30):
        sha1, data = make_blob(f"seed {i}")
        prefix = [
            "s3://aws_customer_data/files/",
            "gs://gcp_customer_data/blobs/",
            "gs://my_project/more_files/",
        ][i % 3]
        buckets(prefix + sha1, data)
        blobs[sha1] = data
    return blobs


def readme_blob_store():
    """The README's first example, as written."""
    blob_store = Sha1Composite()
    blob_store.append_source(Sha1Store(S3Raw(), "s3://aws_customer_data/files/"))
    blob_store.append_source(Sha1Store(GSRaw(), "gs://gcp_customer_data/blobs/"))
    blob_store.append_source(Sha1Store(GSRaw(), "gs://my_project/more_files/"))
    return blob_store


def test_the_first_example(buckets):
    buckets(f"s3://aws_customer_data/files/{README_SHA1}", b"the README's blob")

    blob_store = Sha1Composite()
    blob_store.append_source(Sha1Store(S3Raw(), "s3://aws_customer_data/files/"))
    blob_store.append_source(Sha1Store(GSRaw(), "gs://gcp_customer_data/blobs/"))
    blob_store.append_source(Sha1Store(GSRaw(), "gs://my_project/more_files/"))

    data = blob_store.get("4bc39c7d87318382feb3cc5a684c767fbd913968")

    # The README's hash is not the SHA1 of any blob we can make; without `verify` (the
    # seed's default) the store returns what is stored under it.
    assert data == b"the README's blob"


@pytest.mark.parametrize(
    "backend, n_workers",
    [("threading", 16), ("multiprocessing", 4), ("multiprocessing-spawn", 2)],
)
def test_ultimap_over_the_first_example(hashes, backend, n_workers):
    from ultima import ultimap

    blob_store = readme_blob_store()
    iter_hashes = iter(hashes)

    data_iter = ultimap(blob_store.get, iter_hashes, backend=backend, n_workers=n_workers)

    # ultimap yields in completion order unless asked for `ordered=True`.
    assert sorted(data_iter) == sorted(hashes.values())


def test_ultimap_in_order(hashes):
    from ultima import ultimap

    blob_store = readme_blob_store()
    data_iter = ultimap(
        blob_store.get, list(hashes), backend="threading", n_workers=16, ordered=True
    )
    assert list(data_iter) == list(hashes.values())


def test_the_second_example_with_an_api_source(hashes):
    sha1, data = make_blob("from the api")
    my_api_client = MyAPIClient({sha1: data})
    blob_store = readme_blob_store()

    # ctd after adding the three passive stores
    blob_store.append_source(MyAPIStore(my_api_client))

    assert blob_store.get(sha1) == data
    # The passive stores come first: the API is not asked for what they hold.
    some_hash = next(iter(hashes))
    assert blob_store.get(some_hash) == hashes[some_hash]
    assert my_api_client.asked == [sha1]


def test_the_second_example_with_a_cache_for_the_api(hashes):
    from google.cloud import storage

    from bitstore_app.core import Sha1Cache, GSRaw  # the README's import line

    sha1, data = make_blob("cached from the api")
    my_api_client = MyAPIClient({sha1: data})
    blob_store = readme_blob_store()

    # ctd after adding the three passive stores
    blob_store.append_cache(Sha1Cache(GSRaw(), "gs://cache_for_api/"))
    blob_store.append_store(MyAPIStore(my_api_client))

    # "when you retrieve a missing blob for the first time, the API is used; and after
    # that the cache is used."
    assert blob_store.get(sha1) == data
    assert storage.Client().bucket("cache_for_api").blob(sha1).download_as_bytes() == data
    assert blob_store.get(sha1) == data
    assert blob_store.fetch(sha1).served_by == "gs://cache_for_api/"
    assert my_api_client.asked == [sha1]
