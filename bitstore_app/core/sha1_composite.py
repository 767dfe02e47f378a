"""The composite for SHA1-keyed tiers."""

from __future__ import annotations

from .composite import Composite
from .exceptions import InvalidDataGiven
from .sha1 import SHA1_HINT, parse_sha1, verify_sha1


class Sha1Composite(Composite):
    """A composite keyed by SHA1: accepts `<sha1>` or `sha1://<sha1>` in any case, asks its
    tiers for the lower-case SHA1, and verifies what it is asked to `put`."""

    URI_HINT = SHA1_HINT

    def is_valid(self, uri: str) -> bool:
        try:
            parse_sha1(uri)
        except ValueError:
            return False
        return True

    def normalize(self, uri: str) -> str:
        return parse_sha1(uri, self)

    def put(self, uri: str, data: bytes) -> None:
        sha1 = self.normalize(uri)
        verify_sha1(data, sha1, self, InvalidDataGiven)
        super().put(sha1, data)
