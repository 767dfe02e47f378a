"""Every rule of the SHA1 tiers: keys in any case and with `sha1://`, verification, the
cache that always verifies, API sources."""

import hashlib
import logging

import pytest

from bitstore_app.core import (
    InvalidDataFound,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    is_sha1,
    parse_sha1,
    sha1_of,
)
from tests.core.stores import CountingStore, FailingWrites

DATA = b"the blob"
SHA1 = hashlib.sha1(DATA).hexdigest()
OTHER = hashlib.sha1(b"another blob").hexdigest()


class DictAPI(Sha1APISource):
    """An API source over a dict, counting its calls."""

    def __init__(self, blobs, verify=False):
        super().__init__(verify=verify)
        self.blobs = blobs
        self.asked = []

    def api_get(self, sha1):
        self.asked.append(sha1)
        return self.blobs.get(sha1)


def composite_over(raw, prefix="blobs/", verify=False):
    store = Sha1Composite()
    store.append_source(Sha1Store(raw, prefix, verify=verify))
    return store


# keys


@pytest.mark.parametrize(
    "key",
    [SHA1, SHA1.upper(), f"sha1://{SHA1}", f"sha1://{SHA1.upper()}", SHA1[:20].upper() + SHA1[20:]],
)
def test_any_case_and_the_sha1_scheme_are_accepted_and_normalised(key):
    raw = CountingStore({f"blobs/{SHA1}": DATA})
    store = composite_over(raw)
    assert store.is_valid(key)
    assert store.get(key) == DATA
    assert store.exists(key)
    assert parse_sha1(key) == SHA1
    assert is_sha1(key)


@pytest.mark.parametrize(
    "key",
    ["", SHA1[:-1], SHA1 + "0", "g" * 40, f"sha1:/{SHA1}", f"SHA1://{SHA1}", f" {SHA1}", None],
)
def test_anything_else_is_an_invalid_uri_with_the_hint(key):
    store = composite_over(MemoryRaw())
    assert store.is_valid(key) is False
    assert is_sha1(key) is False
    with pytest.raises(InvalidURI) as caught:
        store.get(key)
    assert caught.value.hint == "<sha1> or sha1://<sha1>"
    assert "(hint: <sha1> or sha1://<sha1>)" in str(caught.value)


def test_a_sha1_store_reads_prefix_plus_the_lower_case_sha1():
    raw = CountingStore({f"s/{SHA1}": DATA})
    store = Sha1Store(raw, "s/")
    assert store.get(SHA1.upper()) == DATA
    store.put(OTHER.upper(), b"x")
    assert f"s/{OTHER}" in raw.blobs


def test_a_sha1_store_accepts_only_bare_sha1s():
    store = Sha1Store(MemoryRaw(), "blobs/")
    assert store.is_valid(SHA1) and store.is_valid(SHA1.upper())
    with pytest.raises(InvalidURI) as caught:
        store.get(f"sha1://{SHA1}")
    assert caught.value.hint == "<sha1>"


def test_a_missing_blob_is_not_found_in_the_sha1_store():
    store = Sha1Store(MemoryRaw(), "blobs/")
    with pytest.raises(NotFoundInStore) as caught:
        store.get(SHA1)
    assert caught.value.uri == SHA1


def test_the_sha1_helpers():
    assert sha1_of(DATA) == SHA1
    with pytest.raises(InvalidURI):
        parse_sha1("nope")


# verification


def test_verify_refuses_data_that_does_not_match():
    raw = MemoryRaw({f"blobs/{SHA1}": b"corrupt"})
    with pytest.raises(InvalidDataFound) as caught:
        Sha1Store(raw, "blobs/", verify=True).get(SHA1)
    assert isinstance(caught.value, NotFoundInStore)
    assert sha1_of(b"corrupt") in str(caught.value)
    # Without verify, the seed's default, the data is returned as it is.
    assert Sha1Store(raw, "blobs/").get(SHA1) == b"corrupt"


def test_invalid_data_is_never_returned_and_never_cached():
    cache = CountingStore(name="cache")
    store = Sha1Composite()
    store.append_cache(Sha1Cache(cache, "cache/"))
    corrupt = Sha1Store(MemoryRaw({f"blobs/{SHA1}": b"corrupt"}), "blobs/", verify=True)
    store.append_source(corrupt, cache_result=True)
    fetch = store.fetch(SHA1)
    assert fetch.data is None
    assert [a.outcome for a in fetch.attempts] == ["not_found", "invalid"]
    with pytest.raises(NotFoundInStore):
        store.get(SHA1)
    assert cache.blobs == {}
    # A later source with the right bytes serves them, and they are cached.
    store.append_source(Sha1Store(MemoryRaw({f"more/{SHA1}": DATA}), "more/"), cache_result=True)
    assert store.get(SHA1) == DATA
    assert cache.blobs == {f"cache/{SHA1}": DATA}


