"""Every rule of `Composite`: the order of the sources, what it skips, what it raises, the
cache and its write-back, parallel and coalesced reads."""

import logging
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bitstore_app.core import (
    Composite,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    StoreNotAvailable,
    get_many,
)
from tests.core.stores import CountingStore, DownStore, FailingWrites, PrefixStore

KEY = "blobs/k"


def composite(*sources):
    store = Composite()
    for source in sources:
        store.append_source(source)
    return store


# order and skipping


def test_the_first_source_that_has_the_blob_serves_it():
    first = CountingStore({KEY: b"first"}, name="first")
    second = CountingStore({KEY: b"second"}, name="second")
    store = composite(first, second)
    assert store.get(KEY) == b"first"
    assert (first.gets, second.gets) == (1, 0)
    assert store.fetch(KEY).served_by == "first"


def test_sources_are_tried_in_the_order_they_were_appended():
    sources = [CountingStore(name=f"s{i}") for i in range(4)]
    sources[2].put(KEY, b"third")
    store = composite(*sources)
    fetch = store.fetch(KEY)
    assert fetch.data == b"third"
    assert [a.tier for a in fetch.attempts] == ["s0", "s1", "s2"]
    assert sources[3].gets == 0


def test_a_source_that_does_not_accept_the_uri_is_skipped_not_asked():
    picky = PrefixStore("s3://", {KEY: b"never"}, name="picky")
    plain = CountingStore({KEY: b"plain"}, name="plain")
    store = composite(picky, plain)
    fetch = store.fetch(KEY)
    assert fetch.data == b"plain"
    assert picky.gets == 0
    assert [a.tier for a in fetch.attempts] == ["plain"]


def test_not_found_and_not_available_sources_are_skipped():
    missing = CountingStore(name="missing")
    down = DownStore(name="down")
    holder = CountingStore({KEY: b"here"}, name="holder")
    store = composite(missing, down, holder)
    fetch = store.fetch(KEY)
    assert fetch.data == b"here"
    assert [(a.tier, a.outcome) for a in fetch.attempts] == [
        ("missing", "not_found"),
        ("down", "unavailable"),
        ("holder", "hit"),
    ]


def test_invalid_uri_when_no_source_accepts_it():
    store = composite(PrefixStore("s3://"), PrefixStore("gs://"))
    with pytest.raises(InvalidURI):
        store.get("ftp://elsewhere/k")
    assert store.is_valid("ftp://elsewhere/k") is False
    assert store.is_valid("gs://bucket/k") is True


def test_invalid_uri_when_there_are_no_sources():
    with pytest.raises(InvalidURI):
        Composite().get(KEY)


def test_not_found_when_no_source_has_it():
    store = composite(CountingStore(name="a"), CountingStore(name="b"))
    with pytest.raises(NotFoundInStore) as caught:
        store.get(KEY)
    assert type(caught.value) is NotFoundInStore
    assert caught.value.uri == KEY


def test_not_found_while_unavailable_when_a_tier_was_down():
    store = composite(CountingStore(name="a"), DownStore(name="down"), CountingStore(name="b"))
    with pytest.raises(NotFoundWhileUnavailable) as caught:
        store.get(KEY)
    # Still a NotFoundInStore, so code written for the seed library catches it.
    assert isinstance(caught.value, NotFoundInStore)
    assert caught.value.unavailable == ("down",)
    assert "down" in str(caught.value)


# the cache


def test_a_source_appended_with_cache_result_is_written_back():
    cache = CountingStore(name="cache")
    source = CountingStore({KEY: b"blob"}, name="source")
    store = Composite()
    store.append_cache(cache)
    store.append_source(source, cache_result=True)
    fetch = store.fetch(KEY)
    assert fetch.data == b"blob" and fetch.cache_written
    assert cache.blobs == {KEY: b"blob"}
    # The next read is served by the cache, and nothing is written again.
    assert store.fetch(KEY).served_by == "cache"
    assert (source.gets, cache.puts) == (1, 1)


def test_a_source_appended_without_cache_result_is_not_written_back():
    cache = CountingStore(name="cache")
    store = Composite()
    store.append_cache(cache)
    store.append_source(CountingStore({KEY: b"blob"}))
    assert store.get(KEY) == b"blob"
    assert cache.blobs == {} and cache.puts == 0


def test_append_store_after_append_cache_lands_blobs_in_the_cache():
    # The seed README: "append the cache *before* adding the API source", with append_store.
    cache = CountingStore(name="cache")
    api = CountingStore({KEY: b"from the api"}, name="api")
    store = composite(CountingStore(name="passive"))
    store.append_cache(cache)
    store.append_store(api)
    assert store.get(KEY) == b"from the api"
    assert cache.blobs == {KEY: b"from the api"}
    assert store.get(KEY) == b"from the api"
    assert api.gets == 1


def test_a_cache_appended_with_read_is_read_in_its_position():
    before = CountingStore({"a": b"a from before"}, name="before")
    cache = CountingStore({"a": b"a from cache", "b": b"b from cache"}, name="cache")
    after = CountingStore({"b": b"b from after"}, name="after")
    store = composite(before)
    store.append_cache(cache)
    store.append_source(after)
    assert [str(s) for s in store.sources] == ["before", "cache", "after"]
    assert store.get("a") == b"a from before"
    assert store.get("b") == b"b from cache"
    assert after.gets == 0


def test_a_cache_appended_without_read_is_written_but_not_read():
    cache = CountingStore({KEY: b"stale"}, name="cache")
    store = Composite()
    store.append_cache(cache, read=False)
    store.append_source(CountingStore({KEY: b"fresh"}), cache_result=True)
    assert cache not in store.sources
    assert store.get(KEY) == b"fresh"
    assert cache.gets == 0 and cache.puts == 1


