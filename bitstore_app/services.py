"""The service layer: the composite built from the tier rows, and the public operations.

Views, tasks, the admin and commands call this module. A `get` asks the database for
nothing: the composite is cached per process and rebuilt only when the configuration
version moves, which a thread of its own checks at most every `CONFIG_CHECK_INTERVAL`
seconds, while the requests go on with the composite they have (only the first build in a
process, and every call when the interval is 0, read the database in the caller's thread).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from django.db import DatabaseError, connections
from django.views.decorators.debug import sensitive_variables

from . import index_preload, metrics
from .composer import TierSpec, build_composite, build_tier, for_warming
from .conf import bitstore_settings
from .core import (
    BitstoreError,
    Fetch,
    Sha1Composite,
    StoreNotAvailable,
    breaker,
    map_in_order,
    parse_sha1,
    sha1_of,
)
from .core.missing import find_missing
from .core.per_process import ProcessLock
from .core.scrub import ScrubReport, scrub_folder
from .core.trace import HIT, Attempt
from .core.usage import Usage
from .ledger import buffer as ledger
from .ledger import level_samples
from .requester import Requester, current_requester

if TYPE_CHECKING:
    from .core.writer import BlobWriter

logger = logging.getLogger(__name__)

#: A key no tier holds; checks ask for it, so they never write and never download.
CHECK_SHA1 = sha1_of(b"bitstore probe")


@dataclass
class Snapshot:
    """The composite of one configuration version, and its tiers' ids by name."""

    composite: Sha1Composite
    version: int
    tier_ids: dict[str, int]
    checked_at: float
    #: The definitions the composite was built from.
    specs: tuple[TierSpec, ...] = ()
    #: The composite warm jobs fill the cache through (`composer.for_warming`); None without
    #: a cache level that can be written.
    warming: Sha1Composite | None = None

    @property
    def levels(self) -> frozenset[str]:
        """The names of the cache levels."""
        return frozenset(str(level) for level in self.composite.caches)


class _Configuration:
    """The per-process composite, rebuilt when the configuration version moves."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = ProcessLock()
        # Starting the checker has a lock of its own: a check stuck on the database holds
        # `_lock`, and no request may wait for it.
        self._starting = ProcessLock()
        self._checker: threading.Thread | None = None  # not alive in a forked child

    def snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        interval = bitstore_settings.CONFIG_CHECK_INTERVAL
        if snapshot is not None and time.monotonic() - snapshot.checked_at < interval:
            return snapshot
        if snapshot is not None and interval > 0 and self._check_in_background(snapshot):
            return snapshot  # a request never waits for the database
        with self._lock:
            if self._snapshot is snapshot:
                self._snapshot = self._refresh(snapshot)
            return self._snapshot

    def _check_in_background(self, snapshot: Snapshot) -> bool:
        """Have a thread check the version (one at a time); False if none can start (the
        interpreter is exiting)."""
        with self._starting:
            if self._checker is not None and self._checker.is_alive():
                return True
            snapshot.checked_at = time.monotonic()  # the next requests start no check
            checker = threading.Thread(
                target=self._check, args=(snapshot,), name="bitstore-config", daemon=True
            )
            try:
                checker.start()
            except RuntimeError:
                return False
            self._checker = checker
        return True

    def _check(self, snapshot: Snapshot) -> None:
        try:
            with self._lock:
                if self._snapshot is snapshot:
                    self._snapshot = self._refresh(snapshot)
        except Exception:
            logger.exception("the tier configuration could not be checked")
        finally:
            connections.close_all()  # this thread's own: it ends here

    def _refresh(self, snapshot: Snapshot | None) -> Snapshot:
        from .models import ConfigVersion

        try:
            version = ConfigVersion.current()
            if snapshot is not None and snapshot.version == version:
                snapshot.checked_at = time.monotonic()
                return snapshot
            return self._build(version)
        except DatabaseError as exc:
            connections[ConfigVersion.objects.db].close_if_unusable_or_obsolete()
            if snapshot is None:
                raise
            logger.warning("cannot read the tier configuration, keeping the last one: %s", exc)
            snapshot.checked_at = time.monotonic()
            return snapshot

    @sensitive_variables()  # building resolves credentials: no frame below shows them
    def _build(self, version: int) -> Snapshot:
        from .models import Tier

        specs = [TierSpec.of(tier) for tier in Tier.objects.enabled()]
        composite = build_composite(specs, on_error=_leave_out)
        index_preload.speed_up(composite)
        logger.info("tier configuration %s: %s", version, composite.sources)
        tier_ids = {s.name: s.id for s in specs}
        warming = for_warming(composite)
        snapshot = Snapshot(composite, version, tier_ids, time.monotonic(), tuple(specs), warming)
        # A background fill (after a range) asks a source: it is a fetch of its own.
        composite.on_background_fetch = lambda fetch: record(fetch, snapshot)
        return snapshot

    def current(self) -> Snapshot | None:
        """Return the snapshot this process holds now, without checking the version."""
        return self._snapshot

    def invalidate(self) -> None:
        """Rebuild on the next call (tests, and after changes made in this process)."""
        with self._lock:
            self._snapshot = None


def _leave_out(spec: TierSpec, exc: Exception) -> None:
    logger.error("tier %s is left out: %s", spec.name, exc)


configuration = _Configuration()


def composite() -> Sha1Composite:
    """Return the composite of the enabled tiers, as this process knows them."""
    return configuration.snapshot().composite


@sensitive_variables()  # tiers hold resolved credentials
def fetch(sha1: str) -> Fetch:
    """Ask the tiers for a blob, record the fetch in the ledger, and return what happened."""
    return _fetch(configuration.snapshot(), sha1, current_requester())


def _fetch(snapshot: Snapshot, sha1: str, requester: Requester) -> Fetch:
    result = snapshot.composite.fetch(parse_sha1(sha1))
    _record(result, snapshot, requester)
    return result


def _record(result: Fetch, snapshot: Snapshot, requester: Requester) -> None:
    """Write a finished fetch to the ledger and the metrics: every fetch passes here."""
    ledger.record(result, snapshot.tier_ids, requester)
    metrics.observe(result, snapshot.levels if result.written_to else frozenset())


def record(result: Fetch, snapshot: Snapshot) -> None:
    """Record a fetch made outside `fetch`, for the current requester (cache warming asks
    the tiers of the snapshot itself)."""
    _record(result, snapshot, current_requester())


def _data(result: Fetch) -> bytes:
    if result.error is not None:
        raise result.error
    return result.data


def get(sha1: str) -> bytes:
    """Return the blob's bytes from the first tier that has it."""
    return _data(fetch(sha1))


