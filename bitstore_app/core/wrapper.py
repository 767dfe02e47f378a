"""A store in front of another tier, answering to that tier's name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from .store import Store
from .writer import BlobWriter, WrappedWriter

T = TypeVar("T")


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

    def get(self, uri: str) -> bytes:
        return self.around(lambda: self.inner.get(uri))

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return self.around(lambda: self.inner.open(uri, start, end))

    def exists(self, uri: str) -> bool:
        return self.around(lambda: self.inner.exists(uri))

    def put(self, uri: str, data: bytes) -> None:
        self.around(lambda: self.inner.put(uri, data))

    def put_or_raise(self, uri: str, data: bytes) -> None:
        self.around(lambda: self.inner.put_or_raise(uri, data))

    def open_writer(self, uri: str) -> BlobWriter:
        """Open the tier's writer; its commit runs through `around` and then `forget`s."""
        inner = self.around(lambda: self.inner.open_writer(uri))
        return WrappedWriter(inner, around=self.around, after_commit=lambda: self.forget(uri))

    def forget(self, uri: str) -> None:
        self.inner.forget(uri)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
