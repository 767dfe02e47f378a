"""The composite's two speed options, and that every rule of the sequential pass still holds
with them: the location index (a seen blob is asked first from the tier that served it) and
concurrent probes (a blob never seen is asked from every tier at once, the first in order
wins)."""

import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bitstore_app.core import (
    Composite,
    GSRaw,
    LocationIndex,
    MemoryRaw,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    S3Raw,
    Sha1Composite,
    Sha1Store,
    sha1_of,
)
from tests.core.conftest import make_blob
from tests.core.stores import CountingStore, DownStore

KEY = "blobs/k"


def composite(*sources, **options):
    store = Composite(**options)
    for source in sources:
        store.append_source(source)
    return store


def tiers(count, delay=0.0):
    return [CountingStore(name=f"s{i}", delay=delay) for i in range(count)]


def outcomes(fetch):
    return [(attempt.tier, attempt.outcome) for attempt in fetch.attempts]


# the default


def test_the_default_is_the_seed_librarys_sequential_pass():
    sources = tiers(3)
    sources[0].put(KEY, b"first")
    store = composite(*sources)
    assert (store.concurrent, store.index) == (False, None)
    assert store.get(KEY) == b"first"
    assert [s.gets for s in sources] == [1, 0, 0]


# the location index


def test_a_seen_blob_is_asked_first_from_the_tier_that_served_it():
    sources = tiers(3)
    sources[2].put(KEY, b"third")
    store = composite(*sources, index=LocationIndex())
    assert outcomes(store.fetch(KEY)) == [("s0", "not_found"), ("s1", "not_found"), ("s2", "hit")]
    again = store.fetch(KEY)
    assert again.data == b"third"
    assert outcomes(again) == [("s0", "skipped"), ("s1", "skipped"), ("s2", "hit")]
    assert [a.reason for a in again.attempts] == ["index", "index", None]
    assert [s.gets for s in sources] == [1, 1, 2]


def test_a_location_loaded_from_outside_is_used_on_the_first_get():
    sources = tiers(3)
    sources[2].put(KEY, b"third")
    index = LocationIndex()
    index.load([(KEY, "s2")])
    assert outcomes(composite(*sources, index=index).fetch(KEY)) == [
        ("s0", "skipped"),
        ("s1", "skipped"),
        ("s2", "hit"),
    ]


def test_a_tier_that_lost_the_blob_falls_back_to_the_configured_order():
    sources = tiers(3)
    sources[2].put(KEY, b"third")
    index = LocationIndex()
    store = composite(*sources, index=index)
    store.get(KEY)
    del sources[2].blobs[KEY]
    sources[1].put(KEY, b"second")
    fetch = store.fetch(KEY)
    assert fetch.data == b"second"
    assert outcomes(fetch) == [("s2", "not_found"), ("s0", "not_found"), ("s1", "hit")]
    assert index.get(KEY) == "s1"


def test_a_hit_of_the_first_tier_in_order_is_not_remembered():
    # It is asked first anyway: the index stays for the blobs it can send elsewhere, and a
    # cache hit does no index work at all.
    sources = tiers(2)
    sources[0].put(KEY, b"first")
    index = LocationIndex()
    store = composite(*sources, index=index)
    for _ in range(2):
        assert outcomes(store.fetch(KEY)) == [("s0", "hit")]
    assert len(index) == 0


def test_a_hint_that_sent_a_fetch_past_the_first_tier_is_replaced_when_the_first_serves():
    sources = tiers(3)
    sources[0].put(KEY, b"first")
    index = LocationIndex()
    index.load([(KEY, "s2")])  # the blob was served by s2 once, and s2 has lost it since
    store = composite(*sources, index=index)
    assert outcomes(store.fetch(KEY)) == [("s2", "not_found"), ("s0", "hit")]
    assert index.get(KEY) == "s0"
    assert outcomes(store.fetch(KEY)) == [("s0", "hit")]
    assert [s.gets for s in sources] == [2, 0, 1]


