"""Streams fill the cache as `get` does: teed into the cache's writer and committed on a SHA1
match, finished or dropped when the reader leaves early, filled in the background after a
range; one source fetch per blob for gets and streams together; wrong cache entries removed."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bitstore_app.core import InvalidDataFound, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
from bitstore_app.core.fill_gate import FillGate
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
    before = set(threading.enumerate())
    assert read_all(composite2.open(big, 10, 20)) == big_data[10:20]
    # Larger than the setting: no fill, neither running (a thread) nor done (in the cache).
    started = [t for t in set(threading.enumerate()) - before if t.name == "bitstore-fill"]
    assert started == [] and cache2.blobs == {}


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


def read_slowly(stream, pause, chunk=10_000):
    """Read a stream to its end as a slow client would, pausing between reads."""
    parts = []
    with stream:
        while part := stream.read(chunk):
            parts.append(part)
            time.sleep(pause)  # the client's pace, not a wait for anything
    return b"".join(parts)


def test_readers_follow_a_fill_that_outlasts_the_wait_while_it_progresses():
    # The first reader's client takes three times the gate's wait to read the blob (30 reads,
    # 0.05 s apart); the others follow its fill instead of asking the source once the wait
    # has passed.
    sha1, data = make_blob(size=SIZE)
    composite, cache, source = setup({sha1: data})
    composite.fill_gate = FillGate(wait=0.5)
    first = composite.open(sha1)
    with ThreadPoolExecutor(5) as pool:
        slow = pool.submit(read_slowly, first, pause=0.05)
        others = [pool.submit(lambda: read_all(composite.open(sha1))) for _ in range(4)]
        assert [other.result() for other in others] == [data] * 4
        assert slow.result() == data
    assert source.opens == 1
    assert cache.blobs == {sha1: data}


class CountingGate(FillGate):
    """A fill gate that says how many readers are waiting for a fill, as they begin to."""

    def __init__(self, wait):
        super().__init__(wait)
        self.followers = threading.Semaphore(0)

    def _follow(self, fill):
        self.followers.release()
        return super()._follow(fill)


def test_a_fill_dropped_by_its_reader_is_taken_over_by_one_waiting_reader():
    sha1, data = make_blob(size=SIZE)
    composite, cache, source = setup({sha1: data})  # a reader that leaves drops the fill
    composite.fill_gate = gate = CountingGate(wait=30)
    first = composite.open(sha1)
    first.read(1000)
    with ThreadPoolExecutor(4) as pool:
        others = [pool.submit(lambda: read_all(composite.open(sha1))) for _ in range(4)]
        for _ in others:
            assert gate.followers.acquire(timeout=10)  # every reader waits for the fill
        first.close()  # the client hangs up: the fill is dropped
        assert [other.result() for other in others] == [data] * 4
    assert source.opens == 2, "one reader took the fill over; the others read the cache"
    assert cache.blobs == {sha1: data}


def test_a_stalled_fill_holds_the_other_readers_for_the_wait_at_most():
    sha1, data = make_blob(size=SIZE)
    composite, cache, source = setup({sha1: data})
    composite.fill_gate = FillGate(wait=0.2)
    stuck = composite.open(sha1)
    stuck.read(1000)  # and nothing more: a client that neither reads nor hangs up
    with ThreadPoolExecutor(2) as pool:
        others = [pool.submit(lambda: read_all(composite.open(sha1))) for _ in range(2)]
        assert [other.result(timeout=10) for other in others] == [data] * 2
    stuck.close()
    assert cache.blobs == {sha1: data}


class SharedLeases:
    """Leases in memory with an expiry, shared by the fill gates of several composites as
    Redis shares them between processes (`coordination.leases` for the app)."""

    def __init__(self, ttl):
        self.ttl = ttl
        self.held = {}
        self.lock = threading.Lock()

    def acquire(self, key, wait):
        deadline = time.monotonic() + wait
        while True:
            with self.lock:
                owner, until = self.held.get(key, (None, 0.0))
                if owner is None or until <= time.monotonic():
                    token = object()
                    self.held[key] = (token, time.monotonic() + self.ttl)
                    return token
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)  # polling, as the Redis leases do

    def renew(self, key, token):
        with self.lock:
            if self.held.get(key, (None,))[0] is token:
                self.held[key] = (token, time.monotonic() + self.ttl)

    def release(self, key, token):
        with self.lock:
            if self.held.get(key, (None,))[0] is token:
                del self.held[key]


def test_a_fill_that_outlasts_its_lease_keeps_it_while_it_progresses():
    # Two composites stand for two processes: one cache, one source, leases shared.
    sha1, data = make_blob(size=SIZE)
    leases = SharedLeases(ttl=0.5)
    one, cache, source = setup({sha1: data})
    other = Sha1Composite()
    other.append_cache(one.cache)
    other.append_source(one.sources[1], cache_result=True)
    other.check_reads = True
    one.fill_gate = FillGate(wait=0.5, leases=leases)
    other.fill_gate = FillGate(wait=0.5, leases=leases)
    first = one.open(sha1)  # holds the lease
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(read_slowly, first, pause=0.05)  # 1.5 s; the lease lasts 0.5 s
        assert read_all(other.open(sha1)) == data
        assert slow.result() == data
    assert source.opens == 1


def test_the_background_fetch_hook_stays_in_its_process():
    """The app's ledger hook is a closure of its process: a pickled composite (the worker
    processes of `get_many(processes=N)`) goes without it."""
    import pickle

    from bitstore_app.core import Sha1Composite

    composite = Sha1Composite()
    composite.on_background_fetch = lambda fetch: None
    assert pickle.loads(pickle.dumps(composite)).on_background_fetch is None
