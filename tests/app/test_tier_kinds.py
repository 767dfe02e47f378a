"""Tiers created through the ORM, one of each kind on a real backend, drive the public API."""

import hashlib
import os
import threading
import tracemalloc

import pytest

import bitstore_app
from bitstore_app import services
from bitstore_app.core import (
    InvalidDataFound,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    NoWritableTier,
)
from bitstore_app.models import Tier
from tests.app import backends
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db

KINDS = ["s3", "gs", "filesystem", "django_storage", "http_api", "dotted_path"]


@pytest.fixture(params=KINDS)
def backend(request, tmp_path, settings):
    fixture = request.getfixturevalue
    return {
        "s3": lambda: backends.S3Backend(fixture("s3_server"), fixture("s3_bucket")),
        "gs": lambda: backends.GCSBackend(fixture("gcs_server"), fixture("gcs_bucket")),
        "filesystem": lambda: backends.FileSystemBackend(tmp_path / "tier"),
        "django_storage": lambda: backends.DjangoStorageBackend(settings, tmp_path / "storage"),
        "http_api": lambda: backends.HTTPAPIBackend(fixture("blob_api")),
        "dotted_path": lambda: backends.DottedPathBackend(),
    }[request.param]()


def make_tier(backend, name="tier", **fields):
    return Tier.objects.create(
        name=name, kind=backend.kind, location=backend.location, options=backend.options, **fields
    )


def test_get_serves_the_blob_from_the_tier(backend):
    sha1, data = make_blob()
    backend.seed(sha1, data)
    make_tier(backend, name="only")
    assert bitstore_app.get(sha1) == data
    assert bitstore_app.get(f"sha1://{sha1.upper()}") == data
    assert services.fetch(sha1).served_by == "only"


def test_get_of_a_missing_blob_says_not_found(backend):
    make_tier(backend)
    sha1, _ = make_blob()
    with pytest.raises(NotFoundInStore) as caught:
        bitstore_app.get(sha1)
    assert not isinstance(caught.value, NotFoundWhileUnavailable)


def test_exists(backend):
    sha1, data = make_blob()
    backend.seed(sha1, data)
    make_tier(backend)
    assert bitstore_app.exists(sha1) is True
    assert bitstore_app.exists(make_blob()[0]) is False


def test_get_many_keeps_the_order_and_returns_misses_in_place(backend):
    blobs = [make_blob(f"many {i}") for i in range(6)]
    missing = blobs[3][0]
    for sha1, data in blobs:
        if sha1 != missing:
            backend.seed(sha1, data)
    make_tier(backend)
    results = list(bitstore_app.get_many([sha1 for sha1, _ in blobs], errors="return"))
    for (sha1, data), result in zip(blobs, results, strict=True):
        if sha1 == missing:
            assert isinstance(result, NotFoundInStore)
        else:
            assert result == data


