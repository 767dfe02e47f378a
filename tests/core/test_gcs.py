"""The raw-store contract for `GSRaw` on the GCS emulator."""

import time

import pytest

from bitstore_app.core import GSRaw, StoreNotAvailable
from tests.core.conftest import unique
from tests.core.contract import Outage, OutageContract, RawStoreContract


class TestGSRaw(RawStoreContract, OutageContract):
    invalid_uris = ("", None, "s3://bucket/key", "gs://bucket", "gs://bucket/", "gs:///key", "k")

    @pytest.fixture
    def store(self, gcs_server):
        return GSRaw(endpoint=gcs_server.endpoint)

    @pytest.fixture
    def uri(self, gcs_bucket):
        prefix = unique()
        return lambda name: f"gs://{gcs_bucket}/{prefix}/{name}"

    @pytest.fixture
    def outage(self, own_gcs):
        bucket = unique("outage")

        def start():
            own_gcs.start()  # the emulator keeps nothing across a restart
            own_gcs.make_bucket(bucket)

        # Short timeouts and no retries (the SDK's default retries for two minutes).
        store = GSRaw.anonymous(
            endpoint=own_gcs.endpoint, connect_timeout=1, read_timeout=5, retry_timeout=0
        )
        return Outage(store=store, uri=f"gs://{bucket}/blob", start=start, stop=own_gcs.stop)


def test_the_endpoint_comes_from_the_environment(gcs_server, gcs_bucket):
    # The fixture set STORAGE_EMULATOR_HOST; a store with no endpoint option must follow it.
    store = GSRaw()
    store.put(f"gs://{gcs_bucket}/from-env", b"env")
    blob = gcs_server.client().bucket(gcs_bucket).blob("from-env")
    assert blob.download_as_bytes() == b"env"


def test_a_closed_port_answers_within_the_retry_timeout(own_gcs):
    # The SDK's own retries would keep a get waiting for two minutes.
    store = GSRaw.anonymous(endpoint=own_gcs.endpoint, connect_timeout=1, retry_timeout=2)
    started = time.monotonic()
    with pytest.raises(StoreNotAvailable):
        store.get("gs://bucket/blob")
    assert time.monotonic() - started < 6
