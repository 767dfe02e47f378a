"""Ordered tiers: read from the first that has a blob, write back into the cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

from . import processes as worker_processes
from . import trace
from .exceptions import (
    InvalidDataFound,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    NoWritableTier,
    StoreNotAvailable,
)
from .fill_gate import Claim, FillGate
from .first_hit import ProbePool, first_hit, threads_for
from .location_index import LocationIndex
from .outcomes import Outcome, SkipReason, outcome_of
from .parallel import map_in_order
from .reader import TracedReader, VerifyingReader
from .singleflight import SingleFlight
from .store import Store
from .stream_fills import StreamFills
from .tee import CheckedReader, Sha1Check
from .writer import BlobWriter, WrappedWriter

logger = logging.getLogger(__name__)


@dataclass
class _Pass:
    """One pass over the tiers for a key: what is read, and the fill it may claim.

    `whole` reads are streams of the entire blob (or `get`'s bytes, when `stream` is false);
    a claim is taken before a write-back source is asked (see `FillGate`)."""

    key: str
    result: trace.Fetch
    stream: bool = False
    start: int = 0
    end: int | None = None
    claim: Claim | None = None
    #: Set when the cache, asked again after another reader's fill, answered instead.
    served_by_cache: bool = False

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


class Composite(StreamFills, Store):
    """Sources tried in order; blobs served by sources appended with `cache_result=True` are
    written into the cache, by every read: `get`, `get_many` and streams from `open`.

    Two options make reads from later tiers faster; both keep the answer of the sequential
    pass, and both are off by default (the seed library's behaviour):

    - `index`: a `LocationIndex` fed by every read. A blob seen before is asked first from
      the tier that served it last (the cache, once a source's blob was written back); when
      that tier no longer has it, the configured order follows. A write-back source is never
      asked before the cache this way.
    - `concurrent`: for a blob with no known location, the tiers are asked at once (True, or
      the most threads to use) and the first in order that has it serves it. Write-back
      sources, the expensive ones, are still asked only when every tier before them said no.
      A blob held by several tiers is downloaded from each of them that was asked.

    One reader at a time fetches a blob from a write-back source (`fill_gate`); the others
    wait for its fill and read the cache. Streams are tuned by the attributes below (the
    Django app sets them from its settings).
    """

    #: Check what is read against its key (the Django app does): a whole stream that does not
    #: match is cut short, and a blob from a write-back source that the cache refuses is
    #: "invalid" (the next tier is asked) instead of returned as it is.
    check_reads = False
    #: Whole blobs up to this size are read and checked before a stream is returned, so that
    #: a wrong one falls through to the next tier instead of being cut short.
    verify_before_send_max_bytes = 0
    #: A stream closed before its end still fills the cache, in the background, up to this.
    fill_after_disconnect_max_bytes = 0
    #: A range of an uncached blob up to this size fills the cache with it, in the background.
    fill_on_range_max_bytes = 0

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
        self.fill_gate = FillGate()
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

    def check_for(self, key: str, store: Store) -> Sha1Check | None:
        """Return the running check of a blob read from `store`; keys that are not hashes
        have none."""
        return None

    # reading

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
        p = _Pass(key, trace.Fetch(uri=key))
        p.result.data = self._run(p)
        return p.result

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """Return a file that streams the blob from the first source that has it; a whole
        blob from a write-back source is written into the cache as it is read."""
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
        p = _Pass(key, trace.Fetch(uri=key), stream=True, start=start, end=end)
        stream = self._run(p)
        if stream is not None and on_close is not None:
            stream = TracedReader(stream, p.result, on_close)
        p.result.stream = stream
        return p.result

    def _run(self, p: _Pass) -> Any:
        """Ask the tiers for `p.key` in order (the one the location index names first) and
        return the first answer, or None; `p.result` receives what happened."""
        started = time.perf_counter()
        try:
            stores, hinted, alone = self._tiers_for(p.key)
            found = None
            if alone:  # the tier that served it last time, alone; then the configured order
                found = self._first_hit(stores[:1], p)
                stores = stores[1:]
            found = found or self._first_hit(stores, p)
            if found is not None and hinted is not None and found[0] is hinted:
                self._skipped_for_index(p.key, hinted, p.result)
        finally:
            self._release(p)  # a stream that fills the cache took the claim with it
        if found is not None:
            store = self.cache if p.served_by_cache else found[0]
            p.result.served_by = str(store)
        else:
            p.result.error = self._miss_error(p.key, p.result)
        p.result.seconds = time.perf_counter() - started
        self._remember(p.key, p.result)
        return None if found is None else found[1]

    # the pass over the tiers

    def _tiers_for(self, key: str) -> tuple[list[Store], Store | None, bool]:
        """Return the tiers that accept `key` in the order to ask them, the one the location
        index names (None: no hint is followed), and whether it is asked first, alone.

        The index never puts a tier before the cache: asking the cache is cheap, and another
        process (a warm job) may have filled it since. A write-back source keeps its place."""
        stores = [store for store in self.sources if store.is_valid(key)]
        tier = self.index.get(key) if self.index is not None else None
        hinted = next((store for store in stores if str(store) == tier), None)
        cache = next((store for store in stores if store is self.cache), None)
        if hinted is None or (cache is not None and self._writes_back(hinted)):
            return stores, None, False
        stores.remove(hinted)
        if cache is None or hinted is cache:
            return [hinted, *stores], hinted, True
        stores.remove(cache)
        return [cache, hinted, *stores], hinted, False

    def _first_hit(self, stores: list[Store], p: _Pass) -> tuple[Store, Any] | None:
        """Return the first of `stores` in order that has the blob, and its answer."""

        def ask(store: Store, key: str, result: trace.Fetch) -> Any:
            return self._ask_tier(p, store, result)

        if self.concurrent and len(stores) > 1 and not p.stream:  # streams: one open at a time
            threads = threads_for(self.concurrent)
            return first_hit(stores, p.key, p.result, ask, self._probes, threads, self._fills)
        for store in stores:
            answer = ask(store, p.key, p.result)
            if answer is not None:
                return store, answer
        return None

    def _writes_back(self, store: Store) -> bool:
        return any(store is source for source in self.cache_back)

    def _fills(self, store: Store) -> bool:
        """Return whether what `store` serves is written into the cache."""
        return self.cache is not None and store is not self.cache and self._writes_back(store)

    def _ask_tier(self, p: _Pass, store: Store, result: trace.Fetch) -> Any:
        """Ask one tier; before the first write-back source, claim the fill, and when another
        reader filled the cache meanwhile, read the cache instead."""
        while self._fills(store) and p.claim is None:
            p.claim = self.fill_gate.claim(p.key)
            if not p.claim.waited:
                break
            answer = self._ask(self.cache, p.key, result, partial(self._read, p, self.cache))
            if answer is not None:
                p.served_by_cache = True
                self._release(p)
                return answer
            if p.claim.again:  # the fill waited for was dropped: one reader takes it over
                p.claim = None
        return self._ask(store, p.key, result, partial(self._read, p, store))

    def _read(self, p: _Pass, store: Store, key: str) -> Any:
        """Return what `store` answers for the pass: bytes for `get`, else a stream."""
        if not p.stream:
            data = store.get(key)
            if self._fills(store):
                p.result.cache_written = self.write_back(key, data)
                self._release(p)
            return data
        stream = store.open(key, p.start, p.end)
        small = stream.size <= self.verify_before_send_max_bytes
        if small and self.check_reads and (p.whole or store is self.cache):
            return self._read_checked(p, store, stream)
        if p.whole and self._fills(store):
            return self._tee(p, store, stream)
        if p.whole and self.check_reads:
            # A tier that verifies its own streams is not hashed twice.
            check = None if isinstance(stream, VerifyingReader) else self.check_for(key, store)
            return CheckedReader(stream, check, on_invalid=partial(self._discard, store, key))
        empty = p.end is not None and p.end <= p.start  # headers only: no fill
        if self._fills(store) and not empty and stream.size <= self.fill_on_range_max_bytes:
            self._release(p)
            self._fill_later(key)
        return stream

    def _release(self, p: _Pass) -> None:
        if p.claim is not None:
            p.claim.release()

    def _discard(self, store: Store, key: str) -> None:
        """Remove a cache entry that failed its check (a source's bytes are left alone)."""
        if store is not self.cache:
            return
        try:
            store.delete(key)
        except Exception as exc:
            logger.warning("%s: could not remove the invalid entry %s: %s", store, key, exc)
        else:
            logger.warning("%s: removed the invalid entry %s", store, key)

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
            if outcome == Outcome.INVALID:
                self._discard(store, key)
        elapsed = time.perf_counter() - started
        result.attempts.append(trace.Attempt(str(store), outcome, elapsed, detail, reason))
        return data

    def _skipped_for_index(self, key: str, hinted: Store, result: trace.Fetch) -> None:
        """Record the tiers before `hinted` in order that were not asked as skipped: the index
        sent the fetch past them to the tier that served the blob last, and it had it."""
        asked = {attempt.tier for attempt in result.attempts}
        before = []
        for store in self.sources:
            if store is hinted:
                break
            if store.is_valid(key) and str(store) not in asked:
                before.append(store)
        result.attempts[:0] = [
            trace.Attempt(str(store), Outcome.SKIPPED, 0.0, reason=SkipReason.INDEX)
            for store in before
        ]

    def _miss_error(self, key: str, result: trace.Fetch) -> NotFoundInStore:
        """Return why no tier served `key`: some could not be asked (retry later), or those
        that had it held invalid data, or none had it."""
        unavailable = [a.tier for a in result.attempts if a.unavailable]
        if unavailable:
            return NotFoundWhileUnavailable(self, key, tuple(unavailable))
        invalid = [a.tier for a in result.attempts if a.outcome == Outcome.INVALID]
        if invalid:
            return InvalidDataFound(", ".join(invalid), key)
        return NotFoundInStore(self, key)

    def write_back(self, key: str, data: bytes) -> bool:
        """Write a served blob into the cache; a failure is logged, never raised (with
        `check_reads`, bytes that do not match raise `InvalidDataFound`)."""
        try:
            self.cache.put_or_raise(key, data)
        except InvalidDataFound as exc:
            if self.check_reads:
                raise
            logger.warning("%s: could not cache %s: %s", self.cache, key, exc)
            return False
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
