"""bitstore: a tiered, content-addressed blob store for Django.

The public API, for views and tasks: `get`, `get_many`, `exists`, `missing`, `put`, `open`,
and the errors they raise (all `BitstoreError`s). Importing this package touches neither
models nor settings; each call loads the service on first use.
"""

from __future__ import annotations

from typing import Any

from .core import exceptions as _errors
from .core.exceptions import *  # noqa: F403 - the errors, as named in core/exceptions.py


def get(sha1: str) -> bytes:
    """Return the blob's bytes from the first tier that has it."""
    from . import services

    return services.get(sha1)


def get_many(hashes: Any, workers: int | None = None, errors: str = "raise") -> Any:
    """Yield the blobs of `hashes` in order; see `services.get_many`."""
    from . import services

    return services.get_many(hashes, workers=workers, errors=errors)


def exists(sha1: str) -> bool:
    """Return whether any tier holds the blob."""
    from . import services

    return services.exists(sha1)


def missing(hashes: Any, include_paid: bool = False) -> list[str]:
    """Return the SHA1s of `hashes` that no tier holds; see `services.missing`."""
    from . import services

    return services.missing(hashes, include_paid=include_paid)


def put(sha1: str, data: bytes) -> None:
    """Verify the blob and write it into the cache tier (or the first writable tier)."""
    from . import services

    services.put(sha1, data)


def open(sha1: str, start: int = 0, end: int | None = None) -> Any:  # noqa: A001
    """Return a file object that streams the blob without holding it in memory."""
    from . import services

    return services.open_recorded(sha1, start, end)


__all__ = [*_errors.__all__, "exists", "get", "get_many", "missing", "open", "put"]
