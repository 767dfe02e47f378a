"""bitstore: a tiered, content-addressed blob store for Django.

The public API, for views and tasks: `get`, `get_many`, `exists`, `missing`, `put`, `open`, `size`,
`url`, their async twins (`aget`, `aget_many`, `aexists`, `aput`, `aopen`), and the errors
they raise (all `BitstoreError`s). Importing this package touches neither models nor
settings; each call loads the service on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Literal, overload

from .core import exceptions as _errors
from .core.exceptions import *  # noqa: F403 - the errors, as named in core/exceptions.py

if TYPE_CHECKING:
    from .aio import AsyncBlobFile

#: What `get_many` does with a blob it cannot fetch: raise at once, or yield the exception.
Errors = Literal["raise", "return"]


def get(sha1: str) -> bytes:
    """Return the blob's bytes from the first tier that has it."""
    from . import services

    return services.get(sha1)


@overload
def get_many(
    hashes: Iterable[str], workers: int | None = None, errors: Literal["raise"] = "raise"
) -> Iterator[bytes]: ...
@overload
def get_many(
    hashes: Iterable[str], workers: int | None = None, *, errors: Literal["return"]
) -> Iterator[bytes | _errors.BitstoreError]: ...
def get_many(
    hashes: Iterable[str], workers: int | None = None, errors: Errors = "raise"
) -> Iterator[bytes | _errors.BitstoreError]:
    """Yield the blobs of `hashes` in order, fetched in parallel; with `errors="return"` a
    failure is yielded in place of its blob."""
    from . import services

    return services.get_many(hashes, workers=workers, errors=errors)


def exists(sha1: str) -> bool:
    """Return whether any tier holds the blob."""
    from . import services

    return services.exists(sha1)


def missing(hashes: Iterable[str], include_paid: bool = False) -> list[str]:
    """Return the SHA1s of `hashes` that no tier holds; see `services.missing`."""
    from . import services

    return services.missing(hashes, include_paid=include_paid)


@overload
def put(data: bytes | BinaryIO, /) -> str: ...
@overload
def put(sha1: str, data: bytes | BinaryIO, /) -> str: ...
def put(first: str | bytes | BinaryIO, data: bytes | BinaryIO | None = None, /) -> str:
    """Store a blob and return its SHA1: `put(data)`, or `put(sha1, data)` to check it.

    `data` is bytes or a binary file, which is streamed (memory stays bounded at any size).
    The blob goes into the tiers that accept puts (durable: never evicted) and the top cache
    level; without such a tier, into the cache level when it is the only one and unbounded,
    else `NoWritableTier` says so.
    """
    from . import uploads

    if data is None:
        sha1, data = None, first
    elif isinstance(first, str):
        sha1 = first
    else:
        raise TypeError("put(sha1, data) takes the SHA1 as a str; or call put(data)")
    if isinstance(data, bytes | bytearray | memoryview):
        chunks: Iterable[bytes] = [bytes(data)]
    elif hasattr(data, "read"):
        chunks = uploads.chunks_of(data)
    else:
        raise TypeError(f"put() stores bytes or a binary file, not {type(data).__name__}")
    return uploads.store(chunks, sha1, max_size=0, skip_existing=False).sha1


def open(sha1: str, start: int = 0, end: int | None = None) -> BinaryIO:  # noqa: A001
    """Return a file object that streams the blob without holding it in memory."""
    from . import services

    return services.open_recorded(sha1, start, end)


def size(sha1: str) -> int:
    """Return the blob's size in bytes without downloading it."""
    from . import services

    return services.size(sha1)


def url(sha1: str, expires_in: float | None = None, download: str = "") -> str:
    """Return the path of a signed URL that serves the blob to anyone for `expires_in`
    seconds (by default, and at most, `SIGNED_URL_MAX_AGE`)."""
    from .web.signed_urls import signed_blob_url

    return signed_blob_url(sha1, expires_in=expires_in, download=download)


async def aget(sha1: str) -> bytes:
    """Return the blob's bytes, without blocking the event loop."""
    from .aio import in_thread

    return await in_thread(get)(sha1)


async def aexists(sha1: str) -> bool:
    """Return whether any tier holds the blob, without blocking the event loop."""
    from .aio import in_thread

    return await in_thread(exists)(sha1)


async def aput(first: str | bytes | BinaryIO, data: bytes | BinaryIO | None = None, /) -> str:
    """Store a blob and return its SHA1 (as `put`), without blocking the event loop."""
    from .aio import in_thread

    return await in_thread(put)(first, data)


async def aopen(sha1: str, start: int = 0, end: int | None = None) -> AsyncBlobFile:
    """Return an async file (`await f.read(n)`, `async for chunk in f`) streaming the blob."""
    from .aio import AsyncBlobFile, in_thread

    return AsyncBlobFile(await in_thread(open)(sha1, start, end))


def aget_many(
    hashes: Iterable[str], workers: int | None = None, errors: Errors = "raise"
) -> AsyncIterator[bytes | _errors.BitstoreError]:
    """Yield the blobs in order (`async for data in aget_many(hashes)`), as `get_many`."""
    from .aio import iterate_in_thread

    return iterate_in_thread(lambda: get_many(hashes, workers, errors))


__all__ = [
    *_errors.__all__,
    "Errors",
    "aexists",
    "aget",
    "aget_many",
    "aopen",
    "aput",
    "exists",
    "get",
    "get_many",
    "missing",
    "open",
    "put",
    "size",
    "url",
]
