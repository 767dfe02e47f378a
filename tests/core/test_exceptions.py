"""Every error survives a pickle round trip with its arguments: errors cross process
boundaries in Celery and multiprocessing."""

import multiprocessing
import pickle

import pytest

import bitstore_app
import bitstore_app.core
from bitstore_app.core import (
    BitstoreError,
    ConfigurationError,
    CredentialsError,
    InvalidDataFound,
    InvalidDataGiven,
    InvalidURI,
    MemoryRaw,
    MissingExtra,
    NoCacheTier,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    NoWritableTier,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
    TierConfigError,
    sha1_of,
)
from bitstore_app.core.breaker import CircuitOpen

ERRORS = [
    BitstoreError("something failed"),
    BitstoreError("something failed", "with", 2, "arguments"),
    StoreNotAvailable("s3://bucket", "connection refused"),
    StoreNotAvailable(MemoryRaw()),
    NotFoundInStore("s3://bucket", "s3://bucket/key"),
    NotFoundWhileUnavailable("Composite", "blobs/k", ("gs://a/", "s3://b/")),
    InvalidDataFound("s3://bucket/", "a" * 40, "b" * 40),
    InvalidDataFound("s3://bucket/", "a" * 40),
    InvalidURI("S3Raw", "ftp://x", "s3://bucket/..."),
    InvalidURI(MemoryRaw(), "", hint="any non-empty key"),
    InvalidURI("S3Raw", "ftp://x"),
    MissingExtra("s3", "boto3", "s3"),
    InvalidDataGiven("Sha1Composite", "a" * 40, "b" * 40),
    NoWritableTier("Sha1Composite", "a" * 40),
    ConfigurationError("BITSTORE['X'] must be a number"),
    TierConfigError("the location must be an absolute folder path", "location"),
    TierConfigError("no field"),
    CredentialsError("credentials 'x' need the environment variable X, which is not set"),
    NoCacheTier("cache warming needs an enabled tier with the cache role"),
    CircuitOpen("s3://bucket/", "circuit open after 5 failures"),
]
ATTRIBUTES = ("store_name", "uri", "reason", "hint", "unavailable", "field")


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_type_message_and_arguments(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert copy._params == error._params
    for name in ATTRIBUTES:
        assert getattr(copy, name, None) == getattr(error, name, None), name


class CustomError(BitstoreError):
    """A project's own error, with the base constructor."""


def test_a_subclass_without_its_own_constructor_pickles():
    copy = pickle.loads(pickle.dumps(CustomError("custom failure", 1)))
    assert type(copy) is CustomError
    assert str(copy) == "custom failure" and copy._params == (1,)


def test_the_hierarchy():
    assert issubclass(InvalidDataFound, NotFoundInStore)
    assert issubclass(NotFoundWhileUnavailable, NotFoundInStore)
    assert issubclass(InvalidURI, ValueError)
    assert issubclass(MissingExtra, ImportError)
    for error in ERRORS:
        assert isinstance(error, BitstoreError)


def test_the_seed_contract_and_the_ways_callers_catch_errors_hold():
    assert issubclass(InvalidDataGiven, InvalidDataFound) and issubclass(
        InvalidDataGiven, ValueError
    )
    assert issubclass(NoWritableTier, NotImplementedError)
    for error in (TierConfigError, CredentialsError, NoCacheTier, MissingExtra):
        assert issubclass(error, ConfigurationError)
    assert issubclass(TierConfigError, ValueError) and issubclass(CredentialsError, ValueError)
    assert issubclass(NoCacheTier, RuntimeError)
    assert issubclass(CircuitOpen, StoreNotAvailable)


def test_every_error_is_exported_from_bitstore_app_and_its_core():
    from bitstore_app import composer, credentials, warming

    for name in bitstore_app.core.exceptions.__all__:
        error = getattr(bitstore_app.core.exceptions, name)
        assert getattr(bitstore_app, name) is error, name
        assert getattr(bitstore_app.core, name) is error, name
        assert name in bitstore_app.__all__ and name in bitstore_app.core.__all__, name
    # The paths they were imported from before keep working.
    assert composer.TierConfigError is TierConfigError
    assert credentials.CredentialsError is CredentialsError
    assert warming.NoCacheTier is NoCacheTier


def test_a_put_with_no_writable_tier_says_the_composite_does_not_implement_put():
    store = Sha1Composite()
    store.append_source(ReadOnly(), cache_result=False)
    data = b"blob"
    with pytest.raises(NotImplementedError) as caught:
        store.put(sha1_of(data), data)
    assert type(caught.value) is NoWritableTier
    assert str(caught.value) == (
        "Sha1Composite does not implement the 'put' method: it has no tier that can write "
        f"'{sha1_of(data)}' (no source accepts puts, and there is no cache level that can "
        "write); mark a durable source tier accepts_puts (in the core, "
        "append_source(store, accepts_puts=True))"
    )


def test_a_put_of_bytes_that_do_not_match_says_so():
    raw, data = MemoryRaw(), b"the bytes"
    wrong = sha1_of(b"other bytes")
    stores = [Sha1Cache(raw, "c/").put_or_raise, Sha1Store(raw, "s/", verify=True).put]
    composite = Sha1Composite()
    composite.append_cache(Sha1Cache(raw, "cache/"))
    for put in [*stores, composite.put]:
        with pytest.raises(InvalidDataGiven) as caught:
            put(wrong, data)
        message = str(caught.value)
        assert "do not match" in message and sha1_of(data) in message, message
        assert "does not contain" not in message and "holds" not in message
    assert raw.blobs == {}


class ReadOnly(Sha1APISource):
    """An API source: it can be read, never written."""

    def api_get(self, sha1):
        return None


def _raise_not_found(uri):
    MemoryRaw().get(uri)


def test_an_error_raised_in_a_worker_process_arrives_whole():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        with pytest.raises(NotFoundInStore) as caught:
            pool.apply(_raise_not_found, ("blobs/missing",))
    assert caught.value.uri == "blobs/missing"
    assert caught.value.store_name == "MemoryRaw"