def test_a_blob_nowhere_is_forgotten_and_raises_not_found():
    sources = tiers(2)
    sources[1].put(KEY, b"second")
    index = LocationIndex()
    store = composite(*sources, index=index)
    store.get(KEY)
    del sources[1].blobs[KEY]
    with pytest.raises(NotFoundInStore) as caught:
        store.get(KEY)
    assert not isinstance(caught.value, NotFoundWhileUnavailable)
    assert index.get(KEY) is None


def test_a_down_tier_named_by_the_index_makes_a_miss_not_found_while_unavailable():
    down, missing = DownStore(name="down"), CountingStore(name="missing")
    index = LocationIndex()
    index.load([(KEY, "down")])
    with pytest.raises(NotFoundWhileUnavailable) as caught:
        composite(missing, down, index=index).get(KEY)
    assert caught.value.unavailable == ("down",)


def test_a_location_naming_no_tier_of_the_composite_is_ignored():
    sources = tiers(2)
    sources[1].put(KEY, b"second")
    index = LocationIndex()
    index.load([(KEY, "a tier that was removed")])
    fetch = composite(*sources, index=index).fetch(KEY)
    assert outcomes(fetch) == [("s0", "not_found"), ("s1", "hit")]


def test_a_blob_written_back_is_then_read_from_the_cache_not_the_source():
    cache = CountingStore(name="cache")
    source = CountingStore({KEY: b"expensive"}, name="api")
    store = Composite(index=LocationIndex())
    store.append_cache(cache)
    store.append_source(source, cache_result=True)
    assert store.fetch(KEY).cache_written
    again = store.fetch(KEY)
    assert (again.served_by, source.gets, cache.puts) == ("cache", 1, 1)
    assert outcomes(again) == [("cache", "hit")]


def test_open_streams_from_the_tier_the_index_names():
    sources = tiers(3)
    sources[2].put(KEY, b"third")
    index = LocationIndex()
    index.load([(KEY, "s2")])
    store = composite(*sources, index=index)
    with store.open(KEY) as stream:
        assert stream.read() == b"third"
    assert [s.gets for s in sources] == [0, 0, 1]


def test_the_index_keeps_the_most_recently_used_keys():
    index = LocationIndex(size=2)
    index.remember("a", "t1")
    index.remember("b", "t2")
    assert index.get("a") == "t1"  # "b" is now the least recently used
    index.remember("c", "t3")
    assert (index.get("a"), index.get("b"), index.get("c"), len(index)) == ("t1", None, "t3", 2)
    with pytest.raises(ValueError):
        LocationIndex(size=0)


# concurrent probes


def test_a_later_tier_answering_first_does_not_win_over_an_earlier_one():
    slow = CountingStore({KEY: b"first"}, name="slow", delay=0.2)
    fast = CountingStore({KEY: b"second"}, name="fast")
    fetch = composite(slow, fast, concurrent=True).fetch(KEY)
    assert (fetch.data, fetch.served_by) == (b"first", "slow")
    assert outcomes(fetch) == [("slow", "hit")]  # the trace the sequential pass makes


def test_a_third_tier_hit_costs_about_the_slowest_tier_not_the_sum():
    sources = tiers(3, delay=0.3)
    sources[2].put(KEY, b"third")
    started = time.perf_counter()
    fetch = composite(*sources, concurrent=True).fetch(KEY)
    elapsed = time.perf_counter() - started
    assert fetch.data == b"third"
    assert outcomes(fetch) == [("s0", "not_found"), ("s1", "not_found"), ("s2", "hit")]
    assert elapsed < 0.6, f"took {elapsed:.3f} s: the tiers were asked one after another"


def test_write_back_sources_are_asked_only_when_every_earlier_tier_said_no():
    cache = CountingStore(name="cache", delay=0.05)
    archive = CountingStore(name="archive")
    api = CountingStore({KEY: b"expensive"}, name="api")
    store = Composite(concurrent=True)
    store.append_cache(cache)
    store.append_source(api, cache_result=True)
    store.append_source(archive)
    cache.put(KEY, b"cached")
    assert store.get(KEY) == b"cached"
    assert api.gets == 0
    del cache.blobs[KEY]
    fetch = store.fetch(KEY)
    assert (fetch.served_by, fetch.cache_written, api.gets) == ("api", True, 1)
    assert cache.blobs[KEY] == b"expensive"


