"""A tier bitstore never writes: a cache level another system fills, say."""

from __future__ import annotations

from .store import Store
from .wrapper import StoreWrapper
from .writer import BlobWriter


class ReadOnlyStore(StoreWrapper):
    """Read a tier as it is; refuse every write and delete (`NotImplementedError`, as a tier
    that cannot write says). A composite reads such a cache level and promotes from it,
    and never fills it."""

    def can_write(self) -> bool:
        return False

    def _refuse(self, action: str) -> NotImplementedError:
        return NotImplementedError(f"{self} is read-only: bitstore does not {action} it")

    def put(self, uri: str, data: bytes) -> None:
        raise self._refuse("write")

    def put_or_raise(self, uri: str, data: bytes) -> None:
        raise self._refuse("write")

    def open_writer(self, uri: str) -> BlobWriter:
        raise self._refuse("write")

    def delete(self, uri: str) -> None:
        raise self._refuse("delete from")


def read_only(store: Store) -> Store:
    """Return the tier behind a refusal of every write."""
    return ReadOnlyStore(store)