def get_many(
    hashes: Iterable[str], workers: int | None = None, errors: str = "raise"
) -> Iterator[bytes | Exception]:
    """Yield the blobs in input order (see `bitstore_app.core.Composite.get_many`).

    The configuration is read once, in the calling thread: the worker threads never touch
    the database, and every blob is fetched from the same tiers.
    """
    snapshot = configuration.snapshot()
    requester = current_requester()

    def one(sha1: str) -> bytes:
        return _data(_fetch(snapshot, sha1, requester))

    return map_in_order(one, hashes, workers or bitstore_settings.GET_MANY_WORKERS, errors)


@sensitive_variables()  # tiers hold resolved credentials
def exists(sha1: str) -> bool:
    """Return whether any tier holds the blob (existence checks, no download)."""
    return composite().exists(parse_sha1(sha1))


def missing(hashes: Iterable[str], include_paid: bool = False) -> list[str]:
    """Return the SHA1s of `hashes` that no tier holds (lower case, in input order, without
    repeats), asking with existence checks only; write-back sources only with `include_paid`.

    Raise `InvalidURI` for an entry that is not a SHA1, and `StoreNotAvailable` when a tier
    could not be asked about a blob that no other tier holds.
    """
    keys = [parse_sha1(sha1) for sha1 in hashes]
    workers = bitstore_settings.GET_MANY_WORKERS
    report = find_missing(composite(), keys, include_paid=include_paid, workers=workers)
    if report.undecided:
        tiers = sorted({tier for names in report.undecided.values() for tier in names})
        count = len(report.undecided)
        raise StoreNotAvailable(
            ", ".join(tiers), f"could not say whether {count} blob(s) exist: try again later"
        )
    return report.missing


@sensitive_variables()  # tiers hold resolved credentials
def put(sha1: str, data: bytes) -> None:
    """Verify the blob and write it into the tiers that accept puts, and the top cache level
    (without such a tier: into the cache level, when it is the only one and unbounded)."""
    composite().put(parse_sha1(sha1), data)


def open_writer(sha1: str) -> BlobWriter:
    """Return a streaming writer into the tiers a `put` writes to; its commit checks the
    SHA1."""
    return composite().open_writer(parse_sha1(sha1))


def size(sha1: str) -> int:
    """Return the blob's size in bytes, from the first tier that has it, without reading it."""
    with open(sha1, 0, 0) as stream:
        return stream.size


@sensitive_variables()  # tiers hold resolved credentials
def open(sha1: str, start: int = 0, end: int | None = None) -> BinaryIO:  # noqa: A001
    """Return a file that streams the blob (or bytes [start, end) of it) from the tiers."""
    return composite().open(parse_sha1(sha1), start, end)


@sensitive_variables()  # tiers hold resolved credentials
def open_recorded(sha1: str, start: int = 0, end: int | None = None) -> BinaryIO:
    """Like `open`, and record the read in the ledger and the metrics: a failure at once, a
    stream when it is closed, with the bytes actually read (a web response streams after its
    view has returned, so the requester is taken now)."""
    snapshot = configuration.snapshot()
    requester = current_requester()
    result = snapshot.composite.open_fetch(
        parse_sha1(sha1), start, end, on_close=lambda done: _record(done, snapshot, requester)
    )
    if result.error is not None:
        _record(result, snapshot, requester)
        raise result.error
    ledger.track(result.stream)
    return result.stream


