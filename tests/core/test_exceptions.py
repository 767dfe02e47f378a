"""Every error survives a pickle round trip with its arguments: errors cross process
boundaries in Celery and multiprocessing."""

import multiprocessing
import pickle

import pytest

from bitstore_app.core import (
    BitstoreError,
    InvalidDataFound,
    InvalidURI,
    MemoryRaw,
    MissingExtra,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    StoreNotAvailable,
)

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
]
ATTRIBUTES = ("store_name", "uri", "reason", "hint", "unavailable")


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


def _raise_not_found(uri):
    MemoryRaw().get(uri)


def test_an_error_raised_in_a_worker_process_arrives_whole():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        with pytest.raises(NotFoundInStore) as caught:
            pool.apply(_raise_not_found, ("blobs/missing",))
    assert caught.value.uri == "blobs/missing"
    assert caught.value.store_name == "MemoryRaw"
