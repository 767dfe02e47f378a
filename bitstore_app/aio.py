"""The async twins' plumbing: the sync API run in a thread, as Django's cache does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, BinaryIO, TypeVar

from asgiref.sync import sync_to_async

T = TypeVar("T")
_END = object()


def in_thread(function: Callable[..., T]) -> Callable[..., Any]:
    """Return an awaitable version of `function`, run in Django's thread for sync code (so
    the database connection it may open is the one Django manages)."""
    return sync_to_async(function, thread_sensitive=True)


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield the items of the iterator `make()` returns, each fetched in a thread."""
    iterator = await in_thread(make)()
    step = sync_to_async(next, thread_sensitive=False)
    while (item := await step(iterator, _END)) is not _END:
        yield item


class AsyncBlobFile:
    """A blob's stream for async code: `await read(n)`, `async for chunk`, `async with`."""

    #: Bytes `async for` hands over at a time.
    CHUNK_SIZE = 1024 * 1024

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size: int = stream.size

    async def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all that is left with -1) in a worker thread."""
        return await sync_to_async(self.stream.read, thread_sensitive=False)(size)

    async def close(self) -> None:
        """Close the stream (a recorded read reaches the ledger now)."""
        await sync_to_async(self.stream.close, thread_sensitive=True)()

    async def __aenter__(self) -> AsyncBlobFile:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.read(self.CHUNK_SIZE):
            yield chunk
