"""A tier class with a bug, configured by dotted path: every call raises KeyError."""

from __future__ import annotations

from bitstore_app.core import Sha1APISource


class BuggySource(Sha1APISource):
    """Raise KeyError as a plugin with a bug would (a missing key in its own data)."""

    def api_get(self, sha1: str) -> bytes | None:
        return {}[sha1]

    def exists(self, sha1: str) -> bool:
        return {}[sha1]