def breaker_states() -> dict[str, str]:
    """Return each tier's circuit breaker state in this process: closed, open or half-open.

    A tier this process has not asked yet has no breaker, and is not listed."""
    return breaker.states()


@dataclass
class TierCheck:
    """The result of a live check of one tier: reachable, and whether it holds the key."""

    tier: str
    reachable: bool
    seconds: float
    error: str = ""
    holds: bool = False

    @property
    def milliseconds(self) -> float:
        return round(self.seconds * 1000, 1)


@sensitive_variables()  # tiers hold resolved credentials
def check_tier(spec: TierSpec, sha1: str = CHECK_SHA1) -> TierCheck:
    """Ask a tier live whether it holds `sha1` (by default a key no tier holds), without
    writing or downloading."""
    started = time.perf_counter()
    try:
        holds = build_tier(spec, guarded=False).exists(parse_sha1(sha1))
    except Exception as exc:
        return TierCheck(spec.name, False, time.perf_counter() - started, str(exc))
    return TierCheck(spec.name, True, time.perf_counter() - started, holds=holds)


def scrub_caches(names: Iterable[str] | None = None) -> list[ScrubReport]:
    """Re-verify the folders of the enabled filesystem cache levels (or of the ones named);
    remove what fails its SHA1, and count what is left (the level's bytes and blobs). Sources
    are never touched: their files are not ours."""
    from .models import Tier

    tiers = Tier.objects.enabled().filter(kind="filesystem", role=Tier.CACHE)
    if names is not None:
        tiers = tiers.filter(name__in=list(names))
    reports = []
    for tier in tiers:
        report = scrub_folder(tier.location, count=not tier.read_only)
        logger.info("scrub of tier %s: %s", tier.name, report.summary())
        reports.append(report)
    return reports


@dataclass
class Level:
    """One cache level as this process's configuration has it, and what it holds."""

    number: int
    tier: str
    kind: str
    read_only: bool
    max_bytes: int | None
    #: None when the level is not counted (a bucket; a folder never scrubbed nor bounded).
    usage: Usage | None
    error: str = ""


def cache_levels() -> list[Level]:
    """Return the cache levels, top first, each with what it holds as the level counts it:
    a bounded folder's shared count, a memory tier's (this process's), an unbounded folder's
    last scrub."""
    return _levels_of(configuration.snapshot())


def levels_in_use() -> list[Level]:
    """Return the cache levels of the configuration this process uses now, as
    `cache_levels` does, without reading the configuration (none before the first fetch):
    for /metrics, which must not pin a configuration a process has not asked for."""
    snapshot = configuration.current()
    return [] if snapshot is None else _levels_of(snapshot)


def sample_cache_levels(at: datetime | None = None) -> int:
    """Write a sample of what each counted cache level of the configuration in use holds
    (`levels_in_use`), for the minute of `at` (now); return how many were written. The
    ledger's background thread calls this at most once a minute (apps.py)."""
    usages = {level.tier: level.usage for level in levels_in_use() if level.usage is not None}
    return level_samples.record(usages, at) if usages else 0


def _levels_of(snapshot: Snapshot) -> list[Level]:
    specs = {spec.name: spec for spec in snapshot.specs}
    levels = []
    for number, store in enumerate(snapshot.composite.caches, 1):
        spec = specs[str(store)]
        level = Level(number, spec.name, spec.kind, spec.read_only, spec.max_bytes, None)
        try:
            level.usage = store.usage()
        except Exception as exc:  # a folder gone, a count that cannot be read: say so
            logger.warning("cache level %s: cannot count it: %s", spec.name, exc)
            level.error = str(exc)
        levels.append(level)
    return levels


def cached_file(sha1: str) -> BinaryIO | None:
    """Return the open file of a blob in the first filesystem cache level, and record the
    hit (a read of the level: it counts as recent use); None when there is no such level or
    it does not hold the blob (then the caller asks the tiers). The caller closes the file.

    The file was verified when it was written; it is not hashed here: `scrub_caches` re-checks
    the folder periodically. For the front server (X-Accel-Redirect, X-Sendfile) or the WSGI
    server (sendfile) to send; the front server's location serves this level's folder.
    """
    snapshot = configuration.snapshot()
    spec = next((s for s in snapshot.specs if s.kind == "filesystem" and s.role == "cache"), None)
    if spec is None:
        return None
    level = next(store for store in snapshot.composite.caches if str(store) == spec.name)
    key = parse_sha1(sha1)
    started = time.perf_counter()
    try:
        file = level.base_store.open_file(level.uri_of(key))
        size = os.fstat(file.fileno()).st_size
    except (BitstoreError, OSError):
        return None
    elapsed = time.perf_counter() - started
    result = Fetch(uri=key, served_by=spec.name, stream=file, bytes_read=size, seconds=elapsed)
    result.attempts.append(Attempt(spec.name, HIT, elapsed))
    _record(result, snapshot, current_requester())
    return file
