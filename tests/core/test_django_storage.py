"""The raw-store contract for `DjangoStorageRaw`, over Django's `FileSystemStorage` and over
django-storages' `S3Storage` on moto; and what only it has: aliases, and writes that never
leave a renamed copy."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.storage import FileSystemStorage

from bitstore_app.core import StoreNotAvailable
from bitstore_app.core.tiers import tier_class
from bitstore_app.tiers.django_storage import DjangoStorageRaw
from tests.core.conftest import unique
from tests.core.contract import Outage, OutageContract, RawStoreContract
from tests.core.test_filesystem import ESCAPES


def s3_storage(endpoint, bucket):
    """Return django-storages' S3Storage for a bucket on a moto server."""
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    return S3Storage(
        bucket_name=bucket,
        endpoint_url=endpoint,
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        default_acl=None,
        querystring_auth=False,
        # Short timeouts, so that a closed port answers within seconds; a pool for 16 threads
        # (the storage's own setting: the tier uses the storage as it is configured).
        client_config=Config(
            connect_timeout=1,
            read_timeout=5,
            retries={"max_attempts": 1},
            max_pool_connections=32,
        ),
    )


class DjangoStorageContract(RawStoreContract):
    invalid_uris = tuple(ESCAPES) + (None,)
    # Blobs are content-addressed: a name that exists already holds these bytes.
    overwrite_replaces = False

    @pytest.fixture
    def uri(self):
        prefix = unique()
        return lambda name: f"{prefix}/{name}"


class TestOverFileSystemStorage(DjangoStorageContract):
    @pytest.fixture
    def store(self, tmp_path):
        return DjangoStorageRaw(FileSystemStorage(location=tmp_path))


class TestOverS3Storage(DjangoStorageContract, OutageContract):
    @pytest.fixture
    def store(self, s3_server, s3_bucket):
        return DjangoStorageRaw(s3_storage(s3_server.endpoint, s3_bucket))

    @pytest.fixture
    def outage(self, own_moto):
        bucket = unique("outage")

        def start():
            own_moto.start()
            own_moto.client().create_bucket(Bucket=bucket)

        return Outage(
            store=DjangoStorageRaw(s3_storage(own_moto.endpoint, bucket)),
            uri="blob",
            start=start,
            stop=own_moto.stop,
        )


@pytest.fixture
def alias(settings, tmp_path):
    """Add a storage alias for a folder to settings.STORAGES, and return the alias."""
    settings.STORAGES = {
        **settings.STORAGES,
        "bitstore-test": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "aliased")},
        },
    }
    return "bitstore-test"


def test_an_alias_is_looked_up_on_first_use(alias, tmp_path):
    store = DjangoStorageRaw(alias)
    store.put("blobs/a", b"aliased")
    assert (tmp_path / "aliased" / "blobs" / "a").read_bytes() == b"aliased"
    assert store.get("blobs/a") == b"aliased"


def test_a_store_built_from_an_alias_pickles_as_the_alias(alias):
    store = DjangoStorageRaw(alias)
    store.put("blobs/a", b"aliased")  # the storage is resolved before pickling
    payload = pickle.dumps(store)
    assert b"FileSystemStorage" not in payload
    assert pickle.loads(payload).get("blobs/a") == b"aliased"


def test_an_unknown_alias_is_not_available(settings):
    store = DjangoStorageRaw("no-such-alias")
    with pytest.raises(StoreNotAvailable, match="no-such-alias"):
        store.get("blobs/a")


def test_put_leaves_one_file_when_writers_race(tmp_path):
    # FileSystemStorage.save renames on a conflict: the losers' copies must be removed.
    store = DjangoStorageRaw(FileSystemStorage(location=tmp_path))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: store.put("blobs/raced", b"same bytes"), range(64)))
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == ["raced"]
    assert store.get("blobs/raced") == b"same bytes"


def test_a_second_put_writes_nothing(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    store = DjangoStorageRaw(storage)
    store.put("blobs/a", b"first")
    store.put("blobs/a", b"first")
    assert storage.listdir("blobs") == ([], ["a"])


def test_the_kind_is_registered():
    assert tier_class("django_storage") is DjangoStorageRaw


def test_only_storages_are_accepted():
    with pytest.raises(TypeError):
        DjangoStorageRaw(object())
