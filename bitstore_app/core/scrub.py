"""Re-verify a folder of SHA1-named blobs, like git-annex fsck: remove what fails.

A filesystem cache checks a blob when it is written. Served by the front server
(X-Accel-Redirect) it is not hashed again per request, so a disk error or a hand edit would
go unnoticed: a periodic scrub hashes every entry and removes the ones whose content no
longer matches their name, and the temporary files of writes killed midway.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .sha1 import is_sha1
from .tiers.filesystem import INCOMING
from .tiers.folder_budget import recount

logger = logging.getLogger(__name__)

#: Bytes read at a time while hashing: memory stays bounded for any blob size.
CHUNK = 1024 * 1024
#: A temporary file older than this (seconds) belongs to a write that died.
STALE_INCOMING = 3600.0


@dataclass
class ScrubReport:
    """What one scrub of a folder found."""

    folder: str
    checked: int = 0
    bytes_checked: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_removed: int = 0
    stale_removed: int = 0

    def summary(self) -> str:
        return (
            f"{self.folder}: {self.checked} blobs checked ({self.bytes_checked} bytes), "
            f"{len(self.removed)} removed as corrupt, {self.stale_removed} stale temporary "
            "files removed"
        )


def sha1_of_file(path: Path) -> str:
    """Return the SHA1 of a file's content, read in chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def scrub_folder(
    folder: str | os.PathLike, now: float | None = None, count: bool = False
) -> ScrubReport:
    """Hash every SHA1-named file below `folder`; remove those whose content differs. With
    `count` (a cache level), keep what is left as the folder's bytes and blobs (see
    `folder_budget`): the figures of an unbounded level, a correction for a bounded one."""
    root = Path(folder)
    report = ScrubReport(str(root))
    now = time.time() if now is None else now
    if not (count and root.is_dir()):
        _walk(root, report, now)
        return report
    with recount(root) as record:
        _walk(root, report, now)
        record(report.bytes_checked - report.bytes_removed, report.checked - len(report.removed))
    return report


def _walk(root: Path, report: ScrubReport, now: float) -> None:
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if name.startswith(INCOMING):
                report.stale_removed += _remove_if_stale(path, now)
            elif is_sha1(name):
                _check(path, name, report)


def _check(path: Path, name: str, report: ScrubReport) -> None:
    try:
        before = path.stat()
        actual = sha1_of_file(path)
        report.checked += 1
        report.bytes_checked += before.st_size
        # A write renames a new file over the key: only the file that was hashed goes.
        if actual == name.lower() or path.stat().st_ino != before.st_ino:
            return
        path.unlink()
    except FileNotFoundError:  # evicted meanwhile: nothing to check
        return
    logger.warning("scrub: %s held data with SHA1 %s: removed", path, actual)
    report.removed.append(name)
    report.bytes_removed += before.st_size


def _remove_if_stale(path: Path, now: float) -> int:
    try:
        if now - path.stat().st_mtime < STALE_INCOMING:
            return 0
        path.unlink()
    except FileNotFoundError:  # its write just finished or was aborted
        return 0
    return 1
