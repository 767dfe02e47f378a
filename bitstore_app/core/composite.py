"""Ordered tiers: read from the first that has a blob, write back into the cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, BinaryIO

from . import trace
from .exceptions import (
    InvalidDataFound,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    StoreNotAvailable,
)
from .parallel import map_in_order
from .reader import TracedReader
from .singleflight import SingleFlight
from .store import Store

logger = logging.getLogger(__name__)


class Composite(Store):
    """Sources tried in order; blobs served by sources appended with `cache_result=True` are
    written into the cache."""

    def __init__(self) -> None:
        self.sources: list[Store] = []
        #: The sources whose blobs are written into the cache. Kept as the stores themselves,
        #: not their ids, so that the choice survives pickling.
        self.cache_back: list[Store] = []
        self.cache: Store | None = None
        self._flights = SingleFlight()

    def describe(self) -> str:
        return type(self).__name__

    def append_source(self, source: Store, cache_result: bool = False) -> None:
        """Try `source` after the ones appended before; with `cache_result`, what it serves is
        written into the cache."""
        self.sources.append(source)
        if cache_result:
            self.cache_back.append(source)

    def append_store(self, store: Store, cache_result: bool = True) -> None:
        """Append a source whose blobs land in the cache (the seed README's spelling)."""
        self.append_source(store, cache_result=cache_result)

    def append_cache(self, cache: Store, read: bool = True) -> None:
        """Make `cache` the one cache; with `read`, it is also read at this position."""
        if self.cache is not None:
            logger.warning("replacing the cache %s with %s", self.cache, cache)
            self.sources = [source for source in self.sources if source is not self.cache]
        if read:
            self.sources.append(cache)
        self.cache = cache

    def is_valid(self, uri: str) -> bool:
        return any(store.is_valid(uri) for store in self.sources)

    def normalize(self, uri: str) -> str:
        """Return the key the tiers are asked for, after checking the URI."""
        self.check_uri(uri)
        return uri

    def get(self, uri: str) -> bytes:
        """Return the blob from the first source that has it."""
        result = self.fetch(uri)
        if result.error is not None:
            raise result.error
        return result.data

    def fetch(self, uri: str) -> trace.Fetch:
        """Ask the sources in order and return what happened; concurrent fetches of one key
        share one pass over the tiers."""
        key = self.normalize(uri)
        return self._flights.do(key, lambda: self._fetch(key))

    def _fetch(self, key: str) -> trace.Fetch:
        result = trace.Fetch(uri=key)
        started = time.perf_counter()
        for store in self.sources:
            if not store.is_valid(key):
                continue
            data = self._ask(store, key, result)
            if data is not None:
                result.data, result.served_by = data, str(store)
                if self.cache is not None and any(store is s for s in self.cache_back):
                    result.cache_written = store is not self.cache and self.write_back(key, data)
                break
        result.seconds = time.perf_counter() - started
        if result.data is None:
            result.error = self._miss_error(key, result)
        return result

    def _ask(
        self, store: Store, key: str, result: trace.Fetch, read: Callable | None = None
    ) -> Any:
        """Return `read(key)` (by default `store.get`), or None, and add the attempt to the
        trace."""
        started = time.perf_counter()
        outcome, detail, data = trace.HIT, "", None
        try:
            data = (read or store.get)(key)
        except InvalidDataFound as exc:
            outcome, detail = trace.INVALID, str(exc)
        except NotFoundInStore:
            outcome = trace.NOT_FOUND
        except StoreNotAvailable as exc:
            outcome, detail = trace.UNAVAILABLE, str(exc)
        elapsed = time.perf_counter() - started
        result.attempts.append(trace.Attempt(str(store), outcome, elapsed, detail))
        return data

    def _miss_error(self, key: str, result: trace.Fetch) -> NotFoundInStore:
        unavailable = [a.tier for a in result.attempts if a.outcome == trace.UNAVAILABLE]
        if unavailable:
            return NotFoundWhileUnavailable(self, key, tuple(unavailable))
        return NotFoundInStore(self, key)

    def write_back(self, key: str, data: bytes) -> bool:
        """Write a served blob into the cache; a failure is logged, never raised."""
        try:
            writer = getattr(self.cache, "put_or_raise", self.cache.put)
            writer(key, data)
        except Exception as exc:
            logger.warning("%s: could not cache %s: %s", self.cache, key, exc)
            return False
        self.forget(key)
        return True

    def forget(self, uri: str) -> None:
        """Tell every tier that the blob now exists, so none answers from a memory of misses."""
        for store in [*self.sources, self.cache]:
            if store is not None:
                store.forget(uri)

    def get_many(
        self, uris: Iterable[str], workers: int = 16, errors: str = "raise"
    ) -> Iterator[bytes | Exception]:
        """Yield the blobs of `uris` in input order, fetching up to `workers` at a time.

        With `errors="raise"` the first failure is raised at its place in the order; with
        `errors="return"` a failure is yielded in place of its blob, as the exception object.
        """
        return map_in_order(self.get, uris, workers=workers, errors=errors)

    def exists(self, uri: str) -> bool:
        key = self.normalize(uri)
        unavailable = []
        for store in self.sources:
            if not store.is_valid(key):
                continue
            try:
                if store.exists(key):
                    return True
            except StoreNotAvailable:
                unavailable.append(str(store))
        if unavailable:
            raise StoreNotAvailable(self, "could not ask " + ", ".join(unavailable))
        return False

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """Return a file that streams the blob from the first source that has it.

        Streaming reads are not written back into the cache; `get` does that.
        """
        result = self.open_fetch(uri, start, end)
        if result.error is not None:
            raise result.error
        return result.stream

    def open_fetch(
        self,
        uri: str,
        start: int = 0,
        end: int | None = None,
        on_close: Callable[[trace.Fetch], None] | None = None,
    ) -> trace.Fetch:
        """Open bytes [start, end) of the blob from the first source that has it, and return
        what happened: `stream` is the open file, or `error` says why there is none.

        With `on_close`, the stream counts the bytes read into `bytes_read`, a read error is
        recorded on the serving attempt, and `on_close(fetch)` runs once when it is closed.
        """
        key = self.normalize(uri)
        result = trace.Fetch(uri=key)
        started = time.perf_counter()
        for store in self.sources:
            if not store.is_valid(key):
                continue
            stream = self._ask(store, key, result, partial(store.open, start=start, end=end))
            if stream is not None:
                result.served_by = str(store)
                if on_close is not None:
                    stream = TracedReader(stream, result, on_close)
                result.stream = stream
                break
        result.seconds = time.perf_counter() - started
        if result.stream is None:
            result.error = self._miss_error(key, result)
        return result

    def put(self, uri: str, data: bytes) -> None:
        """Write the blob into the cache, or else into the first source that can write."""
        key = self.normalize(uri)
        targets = [self.cache] if self.cache is not None else self.sources
        for target in targets:
            if not target.is_valid(key):
                continue
            writer = getattr(target, "put_or_raise", target.put)
            try:
                writer(key, data)
            except NotImplementedError:
                continue
            self.forget(key)
            return
        raise NotImplementedError(f"{type(self).__name__} has no tier that can write {key}")
