"""The streaming writer above the raw stores: SHA1 checks before a commit, wrappers that pass
it through, and the composite's writer into the tier a `put` writes to."""

import hashlib

import pytest

from bitstore_app.core import (
    Composite,
    InvalidDataFound,
    MemoryRaw,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from bitstore_app.core.guard import GuardedStore
from bitstore_app.core.writer import WriterClosed

DATA = b"a blob written in chunks"
SHA1 = hashlib.sha1(DATA).hexdigest()


def write_in_chunks(writer, data=DATA):
    with writer:
        for offset in range(0, len(data), 5):
            writer.write(data[offset : offset + 5])


@pytest.mark.parametrize("kind", [Sha1Store, Sha1Cache])
def test_a_sha1_writer_commits_the_matching_bytes(kind):
    raw = MemoryRaw()
    store = kind(raw, "blobs/")
    write_in_chunks(store.open_writer(SHA1.upper()))
    assert raw.blobs == {f"blobs/{SHA1}": DATA}


@pytest.mark.parametrize("kind", [Sha1Store, Sha1Cache])
def test_a_sha1_writer_of_other_bytes_raises_and_leaves_nothing(kind):
    raw = MemoryRaw()
    store = kind(raw, "blobs/")  # even a store that does not verify its `get`s
    writer = store.open_writer(SHA1)
    writer.write(b"other bytes")
    with pytest.raises(InvalidDataFound) as caught:
        writer.commit()
    assert "other bytes" not in str(caught.value)
    assert raw.blobs == {}
    with pytest.raises(WriterClosed):
        writer.commit()


def test_a_guarded_tier_forgets_its_miss_once_a_write_commits():
    store = GuardedStore(Sha1Store(MemoryRaw(), ""), negative_ttl=60)
    assert store.exists(SHA1) is False  # remembered as missing
    write_in_chunks(store.open_writer(SHA1))
    assert store.exists(SHA1) is True
    assert store.get(SHA1) == DATA


def test_the_composite_writes_into_its_cache_and_remembers_it():
    from bitstore_app.core import LocationIndex

    cache, source = MemoryRaw(), MemoryRaw()
    cache.name, source.name = "cache", "source"
    composite = Sha1Composite(index=LocationIndex())
    composite.append_source(Sha1Store(source, ""))
    composite.append_cache(Sha1Cache(cache, ""))
    write_in_chunks(composite.open_writer(f"sha1://{SHA1}"))
    assert cache.blobs == {SHA1: DATA} and source.blobs == {}
    assert composite.index.get(SHA1) == str(composite.cache)


def test_the_composite_writer_goes_into_the_sources_that_accept_puts_not_any_writable_one():
    class ReadOnly(Sha1APISource):
        def api_get(self, sha1):
            return None

    first, durable = MemoryRaw(), MemoryRaw()
    composite = Composite()
    composite.append_source(ReadOnly())
    composite.append_source(Sha1Store(first, ""))
    with pytest.raises(NotImplementedError, match="accepts_puts"):
        composite.open_writer(SHA1)  # writable, but nobody said it is where puts belong
    composite.append_source(Sha1Store(durable, ""), accepts_puts=True)
    write_in_chunks(composite.open_writer(SHA1))
    assert (first.blobs, durable.blobs) == ({}, {SHA1: DATA})


def test_the_composite_writer_with_no_writable_tier_says_so():
    class ReadOnly(Sha1APISource):
        def api_get(self, sha1):
            return None

    composite = Composite()
    composite.append_source(ReadOnly())
    with pytest.raises(NotImplementedError, match="no tier that can write"):
        composite.open_writer(SHA1)
    with pytest.raises(NotImplementedError, match="does not implement the 'put' method"):
        ReadOnly().open_writer(SHA1)
