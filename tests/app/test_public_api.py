"""The public API: put(data) answers the SHA1, put(sha1, data) checks it, put(file) streams;
size and url; the errors are importable from bitstore_app."""

import io
import typing

import pytest
from django.test import Client

import bitstore_app
from bitstore_app import core
from tests.web.conftest import FolderTier, blob_of

pytestmark = pytest.mark.django_db

DATA = b"a blob stored through the public API"


@pytest.fixture
def cache(tmp_path):
    return FolderTier(tmp_path / "cache", name="cache", role="cache")


def test_put_answers_the_sha1_in_both_forms(cache):
    sha1 = blob_of(DATA)
    assert bitstore_app.put(DATA) == sha1
    assert bitstore_app.put(sha1, DATA) == sha1
    assert bitstore_app.put(f"sha1://{sha1.upper()}", DATA) == sha1
    assert (cache.root / sha1).read_bytes() == DATA
    with pytest.raises(bitstore_app.InvalidDataGiven):
        bitstore_app.put(blob_of(b"other"), DATA)
    assert not (cache.root / blob_of(b"other")).exists()


def test_put_streams_a_file(cache):
    data = bytes(range(256)) * 10_000
    assert bitstore_app.put(io.BytesIO(data)) == blob_of(data)
    assert bitstore_app.get(blob_of(data)) == data


def test_put_refuses_what_it_cannot_store(cache):
    with pytest.raises(TypeError, match="bytes or a binary file"):
        bitstore_app.put("text, not bytes")
    with pytest.raises(TypeError, match="SHA1 as a str"):
        bitstore_app.put(DATA, DATA)


def test_size_and_url(cache):
    sha1 = bitstore_app.put(DATA)
    assert bitstore_app.size(sha1) == len(DATA)
    with pytest.raises(bitstore_app.NotFoundInStore):
        bitstore_app.size(blob_of(b"absent"))
    url = bitstore_app.url(sha1, expires_in=60, download="api.txt")
    response = Client().get(url)  # no session, no token: the signature is the permission
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == DATA
    with pytest.raises(ValueError, match="expires_in"):
        bitstore_app.url(sha1, expires_in=10**9)


def test_the_errors_are_the_cores():
    for name in (
        "BitstoreError",
        "InvalidDataFound",
        "InvalidDataGiven",
        "NoWritableTier",
        "InvalidURI",
        "MissingExtra",
        "NotFoundInStore",
        "NotFoundWhileUnavailable",
        "StoreNotAvailable",
    ):
        assert getattr(bitstore_app, name) is getattr(core, name)
        assert name in bitstore_app.__all__


def test_errors_is_typed_as_a_literal():
    assert typing.get_args(bitstore_app.Errors) == ("raise", "return")
    hints = typing.get_type_hints(bitstore_app.aget_many)
    assert hints["errors"] == bitstore_app.Errors
