"""Several cache levels in the core: a blob from a write-back source lands in every level, a
blob from a lower level is promoted into the levels above it (gets and streams alike, only
verified bytes, atomically), a read-only level is read and never written, the location
index never skips the top level, and `put` goes into the durable tiers and the top level."""

import logging

import pytest

from bitstore_app.core import (
    FileSystemRaw,
    LocationIndex,
    MemoryRaw,
    NoWritableTier,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from bitstore_app.core.wrapper import StoreWrapper
from tests.core.conftest import make_blob
from tests.core.stores import CountingStore

SIZE = 300_000


class ReadOnlyLevel(StoreWrapper):
    """A level that cannot write (what the app builds for a tier marked read-only)."""

    def can_write(self):
        return False

    def open_writer(self, uri):
        raise NotImplementedError("read-only")


def levels(*raws, index=None, check_reads=True, **knobs):
    """A composite with a cache level over each raw store, top first, and a counting
    write-back source under them; return (composite, source raw)."""
    composite = Sha1Composite(index=index)
    composite.check_reads = check_reads
    for number, raw in enumerate(raws, 1):
        level = Sha1Cache(raw, "", verify=True)
        level.name = f"level{number}"
        composite.append_cache_level(level)
    source = CountingStore(name="api")
    store = Sha1Store(source, "")
    store.name = "api"
    composite.append_source(store, cache_result=True)
    for name, value in knobs.items():
        setattr(composite, name, value)
    return composite, source


def read_all(stream):
    with stream:
        return stream.read()


def test_a_write_back_fills_every_level_and_a_lower_level_refills_the_ones_above():
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom)
    sha1, data = make_blob(size=SIZE)
    api.blobs[sha1] = data
    first = composite.fetch(sha1)
    assert (first.served_by, first.written_to) == ("api", ["level1", "level2"])
    assert top.blobs == bottom.blobs == {sha1: data}
    top.delete(sha1)
    second = composite.fetch(sha1)
    assert (second.data, second.served_by, second.written_to) == (data, "level2", ["level1"])
    assert top.blobs == {sha1: data}
    third = composite.fetch(sha1)
    assert (third.served_by, third.written_to) == ("level1", [])
    assert api.gets == 1


@pytest.mark.parametrize("size", [1000, SIZE])  # read whole before sending, and teed
def test_a_stream_from_a_lower_level_is_promoted_once_it_checked_out(size):
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom, verify_before_send_max_bytes=10_000)
    sha1, data = make_blob(size=size)
    bottom.put(sha1, data)
    result = composite.open_fetch(sha1)
    assert read_all(result.stream) == data
    assert (result.served_by, result.written_to) == ("level2", ["level1"])
    assert top.blobs == {sha1: data}
    assert api.gets == 0


@pytest.mark.parametrize("size", [1000, SIZE])
def test_a_wrong_blob_in_a_lower_level_is_never_promoted_and_is_removed(size):
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom, verify_before_send_max_bytes=10_000)
    sha1, data = make_blob(size=size)
    bottom.put(sha1, b"x" * size)
    api.blobs[sha1] = data
    assert composite.get(sha1) == data  # the lower level fails its check: the API serves
    assert top.blobs == bottom.blobs == {sha1: data}  # the wrong entry was replaced
    bottom.put(sha1, b"y" * size)
    top.delete(sha1)
    if size <= composite.verify_before_send_max_bytes:  # checked before it is sent
        assert read_all(composite.open(sha1)) == data
        assert top.blobs == bottom.blobs == {sha1: data}
        return
    with pytest.raises(Exception, match="invalid"):
        read_all(composite.open(sha1))  # a long stream shows the mismatch at its end
    assert sha1 not in top.blobs and sha1 not in bottom.blobs


def test_a_promotion_that_fails_one_level_still_serves_and_fills_the_others(tmp_path, caplog):
    broken = FileSystemRaw(tmp_path / "file-not-folder")
    (tmp_path / "file-not-folder").write_bytes(b"a file where the folder should be")
    middle, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(broken, middle, bottom)
    sha1, data = make_blob(size=SIZE)
    bottom.put(sha1, data)
    with caplog.at_level(logging.WARNING):
        result = composite.fetch(sha1)
    assert (result.data, result.written_to) == (data, ["level2"])
    assert "level1: could not cache" in caplog.text
    assert read_all(composite.open(sha1)) == data


def test_a_read_only_level_is_read_and_promoted_from_but_never_written():
    top, shared = MemoryRaw(), MemoryRaw()
    composite = Sha1Composite()
    composite.check_reads = True
    composite.append_cache_level(Sha1Cache(top, ""))
    composite.append_cache_level(ReadOnlyLevel(Sha1Cache(shared, "")))
    api = CountingStore()
    composite.append_source(Sha1Store(api, ""), cache_result=True)
    held, data = make_blob()
    shared.put(held, data)
    assert composite.get(held) == data and top.blobs == {held: data}
    other, other_data = make_blob()
    api.put(other, other_data)
    shared_before = dict(shared.blobs)
    assert composite.get(other) == other_data
    assert other in top.blobs and shared.blobs == shared_before


def test_append_cache_keeps_the_seeds_meaning_and_cache_names_the_top_level(caplog):
    composite = Sha1Composite()
    first, second, third = (Sha1Cache(MemoryRaw(), "") for _ in range(3))
    composite.append_cache_level(first)
    composite.append_cache_level(second)
    assert composite.cache is first and composite.caches == [first, second]
    with caplog.at_level(logging.WARNING):
        composite.append_cache(third)
    assert composite.caches == [third] and composite.cache is third
    assert composite.sources == [third]
    assert caplog.text.count("replacing the cache") == 2


