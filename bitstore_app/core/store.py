"""The `Store` base: a mapping from URIs to bytes that one tier implements."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from typing import Any, BinaryIO, ClassVar

from .exceptions import InvalidURI, NotFoundInStore
from .usage import Usage
from .writer import BlobWriter, put_on_commit


class Store(ABC):
    """A place that holds blobs by URI.

    Subclasses implement `is_valid` and `get`; `put`, `exists` and `open` are optional.
    """

    URI_HINT: str | None = None
    #: A label for traces, logs and the ledger; defaults to a description of the store.
    name: str | None = None

    # How a tier row (a kind, a location, a role, credentials, options) builds this class:
    # each kind says it here, and the composer, the model's help texts, the admin form and
    # the checks read it. A custom class named by its dotted path gets these defaults.
    #: The location a tier of this kind takes, for help texts: "s3://bucket/prefix/".
    LOCATION_HINT: ClassVar[str] = "whatever its class makes of it: a key prefix by default"
    #: Whether the tier's timeouts and retries are passed as the options of the same names.
    TIER_TIMEOUTS: ClassVar[bool] = False

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        """Return the positional arguments and the default options that build this class for
        a tier row, from its location, role and resolved credentials; raise `TierConfigError`
        naming the field at fault."""
        return [], ({} if credentials is None else {"credentials": credentials})

    @classmethod
    def key_prefix(cls, location: str) -> str:
        """Return what a tier row's SHA1 keys start with: by default its location."""
        return location

    @abstractmethod
    def is_valid(self, uri: str) -> bool:
        """Return whether the URI is of a form this store accepts."""

    @abstractmethod
    def get(self, uri: str) -> bytes:
        """Return the blob's bytes, or raise `NotFoundInStore` / `StoreNotAvailable`."""

    def put(self, uri: str, data: bytes) -> None:
        """Store the blob; stores that cannot write say so."""
        raise self._cannot_put()

    def _cannot_put(self) -> NotImplementedError:
        return NotImplementedError(f"{type(self).__name__} does not implement the 'put' method")

    def open_writer(self, uri: str) -> BlobWriter:
        """Return a writer for the blob; stores with no streaming write spool it and `put`
        it on commit. A store that cannot write raises `NotImplementedError` here."""
        self.check_uri(uri)
        if not self.can_write():
            raise self._cannot_put()
        return put_on_commit(lambda data: self.put_or_raise(uri, data))

    def can_write(self) -> bool:
        """Return whether the store implements `put` (a read-only tier says no)."""
        return type(self).put is not Store.put

    def bounded(self) -> bool:
        """Return whether the store evicts blobs to stay under a size: a bounded cache, which
        a `put` cannot count on to keep what it was given."""
        return False

    def usage(self) -> Usage | None:
        """Return what the store holds, as a cache level counts it; None when not counted."""
        return None

    def forget(self, uri: str) -> None:
        """Drop any memory that the URI is missing (it was just written somewhere)."""
        return None  # stores that remember misses override this

    def delete(self, uri: str) -> None:
        """Remove the blob (a cache drops an entry that failed its check); a missing blob is
        no error. Stores that cannot delete say so."""
        raise NotImplementedError(f"{type(self).__name__} does not implement the 'delete' method")

    def put_or_raise(self, uri: str, data: bytes) -> None:
        """Store the blob, raising on failure (stores whose `put` swallows errors, such as
        caches, override this)."""
        self.put(uri, data)

    def exists(self, uri: str) -> bool:
        """Return whether the store holds the URI (stores override this with a cheap check)."""
        try:
            self.get(uri)
        except NotFoundInStore:
            return False
        return True

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """Return a readable file of bytes [start, end) of the blob; `size` is the whole length.

        A negative `start` (with no `end`) asks for the last `-start` bytes, in one request
        where the tier can: the caller need not know the size first."""
        data = self.get(uri)
        return BytesReader(data, start, end)

    def check_uri(self, uri: str) -> None:
        """Raise `InvalidURI` unless the URI is of a form this store accepts."""
        if not self.is_valid(uri):
            raise InvalidURI(self, uri, hint=self.URI_HINT)

    _check_valid = check_uri  # the seed library's name

    def describe(self) -> str:
        """Return a short description, used when no name was given."""
        return type(self).__name__

    def __str__(self) -> str:
        if self.name:
            return self.name
        # Described once: every fetch names its tiers in its trace, several times a read.
        description = self.__dict__.get("_description")
        if description is None:
            description = self.__dict__["_description"] = self.describe()
        return description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class BytesReader(io.BytesIO):
    """An in-memory blob, or a slice of one, with the whole blob's `size`."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.size = len(data)
        super().__init__(memoryview(data)[start:end])
