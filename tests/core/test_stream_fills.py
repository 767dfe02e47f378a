"""Streams fill the cache as `get` does: teed into the cache's writer and committed on a SHA1
match, finished or dropped when the reader leaves early, filled in the background after a
range; one source fetch per blob for gets and streams together; wrong cache entries removed."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bitstore_app.core import InvalidDataFound, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
from tests.core.conftest import make_blob
from tests.core.stores import CountingStore

SIZE = 300_000


class SlowOpens(CountingStore):
    """A source that counts its streams too, each taking `delay` seconds to open."""

    opens = 0

    def open(self, uri, start=0, end=None):
        with self._count_lock:
            self.opens += 1
        if self.delay:
            time.sleep(self.delay)
        return super().open(uri, start, end)


def setup(blobs, delay=0.0, **knobs):
    cache_raw = MemoryRaw()
    source_raw = SlowOpens(blobs, name="source", delay=delay)
    composite = Sha1Composite()
    composite.append_cache(Sha1Cache(cache_raw, "", verify=True))
    composite.append_source(Sha1Store(source_raw, ""), cache_result=True)
    composite.check_reads = True
    for name, value in knobs.items():
        setattr(composite, name, value)
    return composite, cache_raw, source_raw


def read_all(stream, chunk=4096):
    parts = []
    with stream:
        while part := stream.read(chunk):
            parts.append(part)
    return b"".join(parts)


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_whole_stream_from_a_write_back_source_fills_the_cache():
    sha1, data = make_blob(size=SIZE)
    composite, cache, source = setup({sha1: data})
    assert read_all(composite.open(sha1)) == data
    assert cache.blobs == {sha1: data}
    assert read_all(composite.open(sha1)) == data
    assert source.opens == 1


def test_a_small_whole_blob_is_read_checked_and_written_before_the_stream_returns():
    sha1, data = make_blob(size=SIZE)
    composite, cache, _ = setup({sha1: data}, verify_before_send_max_bytes=SIZE)
    result = composite.open_fetch(sha1)
    assert cache.blobs == {sha1: data} and result.cache_written
    assert read_all(result.stream) == data


def test_a_wrong_blob_from_a_source_is_cut_short_and_never_cached():
    sha1, _ = make_blob()
    composite, cache, _ = setup({sha1: b"x" * SIZE})
    stream = composite.open(sha1)
    with pytest.raises(InvalidDataFound):
        read_all(stream)
    assert cache.blobs == {}


@pytest.mark.parametrize("damage", ["corrupted", "empty", "truncated"])
@pytest.mark.parametrize("small", [True, False])
def test_a_damaged_cache_entry_is_removed_and_the_source_refills_it(damage, small):
    sha1, data = make_blob(size=SIZE)
    limit = SIZE if small else 0
    composite, cache, source = setup({sha1: data}, verify_before_send_max_bytes=limit)
    cache.blobs[sha1] = {"corrupted": b"y" * SIZE, "empty": b"", "truncated": data[:-10]}[damage]
    if small or damage == "empty":  # checked before sending: the next tier serves it
        result = composite.open_fetch(sha1)
        assert [a.outcome for a in result.attempts] == ["invalid", "hit"]
        assert read_all(result.stream) == data
    else:  # checked at its end: cut short, the entry removed, and the retry is right
        with pytest.raises(InvalidDataFound):
            read_all(composite.open(sha1))
        assert sha1 not in cache.blobs
        assert read_all(composite.open(sha1)) == data
    assert cache.blobs == {sha1: data}
    assert composite.get(sha1) == data


def test_a_reader_that_leaves_early_leaves_no_partial_entry():
    sha1, data = make_blob(size=SIZE)
    composite, cache, _ = setup({sha1: data})  # nothing finishes in the background
    stream = composite.open(sha1)
    stream.read(1000)
    stream.close()
    assert cache.blobs == {}
    assert composite.get(sha1) == data  # and the next reader fills it


def test_a_reader_that_leaves_early_still_fills_a_small_enough_blob():
    sha1, data = make_blob(size=SIZE)
    composite, cache, _ = setup({sha1: data}, fill_after_disconnect_max_bytes=SIZE)
    stream = composite.open(sha1)
    stream.read(1000)
    stream.close()
    wait_for(lambda: sha1 in cache.blobs)
    assert cache.blobs[sha1] == data


def test_a_range_of_an_uncached_blob_fills_the_cache_in_the_background():
    sha1, data = make_blob(size=SIZE)
    composite, cache, _ = setup({sha1: data}, fill_on_range_max_bytes=SIZE)
    assert read_all(composite.open(sha1, 10, 20)) == data[10:20]
    wait_for(lambda: sha1 in cache.blobs)
    assert cache.blobs[sha1] == data
    big, big_data = make_blob(size=SIZE + 1)
    composite2, cache2, _ = setup({big: big_data}, fill_on_range_max_bytes=SIZE)
    assert read_all(composite2.open(big, 10, 20)) == big_data[10:20]
    time.sleep(0.2)
    assert cache2.blobs == {}  # larger than the setting: not filled


def test_concurrent_gets_and_streams_of_one_blob_make_one_source_fetch():
    sha1, data = make_blob(size=SIZE)
    composite, cache, source = setup({sha1: data}, delay=0.2)
    start = threading.Barrier(16)

    def one(i):
        start.wait()
        return composite.get(sha1) if i % 2 else read_all(composite.open(sha1))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert results == [data] * 16
    assert source.opens + source.gets == 1
    assert cache.blobs == {sha1: data}


def test_the_index_never_asks_a_write_back_source_before_the_cache():
    from bitstore_app.core import LocationIndex

    sha1, data = make_blob()
    composite, cache, source = setup({sha1: data})
    composite.index = LocationIndex()
    composite.index.remember(sha1, str(composite.sources[1]))  # "the source has it"
    cache.blobs[sha1] = data  # another process filled the cache meanwhile
    assert composite.get(sha1) == data
    assert source.gets == 0


def test_the_index_asks_the_cache_before_the_tier_it_names():
    from bitstore_app.core import LocationIndex

    sha1, data = make_blob()
    cache, cheap, other = MemoryRaw(), CountingStore({sha1: data}, name="cheap"), MemoryRaw()
    composite = Sha1Composite(index=LocationIndex())
    composite.append_source(Sha1Store(other, ""))
    composite.append_cache(Sha1Cache(cache, "", verify=True))
    composite.append_source(Sha1Store(cheap, ""))
    composite.index.remember(sha1, str(composite.sources[2]))
    cache.blobs[sha1] = data  # another process filled the cache since
    result = composite.fetch(sha1)
    assert (result.data, result.served_by) == (data, str(composite.cache))
    assert [a.tier for a in result.attempts] == [str(composite.cache)]  # tier "other" skipped
    assert cheap.gets == 0
