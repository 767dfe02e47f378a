"""SHA1 keys: parsing, verification, and the stores that speak SHA1."""

from __future__ import annotations

import hashlib
import logging
import re
from abc import abstractmethod
from typing import BinaryIO

from .exceptions import InvalidDataFound, InvalidDataGiven, InvalidURI, NotFoundInStore
from .reader import VerifyingReader
from .store import Store
from .usage import Usage
from .writer import BlobWriter, Sha1Writer

__all__ = [
    "SHA1_HINT",
    "parse_sha1",
    "is_sha1",
    "sha1_of",
    "verify_sha1",
    "Sha1FormatMixin",
    "Sha1Store",
    "Sha1Cache",
    "Sha1APISource",
]

logger = logging.getLogger(__name__)

SHA1_HINT = "<sha1> or sha1://<sha1>"
_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
_SHA1_URI = re.compile(r"(?:sha1://)?([0-9a-fA-F]{40})")


def is_sha1(text: object) -> bool:
    """Return whether `text` is a SHA1 in hex (any case) or a `sha1://` URI of one."""
    return isinstance(text, str) and _SHA1_URI.fullmatch(text) is not None


def parse_sha1(text: object, store: object = "bitstore") -> str:
    """Return the SHA1 in `text` (`<sha1>` or `sha1://<sha1>`, any case) in lower case."""
    match = _SHA1_URI.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidURI(store, text, hint=SHA1_HINT)
    return match.group(1).lower()


def sha1_of(data: bytes) -> str:
    """Return the hex SHA1 of the bytes."""
    return hashlib.sha1(data).hexdigest()


def verify_sha1(
    data: bytes, sha1: str, store: object, error: type[InvalidDataFound] = InvalidDataFound
) -> bytes:
    """Return the data if its SHA1 is `sha1`, else raise `error` (`InvalidDataGiven` for the
    bytes of a put)."""
    actual = sha1_of(data)
    if actual != sha1.lower():
        logger.warning("%s: data for %s has SHA1 %s", store, sha1, actual)
        raise error(store, sha1, actual)
    return data


class Sha1FormatMixin:
    """Accept exactly a 40-digit hex SHA1, any case."""

    URI_HINT = "<sha1>"

    def is_valid(self, uri: str) -> bool:
        return isinstance(uri, str) and _SHA1.fullmatch(uri) is not None


class Sha1Store(Sha1FormatMixin, Store):
    """Blobs keyed by SHA1 in a raw store, at `prefix + sha1`."""

    def __init__(self, base_store: Store, prefix: str, verify: bool = False) -> None:
        self.base_store = base_store
        self.prefix = prefix
        self.verify = verify

    def describe(self) -> str:
        return f"{self.prefix}" if "://" in self.prefix else f"{self.base_store}/{self.prefix}"

    def uri_of(self, sha1: str) -> str:
        return f"{self.prefix}{sha1.lower()}"

    def get(self, sha1: str) -> bytes:
        self.check_uri(sha1)
        try:
            data = self.base_store.get(self.uri_of(sha1))
        except InvalidDataFound:
            raise
        except NotFoundInStore as exc:
            raise NotFoundInStore(self, sha1) from exc
        return verify_sha1(data, sha1, self) if self.verify else data

    def open(self, sha1: str, start: int = 0, end: int | None = None) -> BinaryIO:
        self.check_uri(sha1)
        try:
            reader = self.base_store.open(self.uri_of(sha1), start, end)
        except NotFoundInStore as exc:
            raise NotFoundInStore(self, sha1) from exc
        whole = start == 0 and (end is None or end >= reader.size)
        if self.verify and whole:
            return VerifyingReader(reader, sha1.lower(), str(self))
        return reader

    def exists(self, sha1: str) -> bool:
        self.check_uri(sha1)
        return self.base_store.exists(self.uri_of(sha1))

    def put(self, sha1: str, data: bytes) -> None:
        self.check_uri(sha1)
        if self.verify:
            verify_sha1(data, sha1, self, InvalidDataGiven)
        self.base_store.put(self.uri_of(sha1), data)

    def delete(self, sha1: str) -> None:
        self.check_uri(sha1)
        self.base_store.delete(self.uri_of(sha1))

    def can_write(self) -> bool:
        return self.base_store.can_write()

    def bounded(self) -> bool:
        return self.base_store.bounded()

    def usage(self) -> Usage | None:
        return self.base_store.usage()

    def open_writer(self, sha1: str) -> BlobWriter:
        """Return a writer that checks, before committing, that what it got has this SHA1."""
        self.check_uri(sha1)
        return Sha1Writer(self.base_store.open_writer(self.uri_of(sha1)), sha1, self)


class Sha1Cache(Sha1Store):
    """A `Sha1Store` for caching: it always verifies what it is given, and its `put` logs and
    swallows failures, so that a failing cache never fails a read."""

    def put(self, sha1: str, data: bytes) -> None:
        try:
            self.put_or_raise(sha1, data)
        except Exception as exc:
            logger.warning("%s: not caching %s: %s", self, sha1, exc)

    def put_or_raise(self, sha1: str, data: bytes) -> None:
        """Store the blob after verifying it, raising on failure."""
        self.check_uri(sha1)
        verify_sha1(data, sha1, self, InvalidDataGiven)
        self.base_store.put(self.uri_of(sha1), data)


class Sha1APISource(Sha1FormatMixin, Store):
    """A source behind an API: subclasses implement `api_get(sha1)`, returning None when the
    API does not have the blob."""

    def __init__(self, verify: bool = False) -> None:
        self.verify = verify

    def get(self, sha1: str) -> bytes:
        self.check_uri(sha1)
        data = self.api_get(sha1.lower())
        if data is None:
            raise NotFoundInStore(self, sha1)
        return verify_sha1(data, sha1, self) if self.verify else data

    @abstractmethod
    def api_get(self, sha1: str) -> bytes | None:
        """Return the blob's bytes, or None when the API does not have it."""
