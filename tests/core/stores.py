"""Small stores for the composite and SHA1 tests: they count what they are asked, and fail
on demand. They are real stores (MemoryRaw underneath), not mocks of an SDK."""

import time

from bitstore_app.core import MemoryRaw, StoreNotAvailable
from bitstore_app.core.per_process import ProcessLock


class CountingStore(MemoryRaw):
    """A MemoryRaw that counts its gets and puts, and can take `delay` seconds per get."""

    def __init__(self, blobs=None, name=None, delay=0.0):
        super().__init__(blobs)
        self.name = name
        self.delay = delay
        self.gets = 0
        self.puts = 0
        self._count_lock = ProcessLock()

    def get(self, uri):
        with self._count_lock:
            self.gets += 1
        if self.delay:
            time.sleep(self.delay)
        return super().get(uri)

    def put(self, uri, data):
        with self._count_lock:
            self.puts += 1
        super().put(uri, data)


class DownStore(CountingStore):
    """A store whose every call says "not available"."""

    def get(self, uri):
        with self._count_lock:
            self.gets += 1
        raise StoreNotAvailable(self, "down for the test")

    def exists(self, uri):
        raise StoreNotAvailable(self, "down for the test")

    def open(self, uri, start=0, end=None):
        raise StoreNotAvailable(self, "down for the test")

    def put(self, uri, data):
        raise StoreNotAvailable(self, "down for the test")


class PrefixStore(CountingStore):
    """A store that accepts only URIs starting with `prefix`."""

    def __init__(self, prefix, blobs=None, name=None):
        super().__init__(blobs, name=name)
        self.prefix = prefix
        self.URI_HINT = f"{prefix}..."

    def is_valid(self, uri):
        return isinstance(uri, str) and uri.startswith(self.prefix)


class FailingWrites(CountingStore):
    """A store whose reads work and whose writes raise `error`."""

    def __init__(self, error, blobs=None, name=None):
        super().__init__(blobs, name=name)
        self.error = error

    def put(self, uri, data):
        with self._count_lock:
            self.puts += 1
        raise self.error
