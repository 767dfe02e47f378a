"""Ordered tiers: read from the first that has a blob, write back into the cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, BinaryIO

from . import processes as worker_processes
from . import trace
from .exceptions import (
    NotFoundInStore,
    NotFoundWhileUnavailable,
    NoWritableTier,
    StoreNotAvailable,
)
from .first_hit import ProbePool, first_hit, threads_for
from .location_index import LocationIndex
from .outcomes import Outcome, SkipReason, outcome_of
from .parallel import map_in_order
from .reader import TracedReader
from .singleflight import SingleFlight
from .store import Store
from .writer import BlobWriter, WrappedWriter

logger = logging.getLogger(__name__)


class Composite(Store):
    """Sources tried in order; blobs served by sources appended with `cache_result=True` are
    written into the cache.

    Two options make reads from later tiers faster; both keep the answer of the sequential
    pass, and both are off by default (the seed library's behaviour):

    - `index`: a `LocationIndex` fed by every read. A blob seen before is asked first from
      the tier that served it last (the cache, once a source's blob was written back); when
      that tier no longer has it, the configured order follows.
    - `concurrent`: for a blob with no known location, the tiers are asked at once (True, or
      the most threads to use) and the first in order that has it serves it. Write-back
      sources, the expensive ones, are still asked only when every tier before them said no.
      A blob held by several tiers is downloaded from each of them that was asked.
    """

    def __init__(
        self, *, concurrent: bool | int = False, index: LocationIndex | None = None
    ) -> None:
        self.sources: list[Store] = []
        #: The sources whose blobs are written into the cache. Kept as the stores themselves,
        #: not their ids, so that the choice survives pickling.
        self.cache_back: list[Store] = []
        self.cache: Store | None = None
        self.concurrent = concurrent
        self.index = index
        self._flights = SingleFlight()
        self._probes = ProbePool()

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
        stores, hinted = self._tiers_for(key)
        found = None
        if hinted:  # the tier that served it last time, alone; then the configured order
            found = self._first_hit(stores[:1], key, result)
            if found is not None:
                self._skipped_for_index(key, stores[0], result)
            stores = stores[1:]
        found = found or self._first_hit(stores, key, result)
        if found is not None:
            store, data = found
            result.data, result.served_by = data, str(store)
            if self.cache is not None and self._writes_back(store):
                result.cache_written = store is not self.cache and self.write_back(key, data)
        result.seconds = time.perf_counter() - started
        if result.data is None:
            result.error = self._miss_error(key, result)
        self._remember(key, result)
        return result

    def _tiers_for(self, key: str) -> tuple[list[Store], bool]:
        """Return the tiers that accept `key`, in order, and whether the first is the one the
        location index names (then it comes first, out of order)."""
        stores = [store for store in self.sources if store.is_valid(key)]
        tier = self.index.get(key) if self.index is not None else None
        hinted = next((store for store in stores if str(store) == tier), None)
        if hinted is None:
            return stores, False
        stores.remove(hinted)
        return [hinted, *stores], True

    def _first_hit(
        self, stores: list[Store], key: str, result: trace.Fetch
    ) -> tuple[Store, Any] | None:
        """Return the first of `stores` in order that has the blob, and the blob."""
        if self.concurrent and len(stores) > 1:
            threads = threads_for(self.concurrent)
            return first_hit(
                stores, key, result, self._ask, self._probes, threads, self._writes_back
            )
        for store in stores:
            data = self._ask(store, key, result)
            if data is not None:
                return store, data
        return None

    def _writes_back(self, store: Store) -> bool:
        return any(store is source for source in self.cache_back)

    def _remember(self, key: str, result: trace.Fetch) -> None:
        """Feed the location index: where the blob is now, or that it is nowhere known."""
        if self.index is None:
            return
        if result.served_by is None:
            self.index.forget(key)
        else:
            self.index.remember(key, str(self.cache) if result.cache_written else result.served_by)

    def _ask(
        self, store: Store, key: str, result: trace.Fetch, read: Callable | None = None
    ) -> Any:
        """Return `read(key)` (by default `store.get`), or None, and add the attempt to the
        trace."""
        started = time.perf_counter()
        outcome, reason, detail, data = Outcome.HIT, None, "", None
        try:
            data = (read or store.get)(key)
        except (NotFoundInStore, StoreNotAvailable) as exc:
            outcome, reason = outcome_of(exc)
            failed = isinstance(exc, StoreNotAvailable) or outcome == Outcome.INVALID
            detail = str(exc) if failed else ""
        elapsed = time.perf_counter() - started
        result.attempts.append(trace.Attempt(str(store), outcome, elapsed, detail, reason))
        return data

    def _skipped_for_index(self, key: str, hinted: Store, result: trace.Fetch) -> None:
        """Record the tiers before `hinted` in order as skipped: the index sent the fetch past
        them to the tier that served the blob last, and it had it."""
        before = []
        for store in self.sources:
            if store is hinted:
                break
            if store.is_valid(key):
                before.append(store)
        result.attempts[:0] = [
            trace.Attempt(str(store), Outcome.SKIPPED, 0.0, reason=SkipReason.INDEX)
            for store in before
        ]

    def _miss_error(self, key: str, result: trace.Fetch) -> NotFoundInStore:
        unavailable = [a.tier for a in result.attempts if a.unavailable]
        if unavailable:
            return NotFoundWhileUnavailable(self, key, tuple(unavailable))
        return NotFoundInStore(self, key)

    def write_back(self, key: str, data: bytes) -> bool:
        """Write a served blob into the cache; a failure is logged, never raised."""
        try:
            self.cache.put_or_raise(key, data)
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
        self,
        uris: Iterable[str],
        workers: int = 16,
        errors: str = "raise",
        processes: int | None = None,
    ) -> Iterator[bytes | Exception]:
        """Yield the blobs of `uris` in input order, fetching up to `workers` at a time.

        With `errors="raise"` the first failure is raised at its place in the order; with
        `errors="return"` a failure is yielded in place of its blob, as the exception object.
        With `processes`, the workers are threads of that many worker processes (see
        `core.processes`), kept for the next call.
        """
        if processes:
            return worker_processes.get_many(self, uris, workers, errors, processes)
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
        stores, hinted = self._tiers_for(key)
        for store in stores:
            stream = self._ask(store, key, result, partial(store.open, start=start, end=end))
            if stream is not None:
                if hinted and store is stores[0]:
                    self._skipped_for_index(key, store, result)
                result.served_by = str(store)
                if on_close is not None:
                    stream = TracedReader(stream, result, on_close)
                result.stream = stream
                break
        result.seconds = time.perf_counter() - started
        if result.stream is None:
            result.error = self._miss_error(key, result)
        self._remember(key, result)
        return result

    def put(self, uri: str, data: bytes) -> None:
        """Write the blob into the cache, or else into the first source that can write."""
        with self.open_writer(uri) as writer:
            writer.write(data)

    def open_writer(self, uri: str) -> BlobWriter:
        """Return a writer into the tier a `put` writes to: the cache, or else the first
        source that can write."""
        key = self.normalize(uri)
        targets = [self.cache] if self.cache is not None else self.sources
        for target in targets:
            if not target.is_valid(key):
                continue
            try:
                inner = target.open_writer(key)
            except NotImplementedError:
                continue
            return WrappedWriter(inner, after_commit=partial(self._written, key, target))
        raise NoWritableTier(self, key)

    def _written(self, key: str, target: Store) -> None:
        self.forget(key)
        if self.index is not None:
            self.index.remember(key, str(target))
