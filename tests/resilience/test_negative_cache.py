"""The negative cache: a hot missing key asks each tier once per TTL, and a write clears it."""

import time

from bitstore_app.composer import TierSpec, build_composite, build_tier
from bitstore_app.core import NotFoundInStore, trace
from bitstore_app.core.negative_cache import NegativeCache
from tests.resilience.conftest import api_tier, make_blob, unique


def test_a_hot_missing_key_reaches_the_tier_once_per_ttl(blob_server):
    tier = build_tier(api_tier(blob_server.url, negative_ttl=0.3))
    sha1, data = make_blob()
    for _ in range(50):
        assert not tier.exists(sha1)
    assert blob_server.requests[sha1] == 1
    time.sleep(0.35)
    assert not tier.exists(sha1)
    assert blob_server.requests[sha1] == 2, "asked again once the TTL passed"


def test_a_ttl_of_zero_turns_it_off(blob_server):
    tier = build_tier(api_tier(blob_server.url, negative_ttl=0))
    sha1, _ = make_blob()
    for _ in range(5):
        assert not tier.exists(sha1)
    assert blob_server.requests[sha1] == 5


def test_writing_a_blob_clears_every_tiers_memory_of_its_absence(blob_server):
    cache = TierSpec(name=unique("cache"), kind="memory", role="cache", negative_ttl=60)
    source = api_tier(blob_server.url, negative_ttl=60, write_back=True)
    composite = build_composite([cache, source])
    sha1, data = make_blob()

    for _ in range(10):
        result = composite.fetch(sha1)
        assert isinstance(result.error, NotFoundInStore)
    assert blob_server.requests[sha1] == 1, "the source remembered the miss"

    composite.put(sha1, data)  # written into the cache: every tier forgets the miss
    result = composite.fetch(sha1)
    assert (result.data, result.served_by) == (data, cache.name)


def test_write_back_clears_the_cache_tiers_memory(blob_server):
    cache = TierSpec(name=unique("cache"), kind="memory", role="cache", negative_ttl=60)
    source = api_tier(blob_server.url, negative_ttl=0, write_back=True)
    composite = build_composite([cache, source])
    sha1, data = make_blob()
    assert composite.fetch(sha1).error is not None  # the cache now remembers the miss

    blob_server.blobs[sha1] = data
    first = composite.fetch(sha1)
    assert (first.served_by, first.cache_written) == (source.name, True)
    second = composite.fetch(sha1)
    assert second.served_by == cache.name, "the cache forgot its miss when written back"
    assert [a.outcome for a in second.attempts] == [trace.HIT]


def test_invalid_data_is_not_remembered_as_missing(blob_server):
    tier = build_tier(api_tier(blob_server.url, verify=True, negative_ttl=60))
    sha1, _ = make_blob()
    blob_server.blobs[sha1] = b"not the blob"
    for _ in range(3):
        assert tier.exists(sha1)  # an existence check does not download
        try:
            tier.get(sha1)
        except NotFoundInStore as exc:
            assert "invalid data" in str(exc)
    assert blob_server.requests[sha1] == 6, "each get asks again, and is recorded as invalid"


def test_a_miss_that_raced_with_a_write_is_not_remembered():
    misses = NegativeCache(ttl=60)
    generation = misses.generation()  # a read starts...
    misses.forget("k")  # ...a write of the key lands...
    misses.add("k", generation)  # ...and the read's "not found" arrives late
    assert "k" not in misses


def test_the_memory_is_bounded():
    misses = NegativeCache(ttl=60, size=100)
    for number in range(1000):
        misses.add(str(number), misses.generation())
    assert len(misses) == 100
    assert "999" in misses and "0" not in misses


def test_a_cache_tier_never_answers_from_a_memory_of_misses(blob_server):
    # Even with a TTL on its row: another process (a warm worker) may fill the cache any time.
    cache = TierSpec(name=unique("cache"), kind="memory", role="cache", negative_ttl=60)
    composite = build_composite([cache, api_tier(blob_server.url, negative_ttl=0)])
    sha1, data = make_blob()
    assert composite.fetch(sha1).error is not None
    composite.cache.inner.put_or_raise(sha1, data)  # written as by another process: no forget
    result = composite.fetch(sha1)
    assert (result.data, result.served_by) == (data, cache.name)
