"""Ordered tiers: read from the first that has a blob, write it into the cache levels above.

Cache levels are tiers appended with `append_cache_level` (or the one of `append_cache`), top
first: a per-host disk, say, in front of a shared bucket. A blob served by a write-back
source is written into every level; one served by a lower level into the levels above it
(a promotion). A `put` goes into the sources that accept puts (durable), and into the top
level too.
"""

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
from .writer import BlobWriter, FanOutWriter, WrappedWriter

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
    #: Set when a cache level, asked again after another reader's fill, answered instead.
    served_by: Store | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


class Composite(StreamFills, Store):
    """Sources tried in order; blobs served by sources appended with `cache_result=True` are
    written into every cache level, and blobs served by a cache level into the levels above
    it, by every read: `get`, `get_many` and streams from `open`.

    Two options make reads from later tiers faster; both keep the answer of the sequential
    pass, and both are off by default (the seed library's behaviour):

    - `index`: a `LocationIndex` fed by every read. A blob seen before is asked first from
      the tier that served it last (the top cache level written, once a blob was written
      back); when that tier no longer has it, the configured order follows. Nothing is asked
      before the top cache level this way, and a write-back source never before any level.
    - `concurrent`: for a blob with no known location, the tiers are asked at once (True, or
      the most threads to use) and the first in order that has it serves it. Write-back
      sources, the expensive ones, are still asked only when every tier before them said no.
      A blob held by several tiers is downloaded from each of them that was asked.

    One reader at a time fetches a blob from a write-back source (`fill_gate`); the others
    wait for its fill and read the cache. A promotion takes no claim (a lower level is
    cheap to ask), and like every fill it commits atomically, only bytes that match.
    Streams are tuned by the attributes below (the Django app sets them from its settings).
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
    #: Called with the `Fetch` of each background fill, when it is over: such a fill asks a
    #: source of its own (the Django app records it in the ledger). Not pickled.
    on_background_fetch: Callable[[trace.Fetch], None] | None = None

    def __init__(
        self, *, concurrent: bool | int = False, index: LocationIndex | None = None
    ) -> None:
        self.sources: list[Store] = []
        #: The sources whose blobs are written into the cache levels. Kept as the stores
        #: themselves, not their ids, so that the choice survives pickling.
        self.cache_back: list[Store] = []
        #: The cache levels, top first.
        self.caches: list[Store] = []
        #: The sources a `put` writes into: durable tiers, never evicted.
        self.upload_tiers: list[Store] = []
        self.concurrent = concurrent
        self.index = index
        self.fill_gate = FillGate()
        self._flights = SingleFlight()
        self._probes = ProbePool()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("on_background_fetch", None)  # a hook of this process's (the ledger)
        return state

    def describe(self) -> str:
        return type(self).__name__

    @property
    def cache(self) -> Store | None:
        """The top cache level (the seed library's one cache), or None."""
        return self.caches[0] if self.caches else None

    def append_source(
        self, source: Store, cache_result: bool = False, accepts_puts: bool = False
    ) -> None:
        """Try `source` after the ones appended before; with `cache_result`, what it serves is
        written into the cache levels; with `accepts_puts`, `put` writes into it."""
        self.sources.append(source)
        if cache_result:
            self.cache_back.append(source)
        if accepts_puts:
            self.upload_tiers.append(source)

    def append_store(self, store: Store, cache_result: bool = True) -> None:
        """Append a source whose blobs land in the cache (the seed README's spelling)."""
        self.append_source(store, cache_result=cache_result)

    def append_cache(self, cache: Store, read: bool = True) -> None:
        """Make `cache` the one cache (as in the seed library: one appended before is
        replaced, with a warning); with `read`, it is also read at this position."""
        for old in self.caches:
            logger.warning("replacing the cache %s with %s", old, cache)
            self.sources = [source for source in self.sources if source is not old]
        self.caches = []
        self.append_cache_level(cache, read)

    def append_cache_level(self, cache: Store, read: bool = True) -> None:
        """Add `cache` as a cache level below the ones appended before; with `read`, it is
        also read at this position. A level that cannot write (`can_write()` is false) is
        read and promoted from, never written."""
        if read:
            self.sources.append(cache)
        self.caches.append(cache)

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
            in_order = stores[0] if stores and hinted is None else None  # asked first anyway
            found = None
            if alone:  # the tier that served it last time, alone; then the configured order
                found = self._first_hit(stores[:1], p)
                stores = stores[1:]
            found = found or self._first_hit(stores, p)
            if found is not None and hinted is not None and found[0] is hinted:
                self._skipped_for_index(p.key, hinted, p.result)
        finally:
            self._release(p)  # a stream that fills the cache took the claim with it
        server = None if found is None else p.served_by or found[0]
        if server is not None:
            p.result.served_by = str(server)
        else:
            p.result.error = self._miss_error(p.key, p.result)
        p.result.seconds = time.perf_counter() - started
        if server is None or server is not in_order:  # the first tier asked needs no hint
            self._remember(p.key, p.result)
        return None if found is None else found[1]

    # the pass over the tiers

    def _tiers_for(self, key: str) -> tuple[list[Store], Store | None, bool]:
        """Return the tiers that accept `key` in the order to ask them, the one the location
        index names (None: no hint is followed), and whether it is asked first, alone.

        The index never puts a tier before the top cache level: asking it is cheap, and
        another process (a warm job) may have filled it since. A write-back source keeps its
        place, after every cache level."""
        stores = [store for store in self.sources if store.is_valid(key)]
        tier = self.index.get(key) if self.index is not None else None
        if tier is None:
            return stores, None, False
        hinted = next((store for store in stores if str(store) == tier), None)
        cache = next((store for store in stores if self._is_level(store)), None)
        if hinted is None or (cache is not None and self._paid(hinted)):
            return stores, None, False
        stores.remove(hinted)
        if cache is None or hinted is cache:
            return [hinted, *stores], hinted, True
        stores.remove(cache)
        return [cache, hinted, *stores], hinted, False

    def _first_hit(self, stores: list[Store], p: _Pass) -> tuple[Store, Any] | None:
        """Return the first of `stores` in order that has the blob, and its answer."""

        if self.concurrent and len(stores) > 1 and not p.stream:  # streams: one open at a time

            def ask(store: Store, key: str, result: trace.Fetch) -> Any:
                return self._ask_tier(p, store, result)

            threads = threads_for(self.concurrent)
            return first_hit(stores, p.key, p.result, ask, self._probes, threads, self._paid)
        for store in stores:
            answer = self._ask_tier(p, store, p.result)
            if answer is not None:
                return store, answer
        return None

    def _is_level(self, store: Store) -> bool:
        for level in self.caches:  # a loop, not any(): this runs on every cache hit
            if level is store:
                return True
        return False

    def _writes_back(self, store: Store) -> bool:
        return any(store is source for source in self.cache_back)

    def _targets(self, store: Store) -> list[Store]:
        """Return the cache levels what `store` serves is written into, top first: every
        level for a write-back source, the levels above it for a level (a promotion)."""
        targets = []
        for level in self.caches:
            if level is store:
                return targets
            if level.can_write():
                targets.append(level)
        return targets if self._writes_back(store) else []

    def _paid(self, store: Store) -> bool:
        """Return whether `store` is a write-back source with levels to fill: it is asked
        alone, and one reader at a time (`fill_gate`)."""
        return not self._is_level(store) and bool(self._targets(store))

    def _ask_tier(self, p: _Pass, store: Store, result: trace.Fetch) -> Any:
        """Ask one tier; before the first write-back source, claim the fill, and when another
        reader filled the levels meanwhile, read the top one instead."""
        targets = self._targets(store)
        while targets and p.claim is None and not self._is_level(store):  # a paid source
            p.claim = self.fill_gate.claim(p.key)
            if not p.claim.waited:
                break
            top = targets[0]
            read = partial(self._read, p, top, self._targets(top))
            answer = self._ask(top, p.key, result, read)
            if answer is not None:
                p.served_by = top
                self._release(p)
                return answer
            if p.claim.again:  # the fill waited for was dropped: one reader takes it over
                p.claim = None
        return self._ask(store, p.key, result, partial(self._read, p, store, targets))

    def _read(self, p: _Pass, store: Store, targets: list[Store], key: str) -> Any:
        """Return what `store` answers for the pass (bytes for `get`, else a stream), and
        write the blob into the cache levels `targets`."""
        if not p.stream:
            data = store.get(key)
            if targets:
                self._filled(p, self._write_into(key, data, targets))
            return data
        stream = store.open(key, p.start, p.end)
        small = stream.size <= self.verify_before_send_max_bytes
        if small and self.check_reads and (p.whole or self._is_level(store)):
            return self._read_checked(p, store, stream, targets)
        if p.whole and targets:
            return self._tee(p, store, stream, targets)
        if p.whole and self.check_reads:
            # A tier that verifies its own streams is not hashed twice.
            check = None if isinstance(stream, VerifyingReader) else self.check_for(key, store)
            return CheckedReader(stream, check, on_invalid=partial(self._discard, store, key))
        empty = p.end is not None and p.end <= p.start  # headers only: no fill
        if targets and not empty and stream.size <= self.fill_on_range_max_bytes:
            self._release(p)
            self._fill_later(key)
        return stream

    def _filled(self, p: _Pass, written: list[Store]) -> None:
        """Note the levels a read wrote the blob into, and let waiting readers go on."""
        p.result.written_to = [str(level) for level in written]
        if written:
            self._written(p.key, written)
        self._release(p)

    def _release(self, p: _Pass) -> None:
        if p.claim is not None:
            p.claim.release()

    def _discard(self, store: Store, key: str) -> None:
        """Remove a cache entry that failed its check (a source's bytes are left alone)."""
        if not self._is_level(store):
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
        elif not result.written_to:  # a fill has remembered its top level already
            self.index.remember(key, result.served_by)

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

    def _write_into(self, key: str, data: bytes, levels: list[Store]) -> list[Store]:
        """Write a served blob into cache levels and return those that took it; a failure is
        logged, never raised (with `check_reads`, bytes that do not match raise
        `InvalidDataFound`, and no level is written)."""
        written = []
        for level in levels:
            try:
                level.put_or_raise(key, data)
            except InvalidDataFound as exc:
                if self.check_reads:
                    raise
                logger.warning("%s: could not cache %s: %s", level, key, exc)
                return written  # the same bytes, refused by the next level too
            except Exception as exc:
                logger.warning("%s: could not cache %s: %s", level, key, exc)
            else:
                written.append(level)
        return written

    def forget(self, uri: str) -> None:
        """Tell every tier that the blob now exists, so none answers from a memory of misses."""
        for store in [*self.sources, *self.caches]:
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
        """Write the blob where `open_writer` says."""
        with self.open_writer(uri) as writer:
            writer.write(data)

    def open_writer(self, uri: str) -> BlobWriter:
        """Return a writer into the tiers a `put` writes to: every source that accepts puts
        (all must take it), and the top writable cache level as well (if it can). Without
        such a source, the one writable cache level, when it is not bounded (it would evict
        what was put); else `NoWritableTier`."""
        key = self.normalize(uri)
        levels = [level for level in self.caches if level.is_valid(key) and level.can_write()]
        durable = [tier for tier in self.upload_tiers if tier.is_valid(key)]
        if not durable and len(levels) == 1 and not levels[0].bounded():
            durable, levels = levels, []
        if not durable:
            raise NoWritableTier(self, key, self._no_upload_reason(levels))
        required = []
        try:
            for tier in durable:
                required.append((tier, tier.open_writer(key)))
        except BaseException:
            for _, writer in required:
                writer.abort()
            raise
        optional = []
        for level in levels[:1]:
            try:
                optional.append((level, level.open_writer(key)))
            except Exception as exc:
                logger.warning("%s: %s is not placed in the cache: %s", level, key, exc)
        fan = FanOutWriter(required, optional)
        return WrappedWriter(fan, after_commit=lambda: self._written(key, fan.committed))

    def _no_upload_reason(self, levels: list[Store]) -> str:
        if len(levels) > 1:
            return f"no source accepts puts, and there are {len(levels)} cache levels"
        if levels:
            return "no source accepts puts, and the cache level is bounded (it evicts)"
        return "no source accepts puts, and there is no cache level that can write"

    def _written(self, key: str, tiers: list[Store]) -> None:
        """Note that `tiers` now hold the blob: nobody remembers it missing, and the index
        names the top cache level among them (else the first)."""
        self.forget(key)
        if self.index is not None and tiers:
            first = next((tier for tier in tiers if self._is_level(tier)), tiers[0])
            self.index.remember(key, str(first))
