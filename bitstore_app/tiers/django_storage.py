"""A tier over any Django `Storage`, so every django-storages backend becomes a tier."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from bitstore_app.core.exceptions import (
    InvalidURI,
    NotFoundInStore,
    StoreNotAvailable,
    TierConfigError,
)
from bitstore_app.core.per_process import PerProcess
from bitstore_app.core.store import Store
from bitstore_app.core.tiers.filesystem import RELATIVE_KEY_HINT, relative_parts


class DjangoStorageRaw(Store):
    """Blobs in a Django storage, keyed by relative names such as `blobs/<sha1>`.

    `storage` is a `Storage` instance, or the alias of one in `settings.STORAGES`. An alias is
    looked up on first use in each process, and the store pickles as the alias. An instance
    pickles as the arguments it was built with (Django storages are deconstructible, as
    migrations need), and the copy builds its own storage from them on first use.

    `put` never overwrites: blobs are content-addressed, so a name that exists already holds
    the same bytes. Missing files are "not found"; any other failure of the storage is
    "not available", with the storage's error as the cause.
    """

    URI_HINT = RELATIVE_KEY_HINT
    LOCATION_HINT = "a STORAGES alias"

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        from django.conf import settings

        if location not in settings.STORAGES:
            known = ", ".join(sorted(settings.STORAGES))
            raise TierConfigError(
                f"the location must be a storage alias from STORAGES ({known}), not '{location}'",
                "location",
            )
        return [location], {}

    @classmethod
    def key_prefix(cls, location: str) -> str:
        return ""  # the location names the storage, keys are relative to its root

    def __init__(self, storage: Storage | str) -> None:
        if isinstance(storage, str):
            self.alias: str | None = storage
            self._given: Storage | None = None
        elif isinstance(storage, Storage):
            self.alias, self._given = None, storage
        else:
            raise TypeError(f"storage must be a Storage or an alias, not {type(storage).__name__}")
        #: The storage built from the alias, or from the arguments of a pickled instance.
        self._built: PerProcess[Storage] = PerProcess()
        self._deconstructed: tuple | None = None

    def describe(self) -> str:
        if self.alias is not None:
            return f"django:{self.alias}"
        if self._given is None:
            return f"django:{self._deconstructed[0].rpartition('.')[2]}"
        return f"django:{type(self._given).__name__}"

    @property
    def storage(self) -> Storage:
        """Return the Django storage, building it on first use (an alias: in each process)."""
        if self._given is not None:
            return self._given
        return self._built.get(self._build)

    def _build(self) -> Storage:
        try:
            if self.alias is not None:
                return storages[self.alias]
            path, args, kwargs = self._deconstructed
            return import_string(path)(*args, **kwargs)
        except Exception as exc:  # an unknown alias or a backend that cannot be built
            raise StoreNotAvailable(self, f"cannot build the storage: {exc}") from exc

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        storage = state["_given"]
        if storage is not None and hasattr(storage, "deconstruct"):
            state["_given"], state["_deconstructed"] = None, storage.deconstruct()
        return state

    def is_valid(self, uri: str) -> bool:
        return relative_parts(uri) is not None

    @contextmanager
    def translating(self, uri: str) -> Iterator[None]:
        """Turn the storage's errors into "not found" and "not available"."""
        try:
            yield
        except (NotFoundInStore, StoreNotAvailable, InvalidURI):
            raise
        except FileNotFoundError:
            raise NotFoundInStore(self, uri) from None
        except Exception as exc:  # any backend error: the tier could not be asked
            raise StoreNotAvailable(self, f"{uri}: {type(exc).__name__}: {exc}") from exc

    def get(self, uri: str) -> bytes:
        with self.open(uri) as file:
            return file.read()

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        self.check_uri(uri)
        with self.translating(uri):
            file = self.storage.open(uri, "rb")
            try:
                return _StorageSlice(self, uri, file, start, end)
            except BaseException:
                file.close()
                raise

    def exists(self, uri: str) -> bool:
        self.check_uri(uri)
        with self.translating(uri):
            return self.storage.exists(uri)

    def put(self, uri: str, data: bytes) -> None:
        self.check_uri(uri)
        with self.translating(uri):
            storage = self.storage
            if storage.exists(uri):
                return  # content-addressed: what is there already is these bytes
            # `save` never overwrites: when another writer took the name first, it saves
            # under a new name, which is a copy nobody will read.
            saved = storage.save(uri, ContentFile(data))
            if saved != uri:
                storage.delete(saved)
                if not storage.exists(uri):
                    raise StoreNotAvailable(self, f"the storage saved {uri} as {saved}")


class _StorageSlice(io.RawIOBase):
    """Bytes [start, end) of an open Django `File`, with the whole file's `size`."""

    def __init__(self, store: DjangoStorageRaw, uri: str, file: Any, start: int, end: int | None):
        self.size = file.size
        self._store, self._uri, self._file = store, uri, file
        stop = self.size if end is None else min(end, self.size)
        self._remaining = max(stop - start, 0)
        if start and self._remaining:
            file.seek(start)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        if not size:
            return b""
        with self._store.translating(self._uri):
            data = self._file.read(size)
        self._remaining -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
