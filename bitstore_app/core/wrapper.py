"""A store in front of another tier, answering to that tier's name; the tier boundary.

Whatever a tier raises that is not a bitstore error (a plugin's KeyError, an SDK's
TypeError, a dropped connection mid-body) leaves the wrapper as `StoreNotAvailable` naming
the tier, with the cause chained and its traceback logged (once in a while, see
`fault_log`). "Not found" and "invalid data" pass as they are; so does `NotImplementedError`,
a read-only tier's answer to `put`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from .exceptions import BitstoreError, StoreNotAvailable
from .fault_log import FaultLog
from .store import Store
from .usage import Usage
from .writer import BlobWriter, WrappedWriter

T = TypeVar("T")

logger = logging.getLogger(__name__)
fault_log = FaultLog(logger)


def translated(store: object, call: Callable[[], T]) -> T:
    """Return `call()`; raise anything but a bitstore error as `StoreNotAvailable`."""
    try:
        return call()
    except (BitstoreError, NotImplementedError):
        raise
    except Exception as exc:
        raise _fault(store, exc) from exc


def _fault(store: object, exc: Exception) -> StoreNotAvailable:
    fault_log.report(store, exc)
    return StoreNotAvailable(store, f"{type(exc).__name__}: {str(exc)[:200]}")


class StoreWrapper(Store):
    """Pass every call to `inner` through `around(call)`; subclasses override `around` (and
    the calls they treat specially). Attributes the wrapper lacks are read from the tier."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def around(self, call: Callable[[], T]) -> T:
        """Run one call to the tier; the default runs it as it is."""
        return call()

    @property
    def name(self) -> str | None:  # type: ignore[override]
        return self.inner.name

    @name.setter
    def name(self, value: str | None) -> None:
        self.inner.name = value

    @property
    def URI_HINT(self) -> str | None:  # type: ignore[override]  # noqa: N802
        return self.inner.URI_HINT

    def describe(self) -> str:
        return self.inner.describe()

    def is_valid(self, uri: str) -> bool:
        return self.inner.is_valid(uri)

    def _call(self, call: Callable[[], T]) -> T:
        return self.around(lambda: translated(self, call))

    def get(self, uri: str) -> bytes:
        return self._call(lambda: self.inner.get(uri))

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return TranslatedReader(self._call(lambda: self.inner.open(uri, start, end)), self)

    def exists(self, uri: str) -> bool:
        return self._call(lambda: self.inner.exists(uri))

    def put(self, uri: str, data: bytes) -> None:
        self._call(lambda: self.inner.put(uri, data))

    def put_or_raise(self, uri: str, data: bytes) -> None:
        self._call(lambda: self.inner.put_or_raise(uri, data))

    def delete(self, uri: str) -> None:
        self.around(lambda: self.inner.delete(uri))

    def open_writer(self, uri: str) -> BlobWriter:
        """Open the tier's writer; its commit runs through `around` and then `forget`s."""
        inner = self._call(lambda: self.inner.open_writer(uri))
        return WrappedWriter(inner, around=self._call, after_commit=lambda: self.forget(uri))

    def forget(self, uri: str) -> None:
        self.inner.forget(uri)

    def can_write(self) -> bool:
        return self.inner.can_write()

    def bounded(self) -> bool:
        return self.inner.bounded()

    def usage(self) -> Usage | None:
        return self.inner.usage()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class TranslatedReader(io.RawIOBase):
    """A tier's stream whose read errors leave it as bitstore errors naming the tier."""

    def __init__(self, inner: BinaryIO, store: object) -> None:
        self.size = inner.size
        self._inner = inner
        self._store = store

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        return translated(self._store, lambda: self._readinto(target))

    def _readinto(self, target) -> int:
        if hasattr(self._inner, "readinto"):
            return self._inner.readinto(target)
        data = self._inner.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                super().close()