def test_unavailable_tiers_still_make_a_miss_not_found_while_unavailable():
    store = composite(CountingStore(name="a"), DownStore(name="down"), tiers(1)[0], concurrent=2)
    with pytest.raises(NotFoundWhileUnavailable) as caught:
        store.get(KEY)
    assert caught.value.unavailable == ("down",)


def test_invalid_data_is_skipped_for_the_next_tier_in_order():
    data = b"the real bytes"
    sha1 = sha1_of(data)
    liar = Sha1Store(MemoryRaw({sha1: b"corrupted"}), "", verify=True)
    liar.name = "liar"
    honest = Sha1Store(MemoryRaw({sha1: data}), "")
    honest.name = "honest"
    store = Sha1Composite(concurrent=True)
    store.append_source(liar)
    store.append_source(honest)
    fetch = store.fetch(sha1)
    assert fetch.data == data
    assert outcomes(fetch) == [("liar", "invalid"), ("honest", "hit")]


def test_concurrent_gets_of_one_blob_still_ask_each_tier_once():
    sources = tiers(3, delay=0.1)
    sources[2].put(KEY, b"third")
    store = composite(*sources, concurrent=True)
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: store.get(KEY), range(32)))
    assert results == [b"third"] * 32
    assert [s.gets for s in sources] == [1, 1, 1]


def test_both_options_together_and_after_a_pickle_round_trip():
    sources = tiers(3)
    sources[1].put(KEY, b"second")
    store = pickle.loads(pickle.dumps(composite(*sources, concurrent=True, index=LocationIndex())))
    assert store.get(KEY) == b"second"
    assert outcomes(store.fetch(KEY)) == [("s0", "skipped"), ("s1", "hit")]
    copy = pickle.loads(pickle.dumps(store))  # the index is the process's memory: not copied
    assert (copy.concurrent, copy.index.size, len(copy.index)) == (True, 100_000, 0)
    assert outcomes(copy.fetch(KEY)) == [("s0", "not_found"), ("s1", "hit")]


def test_probe_threads_are_bounded_by_the_option():
    sources = tiers(4, delay=0.05)
    sources[3].put(KEY, b"fourth")
    store = composite(*sources, concurrent=2)
    before = threading.active_count()
    assert store.get(KEY) == b"fourth"
    assert threading.active_count() - before <= 2


# over the real emulators: S3, GCS, S3, the benchmark's layout


def test_a_third_tier_hit_over_the_emulators(s3_bucket, gcs_bucket, s3_server):
    sha1, data = make_blob("third", 4096)
    s3_server.client().put_object(Bucket=s3_bucket, Key=f"third/{sha1}", Body=data)
    store = Sha1Composite(concurrent=True, index=LocationIndex())
    store.append_source(Sha1Store(S3Raw(), f"s3://{s3_bucket}/first/"))
    store.append_source(Sha1Store(GSRaw(), f"gs://{gcs_bucket}/second/"))
    store.append_source(Sha1Store(S3Raw(), f"s3://{s3_bucket}/third/"))
    fetch = store.fetch(sha1)
    assert fetch.data == data
    assert [a.outcome for a in fetch.attempts] == ["not_found", "not_found", "hit"]
    again = store.fetch(sha1.upper())
    assert again.data == data
    asked = [a.tier for a in again.attempts if a.outcome != "skipped"]
    assert asked == [f"s3://{s3_bucket}/third/"]
    assert [a.reason for a in again.attempts] == ["index", "index", None]


def test_a_blob_put_is_then_read_from_where_it_was_put():
    cache, source = CountingStore(name="cache"), CountingStore({KEY: b"old"}, name="source")
    store = Composite(index=LocationIndex())
    store.append_source(source)
    store.append_cache(cache, read=True)
    assert store.fetch(KEY).served_by == "source"
    store.put(KEY, b"new")
    assert store.fetch(KEY).served_by == "cache"