def test_the_cache_always_verifies_even_a_source_that_does_not(caplog):
    # The source does not verify, so the caller gets its (wrong) bytes, as with the seed;
    # the cache verifies, and refuses to keep them.
    cache = CountingStore(name="cache")
    store = Sha1Composite()
    store.append_cache(Sha1Cache(cache, "cache/"))
    store.append_source(Sha1Store(MemoryRaw({f"blobs/{SHA1}": b"corrupt"}), "blobs/"), True)
    with caplog.at_level(logging.WARNING, logger="bitstore_app"):
        assert store.get(SHA1) == b"corrupt"
    assert cache.blobs == {}
    assert "could not cache" in caplog.text


def test_a_sha1_cache_serves_what_it_holds_unless_its_verify_is_set():
    # The seed's defaults: a cache checks what it is given, not what it serves; `verify` is
    # an attribute the caller may set (the Django app builds its caches with it set).
    raw = MemoryRaw({f"cache/{SHA1}": b"corrupt"})
    cache = Sha1Cache(raw, "cache/")
    assert cache.verify is False
    assert cache.get(SHA1) == b"corrupt"
    with cache.open(SHA1) as stream:
        assert stream.read() == b"corrupt"
    cache.verify = True
    with pytest.raises(InvalidDataFound):
        cache.get(SHA1)
    with cache.open(SHA1) as stream, pytest.raises(InvalidDataFound):
        stream.read()
    assert Sha1Cache(raw, "cache/", verify=True).verify is True


def test_sha1_cache_put_verifies_and_swallows_failures(caplog):
    raw = MemoryRaw()
    cache = Sha1Cache(raw, "cache/")
    with caplog.at_level(logging.WARNING, logger="bitstore_app"):
        cache.put(SHA1, b"corrupt")  # logged, not raised
    assert raw.blobs == {}
    with pytest.raises(InvalidDataFound):
        cache.put_or_raise(SHA1, b"corrupt")
    broken = Sha1Cache(FailingWrites(OSError("disk full")), "cache/")
    with caplog.at_level(logging.WARNING, logger="bitstore_app"):
        broken.put(SHA1, DATA)
    assert "disk full" in caplog.text
    cache.put(SHA1, DATA)
    assert raw.blobs == {f"cache/{SHA1}": DATA}


def test_a_sha1_composite_verifies_what_it_is_asked_to_put():
    raw = MemoryRaw()
    store = Sha1Composite()
    store.append_source(Sha1Store(raw, "blobs/"), accepts_puts=True)
    with pytest.raises(InvalidDataFound):
        store.put(SHA1, b"corrupt")
    store.put(f"sha1://{SHA1.upper()}", DATA)
    assert raw.blobs == {f"blobs/{SHA1}": DATA}


def test_open_verifies_a_whole_read_at_its_end():
    raw = MemoryRaw({f"blobs/{SHA1}": b"corrupt", f"blobs/{OTHER}": b"another blob"})
    store = Sha1Store(raw, "blobs/", verify=True)
    with store.open(OTHER) as file:
        assert file.read() == b"another blob"
    with store.open(SHA1) as file, pytest.raises(InvalidDataFound):
        file.read()
    # A slice cannot be verified, so it is served as it is.
    with store.open(SHA1, 0, 3) as file:
        assert file.read() == b"cor"


# API sources


def test_an_api_source_is_asked_for_the_lower_case_sha1():
    api = DictAPI({SHA1: DATA})
    assert api.get(SHA1.upper()) == DATA
    assert api.asked == [SHA1]


def test_an_api_returning_none_is_not_found():
    with pytest.raises(NotFoundInStore):
        DictAPI({}).get(SHA1)


def test_an_api_source_with_verify_refuses_wrong_data():
    assert DictAPI({SHA1: b"corrupt"}).get(SHA1) == b"corrupt"
    with pytest.raises(InvalidDataFound):
        DictAPI({SHA1: b"corrupt"}, verify=True).get(SHA1)


def test_an_api_source_after_the_cache_fills_it():
    cache = CountingStore(name="cache")
    api = DictAPI({SHA1: DATA})
    store = composite_over(MemoryRaw())
    store.append_cache(Sha1Cache(cache, "cache/"))
    store.append_store(api)
    assert store.get(f"sha1://{SHA1.upper()}") == DATA
    assert store.get(SHA1) == DATA
    assert api.asked == [SHA1]
    assert cache.blobs == {f"cache/{SHA1}": DATA}
