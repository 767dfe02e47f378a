"""Streaming writes: a blob written in chunks, made visible at once on `commit`.

`BlobWriter` is the one interface: the composite's tee into the cache, uploads over HTTP and
the Django Storage backend all write through it. A tier with no streaming write of its own
gets `SpooledWriter`, which spools to a temporary file and hands the whole file over on
commit; the tiers that can stream (files, S3, GCS) hand over the spool or rename a file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import BinaryIO

from .exceptions import BitstoreError, InvalidDataGiven

__all__ = [
    "BlobWriter",
    "FanOutWriter",
    "SpooledWriter",
    "WrappedWriter",
    "Sha1Writer",
    "WriterClosed",
]

logger = logging.getLogger(__name__)

#: Bytes a spooled writer keeps in memory before it moves to a file on disk.
SPOOL_MEMORY = 4 * 1024 * 1024

OPEN, COMMITTED, ABORTED = "open", "committed", "aborted"


class WriterClosed(BitstoreError, RuntimeError):
    """The writer was committed or aborted already."""

    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"cannot {action} a writer that was {state}", state, action)


class BlobWriter(ABC):
    """Write a blob in chunks; `commit` makes it visible atomically, `abort` drops it.

    As a context manager it commits when the block ends normally and aborts on an exception.
    Subclasses implement `_write`, `_commit` and `_abort`; this base keeps the state, so that
    a commit after an abort (or a second commit) raises, and `abort` is idempotent.
    """

    state = OPEN
    #: Bytes written so far.
    size = 0

    def write(self, chunk: bytes) -> None:
        """Append `chunk` to the blob."""
        self._require_open("write to")
        self._write(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        """Make the blob visible; on a failure, what was written is dropped and it raises."""
        self._require_open("commit")
        try:
            self._commit()
        except BaseException:
            self.state = ABORTED
            self._abort()
            raise
        self.state = COMMITTED

    def abort(self) -> None:
        """Drop everything written; calling it again, or after a commit, does nothing."""
        if self.state == OPEN:
            self.state = ABORTED
            self._abort()

    def _require_open(self, action: str) -> None:
        if self.state != OPEN:
            raise WriterClosed(self.state, action)

    @abstractmethod
    def _write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


class SpooledWriter(BlobWriter):
    """Spool to memory, then to a temporary file past `SPOOL_MEMORY` bytes; on commit,
    `upload(file)` receives the spool rewound to its start."""

    def __init__(self, upload: Callable[[BinaryIO], None], memory: int = SPOOL_MEMORY) -> None:
        self._upload = upload
        self.spool = tempfile.SpooledTemporaryFile(max_size=memory)  # noqa: SIM115

    def _write(self, chunk: bytes) -> None:
        self.spool.write(chunk)

    def _commit(self) -> None:
        self.spool.seek(0)
        try:
            self._upload(self.spool)
        finally:
            self.spool.close()

    def _abort(self) -> None:
        self.spool.close()


def put_on_commit(put: Callable[[bytes], None]) -> SpooledWriter:
    """Return a spooled writer that hands the whole blob to `put` on commit (for stores with
    no streaming write)."""
    return SpooledWriter(lambda file: put(file.read()))


class WrappedWriter(BlobWriter):
    """Pass a writer's calls through; `commit` runs as `around(inner.commit)`, then
    `after_commit()` (a wrapper's breaker, its memory of misses)."""

    def __init__(
        self,
        inner: BlobWriter,
        around: Callable[[Callable[[], None]], None] | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.inner = inner
        self._around = around
        self._after_commit = after_commit

    def _write(self, chunk: bytes) -> None:
        self.inner.write(chunk)

    def _commit(self) -> None:
        if self._around is None:
            self.inner.commit()
        else:
            self._around(self.inner.commit)
        if self._after_commit is not None:
            self._after_commit()

    def _abort(self) -> None:
        self.inner.abort()


class Sha1Writer(WrappedWriter):
    """Hash what is written; `commit` first checks that the SHA1 is `sha1`, and on a mismatch
    aborts (nothing becomes visible) and raises `InvalidDataGiven` (an `InvalidDataFound`)."""

    def __init__(self, inner: BlobWriter, sha1: str, store: object, **hooks) -> None:
        super().__init__(inner, **hooks)
        self.sha1 = sha1.lower()
        self._store = store
        self._hash = hashlib.sha1()

    def _write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        super()._write(chunk)

    def _commit(self) -> None:
        actual = self._hash.hexdigest()
        if actual != self.sha1:
            raise InvalidDataGiven(self._store, self.sha1, actual)
        super()._commit()


class FanOutWriter(BlobWriter):
    """Write one blob into several tiers at once.

    `required` writers (tier, writer) must all commit: a failure drops every writer and
    raises. `optional` ones are best effort: a tier whose write or commit fails is logged
    and left out. The required ones commit first, so an optional tier (a cache) never
    holds a blob whose durable write failed. `committed` lists the tiers that committed.
    """

    def __init__(
        self,
        required: list[tuple[object, BlobWriter]],
        optional: list[tuple[object, BlobWriter]] = (),
    ) -> None:
        self._required = list(required)
        self._optional = list(optional)
        self.committed: list[object] = []

    def _write(self, chunk: bytes) -> None:
        for _, writer in self._required:
            writer.write(chunk)
        for entry in list(self._optional):
            try:
                entry[1].write(chunk)
            except Exception as exc:  # a failing cache never fails the write
                self._drop(entry, exc)

    def _commit(self) -> None:
        for tier, writer in self._required:
            writer.commit()
            self.committed.append(tier)
        for entry in self._optional:
            try:
                entry[1].commit()
            except Exception as exc:
                logger.warning("%s: not written: %s", entry[0], exc)
            else:
                self.committed.append(entry[0])

    def _abort(self) -> None:
        for _, writer in self._required + self._optional:
            writer.abort()

    def _drop(self, entry: tuple[object, BlobWriter], exc: Exception) -> None:
        logger.warning("%s: not written: %s", entry[0], exc)
        entry[1].abort()
        self._optional.remove(entry)
