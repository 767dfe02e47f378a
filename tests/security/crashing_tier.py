"""A tier class, configured by dotted path, whose constructor crashes after it was handed
its resolved credentials: a plugin with a bug, the failure the debug page would show."""

from __future__ import annotations

from bitstore_app.core import Sha1APISource


class CrashingSource(Sha1APISource):
    """Crash in the constructor, holding the credentials in a local variable."""

    def __init__(self, *, credentials: dict | None = None) -> None:
        login = dict(credentials or {})
        raise RuntimeError(f"plugin crashed while logging in with {len(login)} values")

    def api_get(self, sha1: str) -> bytes | None:
        return None
