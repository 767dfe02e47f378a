"""A tier kind that exists only for the tests: everything a kind needs, in one file.

Registered as `demo` by the tests (a line in `bitstore_app.core.tiers.KINDS`); its location is
`demo://<bucket>/<prefix>`, it takes the tier's timeouts, and its credentials are a token.
"""

from __future__ import annotations

from typing import Any

from bitstore_app.core import MemoryRaw, TierConfigError

#: The blobs of every demo bucket in this process, so that the tests can look inside.
BUCKETS: dict[str, dict[str, bytes]] = {}


class DemoRaw(MemoryRaw):
    """Blobs in a named in-memory bucket."""

    LOCATION_HINT = "demo://bucket/prefix/"
    TIER_TIMEOUTS = True

    def __init__(
        self,
        bucket: str,
        *,
        token: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        retries: int = 2,
    ) -> None:
        super().__init__()
        self.blobs = BUCKETS.setdefault(bucket, {})
        self.bucket, self.token = bucket, token
        self.timeouts = (connect_timeout, read_timeout, retries)

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        bucket, _, prefix = location.removeprefix("demo://").partition("/")
        if not location.startswith("demo://") or not bucket or not prefix.endswith("/"):
            raise TierConfigError("the location must look like demo://bucket/prefix/", "location")
        return [bucket], {} if credentials is None else {"token": credentials.get("token")}

    @classmethod
    def key_prefix(cls, location: str) -> str:
        return location.removeprefix("demo://").partition("/")[2]
