"""The raw-store contract for `MemoryRaw`."""

import pytest

from bitstore_app.core import MemoryRaw
from tests.core.contract import RawStoreContract


class TestMemoryRaw(RawStoreContract):
    invalid_uris = ("", None)
    shared = False  # each process has its own copy

    @pytest.fixture
    def store(self):
        return MemoryRaw()

    @pytest.fixture
    def uri(self):
        return lambda name: f"blobs/{name}"