def test_open_streams_the_blob_and_ranges_of_it(backend):
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha1 = hashlib.sha1(data).hexdigest()
    backend.seed(sha1, data)
    make_tier(backend)
    digest = hashlib.sha1()
    with bitstore_app.open(sha1) as blob:
        while chunk := blob.read(256 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == sha1
    with bitstore_app.open(sha1, 1000, 1010) as part:
        assert part.read() == data[1000:1010]


def test_put_writes_into_the_cache_tier_and_verifies(backend):
    sha1, data = make_blob()
    if not backend.writable:
        make_tier(backend)
        with pytest.raises(NotImplementedError):
            bitstore_app.put(sha1, data)
        return
    make_tier(backend, role=Tier.CACHE)
    bitstore_app.put(sha1, data)
    assert backend.holds(sha1)
    assert bitstore_app.get(sha1) == data
    wrong_sha1, _ = make_blob()
    with pytest.raises(InvalidDataFound):
        bitstore_app.put(wrong_sha1, data)
    assert not backend.holds(wrong_sha1)


def test_put_with_no_cache_tier_goes_to_the_sources_that_accept_puts(blob_api, tmp_path):
    api = backends.HTTPAPIBackend(blob_api)
    disks = [backends.FileSystemBackend(tmp_path / name) for name in ("disk1", "disk2")]
    make_tier(api, name="api", position=0)
    make_tier(disks[0], name="disk1", position=1)
    uploads = make_tier(disks[1], name="disk2", position=2)
    sha1, data = make_blob()
    with pytest.raises(NoWritableTier, match="accepts_puts"):
        bitstore_app.put(sha1, data)  # a writable source is not where puts belong unless said
    Tier.objects.filter(pk=uploads.pk).update(accepts_puts=True)
    services.configuration.invalidate()
    bitstore_app.put(sha1, data)
    assert [disk.holds(sha1) for disk in disks] == [False, True]
    assert sum(blob_api.requests.values()) == 0


def test_write_back_fills_the_cache_and_the_api_is_asked_once(blob_api, tmp_path):
    cache = backends.FileSystemBackend(tmp_path / "cache")
    api = backends.HTTPAPIBackend(blob_api)
    sha1, data = make_blob()
    api.seed(sha1, data)
    make_tier(cache, name="cache", role=Tier.CACHE, position=0)
    make_tier(api, name="api", position=1, write_back=True)

    first = services.fetch(sha1)
    assert (first.served_by, first.cache_written) == ("api", True)
    assert cache.holds(sha1)
    second = services.fetch(sha1)
    assert (second.served_by, second.cache_written) == ("cache", False)
    assert second.data == data
    assert blob_api.count("GET", sha1) == 1


@pytest.mark.parametrize(
    "start, end", [(10, 20), (-5, None), (0, 0)], ids=["a range", "a suffix", "the size"]
)
def test_a_range_or_the_size_of_a_large_api_blob_takes_no_memory_for_the_blob(blob_api, start, end):
    # The test API ignores Range and sends the whole body: the range is read out of it as
    # it passes (it was read whole into memory first), and the size needs no body at all.
    data = os.urandom(32 * 1024 * 1024)
    sha1 = hashlib.sha1(data).hexdigest()
    blob_api.blobs[sha1] = data
    make_tier(backends.HTTPAPIBackend(blob_api))
    services.composite()  # build the tiers before measuring
    tracemalloc.start()
    try:
        with bitstore_app.open(sha1, start, end) as blob:
            assert (blob.size, blob.read()) == (len(data), data[start:end])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for a part of a 32 MiB blob"


def test_the_background_fill_after_a_range_takes_no_memory_for_the_blob(blob_api, tmp_path):
    data = os.urandom(32 * 1024 * 1024)  # under FILL_ON_RANGE_MAX_BYTES (64 MiB)
    sha1 = hashlib.sha1(data).hexdigest()
    blob_api.blobs[sha1] = data
    cache = backends.FileSystemBackend(tmp_path / "cache")
    make_tier(cache, name="cache", role=Tier.CACHE, position=0)
    make_tier(backends.HTTPAPIBackend(blob_api), name="api", position=1, write_back=True)
    services.composite()  # build the tiers before measuring
    tracemalloc.start()
    try:
        with bitstore_app.open(sha1, 10, 20) as blob:
            assert blob.read() == data[10:20]
        filling = [t for t in threading.enumerate() if t.name == "bitstore-fill"]
        assert filling, "no fill was started"
        for thread in filling:
            thread.join(30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cache.holds(sha1)
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes to fill the cache with a 32 MiB blob"


@pytest.mark.parametrize("path", ["get", "get_many", "open", "open a large blob"])
def test_every_read_path_fills_the_cache_from_a_write_back_source(blob_api, tmp_path, path):
    cache = backends.FileSystemBackend(tmp_path / "cache")
    make_tier(cache, name="cache", role=Tier.CACHE, position=0)
    make_tier(backends.HTTPAPIBackend(blob_api), name="api", position=1, write_back=True)
    # A large blob streams through the cache's writer; a small one is read and checked whole.
    data = os.urandom(6 * 1024 * 1024 if path == "open a large blob" else 1000)
    sha1 = hashlib.sha1(data).hexdigest()
    blob_api.blobs[sha1] = data
    if path == "get":
        assert bitstore_app.get(sha1) == data
    elif path == "get_many":
        assert list(bitstore_app.get_many([sha1])) == [data]
    else:
        with bitstore_app.open(sha1) as stream:
            assert stream.read() == data
    assert cache.holds(sha1)
    assert bitstore_app.get(sha1) == data
    assert blob_api.count("GET", sha1) == 1


@pytest.mark.parametrize("verify", [False, True])
def test_open_does_not_hold_a_large_blob_in_memory(blob_api, verify):
    # With verify ticked, the API's stream is checked as it passes (it was read whole first).
    data = os.urandom(32 * 1024 * 1024)
    sha1 = hashlib.sha1(data).hexdigest()
    blob_api.blobs[sha1] = data
    make_tier(backends.HTTPAPIBackend(blob_api), verify=verify)
    services.composite()  # build the tiers before measuring
    digest = hashlib.sha1()
    tracemalloc.start()
    try:
        with bitstore_app.open(sha1) as blob:
            while chunk := blob.read(64 * 1024):
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == sha1
    # The whole blob is 32 MiB; a streaming read holds a few chunks at a time.
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while streaming a 32 MiB blob"
