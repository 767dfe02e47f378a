"""Storing a blob from a stream: uploads over HTTP, `put(file)` and the Django Storage.

The bytes are hashed as they arrive and written through the composite's streaming writer
(`core/writer.py`), so memory stays bounded at any size; the blob becomes visible only after
its SHA1 checked out. A blob some tier holds already is not written again.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from . import services
from .conf import bitstore_settings
from .core import InvalidDataGiven, StoreNotAvailable, parse_sha1

logger = logging.getLogger(__name__)

#: Bytes of an upload of unknown SHA1 kept in memory before it is spooled to disk.
SPOOL_MEMORY = 4 * 1024 * 1024
#: Bytes copied at a time from the spool into the tier.
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    """What a store did: the blob's SHA1, its size, and whether it was written (False: some
    tier held it already)."""

    sha1: str
    size: int
    created: bool


class TooLarge(ValueError):
    """The blob is larger than `UPLOAD_MAX_SIZE` allows."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the blob is larger than UPLOAD_MAX_SIZE ({limit} bytes)")


def store(
    chunks: Iterable[bytes],
    sha1: str | None = None,
    max_size: int | None = None,
    skip_existing: bool = True,
) -> Stored:
    """Store the blob made of `chunks`; with `sha1`, refuse bytes of another SHA1
    (`InvalidDataGiven`) before anything is visible. Raise `TooLarge` past `max_size` bytes
    (default `UPLOAD_MAX_SIZE`; 0 for no limit). With `skip_existing`, a blob some tier holds
    is checked and not written again."""
    limit = bitstore_settings.UPLOAD_MAX_SIZE if max_size is None else max_size
    if sha1 is None:
        return _store_unnamed(chunks, limit, skip_existing)
    key = parse_sha1(sha1)
    if skip_existing and _held(key):
        digest, size = _hash(chunks, limit)
        _check(key, digest)
        return Stored(key, size, created=False)
    with services.open_writer(key) as writer:  # its commit checks the SHA1 itself
        for chunk in _bounded(chunks, limit):
            writer.write(chunk)
    return Stored(key, writer.size, created=True)


def _store_unnamed(chunks: Iterable[bytes], limit: int, skip_existing: bool) -> Stored:
    """Spool the blob to learn its SHA1, then write it from the spool."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
        digest, size = _hash(chunks, limit, into=spool)
        key = digest.hexdigest()
        if skip_existing and _held(key):
            return Stored(key, size, created=False)
        spool.seek(0)
        with services.open_writer(key) as writer:
            shutil.copyfileobj(spool, writer, COPY_CHUNK)
    return Stored(key, size, created=True)


def _held(key: str) -> bool:
    """Return whether some tier holds the blob; when a tier cannot be asked, write anyway
    (writing a blob twice is harmless, refusing an upload is not)."""
    try:
        return services.exists(key)
    except StoreNotAvailable as exc:
        logger.info("storing %s without knowing whether it is held: %s", key, exc)
        return False


def _hash(chunks: Iterable[bytes], limit: int, into=None):
    digest, size = hashlib.sha1(), 0
    for chunk in _bounded(chunks, limit):
        digest.update(chunk)
        size += len(chunk)
        if into is not None:
            into.write(chunk)
    return digest, size


def _check(key: str, digest) -> None:
    if digest.hexdigest() != key:
        raise InvalidDataGiven("upload", key, digest.hexdigest())


def _bounded(chunks: Iterable[bytes], limit: int) -> Iterable[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if limit and size > limit:
            raise TooLarge(limit)
        if chunk:
            yield chunk


def chunks_of(file, chunk_size: int = COPY_CHUNK) -> Iterable[bytes]:
    """Yield a binary file's bytes in chunks (a Django `File` has `chunks()` already)."""
    while chunk := file.read(chunk_size):
        yield chunk
