"""A folder of blobs kept at or under a size, least recently used out first.

Recency is the file's modification time, which bitstore sets itself: a read refreshes it
(at most once per `touch_interval` seconds, so a hot blob costs one `utime` a second, not
one a read), and a new entry is dated just before the spare window (see below). The file
system's access time is never used: most hosts mount with `relatime` or `noatime`.

The folder is the truth. Every process that writes keeps one shared running count, in the
file `.bitstore-usage` of the folder, changed under `flock`: a fill adds its size before
its rename. When a fill would take the count past `max_bytes` (the high watermark), an
eviction pass, one process at a time (`.bitstore-evict.lock`), lists the folder, counts
what is there (files left by an older release included), and removes the least recently
used blobs until the total is under the low watermark (`low_watermark` times `max_bytes`).
Each process also runs a pass before its first fill, so that a restart counts what is
there. Between passes the count may run high (a blob written twice, a file removed by
hand): a pass corrects it.

A blob read in the last `spare_seconds` is never evicted: a front server handed its path
(X-Accel-Redirect) may be about to open it. A reader that has the file open is never
broken: on POSIX, removing a file leaves it readable to whoever holds it open. When every
blob left is that recent, the fill that needed room is dropped rather than letting the
folder grow past `max_bytes`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..per_process import PerProcess, ProcessLock
from ..usage import Usage
from .folder_names import INCOMING, OWN

logger = logging.getLogger(__name__)

USAGE_FILE = OWN + "usage"
LOCK_FILE = OWN + "evict.lock"
#: The usage file's size: a fixed width, so that a write never leaves old bytes behind.
USAGE_WIDTH = 256


class NoRoom(Exception):
    """The folder cannot take a blob without going past its size."""


@dataclass
class Counts:
    """What the usage file holds."""

    bytes: int = 0
    blobs: int = 0
    #: Bytes and blobs ever added by fills: a pass adds what came in while it listed.
    added_bytes: int = 0
    added_blobs: int = 0
    evictions: int = 0
    #: When a pass last listed the folder (seconds since the epoch); 0: never.
    counted_at: float = 0.0


class UsageFile:
    """The counts of one folder, shared by every process that writes into it."""

    def __init__(self, root: Path) -> None:
        self.path = root / USAGE_FILE
        self._file: PerProcess = PerProcess()
        self._lock = ProcessLock()  # threads share the process's file, and so its flock

    def read(self) -> Counts | None:
        """Return the counts, or None when the folder was never counted."""
        if not self.path.exists():
            return None
        with self._locked(fcntl.LOCK_SH) as file:
            return _parse(os.pread(file.fileno(), USAGE_WIDTH, 0))

    @contextlib.contextmanager
    def change(self):
        """Yield the counts to change in place; they are written back when the block ends."""
        with self._locked(fcntl.LOCK_EX) as file:
            counts = _parse(os.pread(file.fileno(), USAGE_WIDTH, 0)) or Counts()
            yield counts
            text = json.dumps(vars(counts), separators=(",", ":")).encode()
            os.pwrite(file.fileno(), text.ljust(USAGE_WIDTH), 0)

    @contextlib.contextmanager
    def _locked(self, operation: int):
        with self._lock:
            file = self._file.get(self._open)
            fcntl.flock(file.fileno(), operation)
            try:
                yield file
            finally:
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)

    def _open(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return os.fdopen(fd, "r+b", buffering=0)


def _parse(raw: bytes) -> Counts | None:
    try:
        return Counts(**json.loads(raw.decode().strip() or "null"))
    except (ValueError, TypeError):
        return None  # never written, or by a crash midway: the next pass recounts


@dataclass
class _Entry:
    mtime_ns: int
    size: int
    path: str
    inode: int


def list_blobs(root: Path) -> list[_Entry]:
    """Return every blob file below `root`: not the temporary files of writes in progress,
    not bitstore's own files."""
    entries, folders = [], [str(root)]
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with listing:
            for entry in listing:
                if entry.name.startswith((INCOMING, OWN)):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        stat = entry.stat(follow_symlinks=False)
                        found = _Entry(stat.st_mtime_ns, stat.st_size, entry.path, stat.st_ino)
                        entries.append(found)
                except FileNotFoundError:
                    continue  # evicted or replaced meanwhile
    return entries