def test_appending_a_second_cache_replaces_the_first_with_a_warning(caplog):
    old, new = CountingStore(name="old-cache"), CountingStore(name="new-cache")
    store = Composite()
    store.append_cache(old)
    store.append_source(CountingStore({KEY: b"blob"}), cache_result=True)
    with caplog.at_level(logging.WARNING, logger="bitstore_app"):
        store.append_cache(new)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "old-cache" in warnings[0].getMessage() and "new-cache" in warnings[0].getMessage()
    assert store.cache is new
    assert old not in store.sources and store.sources[-1] is new
    store.get(KEY)
    assert (old.puts, new.puts) == (0, 1)


def test_the_cache_serving_a_blob_is_not_written_again():
    cache = CountingStore({KEY: b"cached"}, name="cache")
    store = Composite()
    store.append_cache(cache)
    store.append_source(cache, cache_result=True)  # even if appended as a write-back source
    assert store.get(KEY) == b"cached"
    assert cache.puts == 0


@pytest.mark.parametrize(
    "error",
    [StoreNotAvailable("cache", "full"), OSError("disk full"), RuntimeError("bug in the cache")],
    ids=["not-available", "oserror", "any-error"],
)
def test_a_failing_cache_write_never_fails_a_get(error, caplog):
    cache = FailingWrites(error, name="cache")
    store = Composite()
    store.append_cache(cache)
    store.append_source(CountingStore({KEY: b"blob"}), cache_result=True)
    with caplog.at_level(logging.WARNING, logger="bitstore_app"):
        fetch = store.fetch(KEY)
        assert store.get(KEY) == b"blob"
    assert fetch.data == b"blob" and fetch.cache_written is False
    assert cache.puts == 2
    assert str(error) in caplog.text


def test_a_pickled_composite_still_writes_back():
    cache = MemoryRaw()
    store = Composite()
    store.append_cache(cache, read=False)
    store.append_source(MemoryRaw({KEY: b"blob"}), cache_result=True)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.get(KEY) == b"blob"
    assert clone.cache.blobs == {KEY: b"blob"}


# exists, open, put


def test_exists_asks_the_sources_in_order():
    store = composite(CountingStore(), CountingStore({KEY: b"x"}))
    assert store.exists(KEY) is True
    assert store.exists("blobs/other") is False


def test_exists_is_not_available_when_a_down_tier_might_have_it():
    store = composite(CountingStore(), DownStore(name="down"))
    with pytest.raises(StoreNotAvailable, match="down"):
        store.exists(KEY)
    store.append_source(CountingStore({KEY: b"x"}))
    assert store.exists(KEY) is True


def test_open_streams_from_the_first_source_that_has_it():
    store = composite(CountingStore(), DownStore(), CountingStore({KEY: b"0123456789"}))
    with store.open(KEY, 2, 5) as file:
        assert file.size == 10
        assert file.read() == b"234"
    with pytest.raises(NotFoundWhileUnavailable):
        store.open("blobs/other")


def test_put_writes_into_the_cache_when_there_is_one():
    source, cache = CountingStore(), CountingStore()
    store = composite(source)
    store.append_cache(cache, read=False)
    store.put(KEY, b"x")
    assert (source.blobs, cache.blobs) == ({}, {KEY: b"x"})


# get_many


def test_get_many_yields_in_input_order():
    blobs = {f"blobs/{i}": f"blob {i}".encode() for i in range(40)}
    # Early keys are slow, so that later ones finish first.
    store = composite(CountingStore(blobs, delay=0.01))
    keys = list(blobs)
    assert list(store.get_many(keys, workers=16)) == [blobs[k] for k in keys]
    assert list(get_many(store, keys, workers=4)) == [blobs[k] for k in keys]


def test_get_many_raises_the_first_failure_in_its_place():
    store = composite(CountingStore({"a": b"a", "c": b"c"}))
    results = store.get_many(["a", "missing", "c"], errors="raise")
    assert next(results) == b"a"
    with pytest.raises(NotFoundInStore):
        next(results)


def test_get_many_can_return_failures_in_place():
    store = composite(CountingStore({"a": b"a", "c": b"c"}), DownStore(name="down"))
    results = list(store.get_many(["a", "missing", "c"], errors="return"))
    assert results[0] == b"a" and results[2] == b"c"
    assert isinstance(results[1], NotFoundWhileUnavailable)


def test_get_many_refuses_unknown_error_modes():
    with pytest.raises(ValueError):
        composite(CountingStore()).get_many(["a"], errors="ignore")


# single flight


def test_64_concurrent_gets_of_one_blob_fetch_it_once():
    source = CountingStore({KEY: b"blob"}, delay=0.3)
    store = composite(source)
    start = threading.Barrier(64)

    def get(_):
        start.wait()
        return store.get(KEY)

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(get, range(64)))
    assert results == [b"blob"] * 64
    assert source.gets == 1
    # Only concurrent calls share a fetch: a later one asks again.
    store.get(KEY)
    assert source.gets == 2


def test_concurrent_gets_of_a_missing_blob_all_see_the_error():
    source = CountingStore(delay=0.2)
    store = composite(source)
    start = threading.Barrier(16)

    def get(_):
        start.wait()
        try:
            store.get(KEY)
        except NotFoundInStore as exc:
            return exc
        return None

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(get, range(16)))
    assert all(isinstance(r, NotFoundInStore) for r in results)
    assert source.gets == 1


def test_gets_of_different_blobs_are_not_serialised():
    blobs = {f"blobs/{i}": b"x" for i in range(16)}
    store = composite(CountingStore(blobs, delay=0.2))
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(store.get, blobs))
    assert time.monotonic() - started < 1.5