def test_the_index_never_sends_a_fetch_past_the_top_level_nor_the_api_before_a_level():
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom, index=LocationIndex())
    sha1, data = make_blob()
    api.blobs[sha1] = data
    composite.get(sha1)
    assert composite.index.get(sha1) == "level1"  # the top level written
    top.delete(sha1)
    bottom.delete(sha1)  # evicted from both: the index still names level 1
    result = composite.fetch(sha1)
    assert [a.tier for a in result.attempts] == ["level1", "level2", "api"]
    assert result.served_by == "api" and api.gets == 2
    top.delete(sha1)
    composite.index.remember(sha1, "level2")  # another process saw it there
    result = composite.fetch(sha1)
    assert [a.tier for a in result.attempts] == ["level1", "level2"]
    assert composite.index.get(sha1) == "level1"  # promoted: the top level holds it now


def test_an_evicted_blob_the_index_names_is_found_in_the_configured_order():
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom, index=LocationIndex())
    sha1, data = make_blob()
    bottom.put(sha1, data)
    composite.index.remember(sha1, "level1")
    top.delete(sha1)
    result = composite.fetch(sha1)
    assert (result.data, result.served_by) == (data, "level2")
    assert composite.index.get(sha1) == "level1"


def test_concurrent_probes_ask_lower_levels_at_once_and_the_api_alone():
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom, concurrent=4)
    held, data = make_blob()
    bottom.put(held, data)
    assert composite.get(held) == data and api.gets == 0
    assert top.blobs == {held: data}


def test_put_goes_into_the_durable_tiers_and_the_top_level():
    top, bottom, durable = MemoryRaw(max_bytes=10_000), MemoryRaw(), MemoryRaw()
    composite = Sha1Composite(index=LocationIndex())
    composite.append_cache_level(Sha1Cache(top, ""))
    composite.append_cache_level(Sha1Cache(bottom, ""))
    uploads = Sha1Store(durable, "")
    uploads.name = "uploads"
    composite.append_source(uploads, accepts_puts=True)
    sha1, data = make_blob(size=5000)
    composite.put(sha1, data)
    assert durable.blobs == top.blobs == {sha1: data} and bottom.blobs == {}
    for _ in range(10):  # eviction pressure on the top level
        other, other_data = make_blob(size=5000)
        top.put(other, other_data)
    assert sha1 not in top.blobs and durable.blobs == {sha1: data}
    assert composite.get(sha1) == data


@pytest.mark.parametrize(
    ("caches", "reason"),
    [
        ([MemoryRaw(max_bytes=1000)], "the cache level is bounded"),
        ([MemoryRaw(), MemoryRaw()], "there are 2 cache levels"),
    ],
)
def test_put_without_a_durable_tier_is_refused_unless_one_unbounded_level_takes_it(caches, reason):
    composite = Sha1Composite()
    for raw in caches:
        composite.append_cache_level(Sha1Cache(raw, ""))
    sha1, data = make_blob()
    with pytest.raises(NoWritableTier, match=f"{reason}.*accepts_puts"):
        composite.put(sha1, data)
    alone = Sha1Composite()
    alone.append_cache(Sha1Cache(MemoryRaw(), ""))  # today's setups: one unbounded cache
    alone.put(sha1, data)
    assert alone.get(sha1) == data


def test_a_failed_durable_write_places_nothing_in_the_cache():
    top = MemoryRaw()
    composite = Sha1Composite()
    composite.append_cache_level(Sha1Cache(top, ""))
    from tests.core.stores import DownStore

    composite.append_source(Sha1Store(DownStore(name="uploads"), ""), accepts_puts=True)
    sha1, data = make_blob()
    with pytest.raises(Exception, match="not available"):
        composite.put(sha1, data)
    assert top.blobs == {}


@pytest.mark.timeout(60)
def test_a_promotion_takes_no_fill_claim():
    top, bottom = MemoryRaw(), MemoryRaw()
    composite, api = levels(top, bottom)
    composite.fill_gate.wait = 3600
    sha1, data = make_blob()
    bottom.put(sha1, data)
    held = composite.fill_gate.claim(sha1)  # another reader is fetching it from the API
    try:
        assert composite.get(sha1) == data  # promoted without waiting for that fill
    finally:
        held.release()
    assert top.blobs == {sha1: data} and api.gets == 0


def test_every_durable_tier_takes_a_put_and_a_full_top_level_is_skipped(tmp_path):
    top = FileSystemRaw(tmp_path / "top", max_bytes=10_000, spare_seconds=3600)
    first, second = MemoryRaw(), MemoryRaw()
    composite = Sha1Composite()
    composite.append_cache_level(Sha1Cache(top, ""))
    composite.append_source(Sha1Store(first, ""), accepts_puts=True)
    composite.append_source(Sha1Store(second, ""), accepts_puts=True)
    hot, hot_data = make_blob(size=9_000)
    top.put(hot, hot_data)
    top.get(hot)  # read just now: spared
    sha1, data = make_blob(size=5_000)
    composite.put(sha1, data)  # no room in the top level: logged, the put succeeds
    assert first.blobs == second.blobs == {sha1: data}
    assert not top.exists(sha1) and top.exists(hot)
    assert composite.get(sha1) == data


def test_a_fill_a_full_level_cannot_take_still_serves_the_reader(tmp_path):
    top = FileSystemRaw(tmp_path / "top", max_bytes=10_000, spare_seconds=3600)
    composite, api = levels(top)
    hot, hot_data = make_blob(size=9_000)
    top.put(hot, hot_data)
    top.get(hot)
    sha1, data = make_blob(size=5_000)
    api.blobs[sha1] = data
    result = composite.fetch(sha1)
    assert (result.data, result.written_to) == (data, [])
    assert not top.exists(sha1) and top.exists(hot)