class FolderBudget:
    """Keep the blobs below `root` at or under `max_bytes` (see the module's docstring)."""

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        *,
        low_watermark: float = 0.9,
        spare_seconds: float = 5.0,
        touch_interval: float = 1.0,
    ) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive number of bytes, not {max_bytes!r}")
        if not 0 < low_watermark <= 1:
            raise ValueError(f"low_watermark must be above 0 and at most 1, not {low_watermark}")
        if spare_seconds < 0 or touch_interval < 0:
            raise ValueError("spare_seconds and touch_interval cannot be negative")
        self.root = root
        self.max_bytes = max_bytes
        self.low_bytes = int(max_bytes * low_watermark)
        self.spare_seconds = spare_seconds
        self.touch_interval = touch_interval
        self.counts = UsageFile(root)
        self._lock_file: PerProcess = PerProcess()
        self._passing = ProcessLock()
        self._counted_here: PerProcess[threading.Event] = PerProcess()
        self._touch_failed = False

    @property
    def spare_window(self) -> float:
        """Seconds since its recorded use within which a blob is spared: a read refreshes
        the time only when it is `touch_interval` old, so a blob read `spare_seconds` ago may
        carry a time that much older still."""
        return self.spare_seconds + self.touch_interval

    # reading

    def touched(self, target: int | str) -> None:
        """Record a read of a blob (an open file descriptor, or a path), at most once per
        `touch_interval` seconds."""
        try:
            if time.time() - os.stat(target).st_mtime >= self.touch_interval:
                os.utime(target)
        except FileNotFoundError:
            return
        except OSError as exc:  # not the files' owner, a read-only mount: LRU becomes FIFO
            if not self._touch_failed:
                self._touch_failed = True
                logger.warning("%s: cannot record reads (eviction suffers): %s", self.root, exc)

    # writing

    def place(self, temp: str, path: str) -> None:
        """Rename the finished file `temp` over `path`, counted, after making room for it;
        raise `NoRoom` when there is none (then `temp` is left to the caller).

        The rename happens under the count's lock, so a pass never lists the folder between
        a fill's count and its rename. The new entry is dated just outside the spare window:
        nobody has been handed its path yet (it ranks as a blob read that long ago)."""
        size = os.stat(temp).st_size
        if size > self.max_bytes:
            raise NoRoom(f"a blob of {size} bytes is larger than max_bytes ({self.max_bytes})")
        when = time.time() - self.spare_window - 1
        os.utime(temp, (when, when))
        if not self._counted_here.get(threading.Event).is_set():
            self.evict(room=size)  # a scan at start: count what is there
        if self._rename(temp, path, size):
            return
        self.evict(room=size, unless_room=True)
        if not self._rename(temp, path, size):
            raise NoRoom(
                f"{self.root} holds {self.max_bytes} bytes at most, and every blob left was "
                f"read in the last {self.spare_seconds:g} s"
            )

    def _rename(self, temp: str, path: str, size: int) -> bool:
        with self.counts.change() as counts:
            replaced = _size_or_zero(path)  # a blob written again: one file, its new size
            if counts.bytes - replaced + size > self.max_bytes:
                return False
            os.replace(temp, path)
            counts.bytes += size - replaced
            counts.added_bytes += size - replaced
            if not replaced:
                counts.blobs += 1
                counts.added_blobs += 1
        return True

    def removed(self, size: int) -> None:
        """Count a blob removed from the folder (a cache entry that failed its check)."""
        with self.counts.change() as counts:
            counts.bytes = max(counts.bytes - size, 0)
            counts.blobs = max(counts.blobs - 1, 0)

    # the pass

    def evict(self, room: int = 0, unless_room: bool = False) -> int:
        """List the folder and count it; when it holds more than `max_bytes - room`, remove
        the least recently used blobs until it holds at most the low watermark (and room for
        `room` bytes). One pass at a time on a host; return how many blobs it removed. With
        `unless_room`, nothing is done when the count has room (a pass that ran while this
        one waited for its turn made it)."""
        with self._passing, self._pass_lock():
            before = self.counts.read() or Counts()  # fills from here on are added below
            if unless_room and before.bytes + room <= self.max_bytes:
                return 0
            entries = list_blobs(self.root)
            total = sum(entry.size for entry in entries)
            removed = 0
            if total + room > self.max_bytes:
                target = min(self.low_bytes, self.max_bytes - room)
                total, removed = self._remove_oldest(entries, total, target)
            with self.counts.change() as counts:
                counts.bytes = total + counts.added_bytes - before.added_bytes
                counts.blobs = len(entries) - removed + counts.added_blobs - before.added_blobs
                counts.evictions += removed
                counts.counted_at = time.time()
        self._counted_here.get(threading.Event).set()
        return removed

    def _remove_oldest(self, entries: list[_Entry], total: int, target: int) -> tuple[int, int]:
        spared_from = (time.time() - self.spare_window) * 1e9
        removed = 0
        for entry in sorted(entries, key=lambda entry: entry.mtime_ns):
            if total <= target or entry.mtime_ns > spared_from:
                break  # the rest are newer: all spared
            if _remove_if_unchanged(entry):
                total -= entry.size
                removed += 1
        return total, removed

    @contextlib.contextmanager
    def _pass_lock(self):
        file = self._lock_file.get(self._open_lock)
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)

    def _open_lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        return os.fdopen(fd, "r+b", buffering=0)

    def usage(self) -> Usage:
        """Return what the folder holds; a folder never counted is counted now."""
        if not self.root.is_dir():
            return Usage(0, 0, max_bytes=self.max_bytes)
        counts = self.counts.read()
        if counts is None or not counts.counted_at:
            self.evict()
            counts = self.counts.read() or Counts()
        return Usage(
            counts.bytes, counts.blobs, counts.evictions, self.max_bytes, counts.counted_at
        )


def _size_or_zero(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _remove_if_unchanged(entry: _Entry) -> bool:
    """Remove a listed blob unless it was read (its time moved) or replaced since."""
    try:
        stat = os.lstat(entry.path)
        if stat.st_ino != entry.inode or stat.st_mtime_ns != entry.mtime_ns:
            return False
        os.unlink(entry.path)
    except FileNotFoundError:
        return False  # removed by someone else: not counted twice
    return True


def counted_usage(root: Path) -> Usage | None:
    """Return what an unbounded folder held when it was last counted (by a scrub), or None."""
    if not root.is_dir():
        return None
    counts = UsageFile(root).read()
    if counts is None or not counts.counted_at:
        return None
    return Usage(counts.bytes, counts.blobs, counts.evictions, None, counts.counted_at)


@contextlib.contextmanager
def recount(root: Path):
    """Around a walk of the whole folder (a scrub): yield a function that records the
    walk's bytes and blobs as the folder's count, with what fills brought in meanwhile."""
    usage_file = UsageFile(root)
    before = usage_file.read() or Counts()

    def record(total: int, blobs: int) -> None:
        with usage_file.change() as counts:
            counts.bytes = total + counts.added_bytes - before.added_bytes
            counts.blobs = blobs + counts.added_blobs - before.added_blobs
            counts.counted_at = time.time()

    yield record
