"""A tier on a local or mounted disk."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from ..exceptions import NotFoundInStore, StoreNotAvailable, TierConfigError
from ..store import Store
from ..usage import Usage
from ..writer import BlobWriter
from .folder_budget import FolderBudget, NoRoom, counted_usage
from .folder_names import INCOMING, OWN

__all__ = ["INCOMING", "FileSystemRaw", "relative_parts"]
RELATIVE_KEY_HINT = "a relative path below the root, such as blobs/<sha1>"
HIDDEN = (INCOMING, OWN)  # the prefixes of files in the folder that are not blobs


def relative_parts(uri: object) -> list[str] | None:
    """Return the segments of a relative key such as `blobs/<sha1>`, or None when the key is
    not one: absolute, empty, with empty, `.` or `..` segments, a backslash or a NUL."""
    if not isinstance(uri, str) or not uri or "\0" in uri or "\\" in uri:
        return None
    parts = uri.split("/")
    for part in parts:  # a loop, not any() over a generator: this runs on every cache hit
        if part in ("", ".", ".."):  # "" also where the key starts with "/"
            return None
    return parts


class FileSystemRaw(Store):
    """Blobs as files below a root folder, keyed by relative paths such as `blobs/<sha1>`.

    With `create` (the default) folders are made as needed, and a missing root is an empty
    store; without it, the root must exist (a mount point), or the tier is not available.
    Keys can never escape the root. Writes are atomic: a temporary file in the same folder,
    flushed to disk, then renamed over the key, so a reader never sees a partial blob.

    With `max_bytes`, the folder is a bounded cache: it stays at or under that many bytes,
    the least recently used blobs evicted first (see `folder_budget.py` for the watermarks,
    the recency kept in the files' times, the spare window and the locking).
    """

    URI_HINT = RELATIVE_KEY_HINT
    LOCATION_HINT = "an absolute folder"

    @classmethod
    def tier_arguments(cls, location: str, role: str, credentials: Any) -> tuple[list, dict]:
        if not location.startswith("/"):
            raise TierConfigError("the location must be an absolute folder path", "location")
        # A cache makes its folder on first write; a source whose folder is missing is
        # misconfigured (a typo, an unmounted disk) and says so instead of looking empty.
        return [location], {"create": role == "cache"}

    @classmethod
    def key_prefix(cls, location: str) -> str:
        return ""  # the location is the root folder, keys are relative to it

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        create: bool = True,
        max_bytes: int | None = None,
        low_watermark: float = 0.9,
        spare_seconds: float = 5.0,
        touch_interval: float = 1.0,
    ) -> None:
        self.root = Path(root).absolute()
        self.create = create
        self.budget = None
        if max_bytes is not None:
            self.budget = FolderBudget(
                self.root,
                max_bytes,
                low_watermark=low_watermark,
                spare_seconds=spare_seconds,
                touch_interval=touch_interval,
            )

    def bounded(self) -> bool:
        return self.budget is not None

    def usage(self) -> Usage | None:
        if self.budget is not None:
            return self.budget.usage()
        return counted_usage(self.root)  # as the last scrub counted it

    def describe(self) -> str:
        return f"file://{self.root}"

    def is_valid(self, uri: str) -> bool:
        return self._name_or_none(uri) is not None

    def _name_or_none(self, uri: object) -> str | None:
        parts = relative_parts(uri)
        if parts is None:
            return None
        # A write killed midway leaves its temporary file behind: it must not read as a blob,
        # and neither must the files a bounded folder keeps its count in.
        for part in parts:  # a loop, not any() over a generator: this runs on every hit
            if part.startswith(HIDDEN):
                return None
        # A string, not a Path: on a cache hit, building a Path costs as much as the read;
        # the key's segments are checked, so it is the path below the root as it stands.
        return f"{self.root}{os.sep}{uri}"

    def path(self, uri: str) -> Path:
        """Return the file that holds the URI."""
        return Path(self._name(uri))

    def _name(self, uri: str) -> str:
        name = self._name_or_none(uri)
        if name is None:
            self.check_uri(uri)
        return name

    def get(self, uri: str) -> bytes:
        # Unbuffered: the whole file in one read, sized by one fstat.
        with self._open(uri, buffering=0) as file:
            return file.readall()

    def open(self, uri: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return _FileSlice(self._open(uri), start, end)

    def open_file(self, uri: str) -> BinaryIO:
        """Return the blob's file, open (a front server or sendfile sends it), counted as a
        read of the blob."""
        return self._open(uri)

    def _open(self, uri: str, buffering: int = -1) -> BinaryIO:
        try:
            file = open(self._name(uri), "rb", buffering=buffering)  # noqa: SIM115 - the caller's
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            self._check_root()
            raise NotFoundInStore(self, uri) from None
        except OSError as exc:
            raise StoreNotAvailable(self, str(exc)) from exc
        if self.budget is not None:
            self.budget.touched(file.fileno())
        return file

    def exists(self, uri: str) -> bool:
        if self.path(uri).is_file():
            return True
        self._check_root()
        return False

    def put(self, uri: str, data: bytes) -> None:
        with self.open_writer(uri) as writer:
            writer.write(data)

    def delete(self, uri: str) -> None:
        path = self.path(uri)
        try:
            size = path.stat().st_size if self.budget is not None else 0
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreNotAvailable(self, f"cannot delete {uri}: {exc}") from exc
        if self.budget is not None:
            self.budget.removed(size)

    def open_writer(self, uri: str) -> BlobWriter:
        path = self.path(uri)
        try:
            if self.create:
                path.parent.mkdir(parents=True, exist_ok=True)
            else:
                self._check_root()
            return _FileWriter(self, uri, path)
        except OSError as exc:
            raise StoreNotAvailable(self, f"cannot write {uri}: {exc}") from exc

    def _check_root(self) -> None:
        # With `create`, a missing root is an empty store that the first write creates;
        # without it, the root is a mount that should be there.
        if not self.create and not self.root.is_dir():
            raise StoreNotAvailable(self, f"the folder {self.root} does not exist")


def _file_mode() -> int:
    """Return the mode `open()` gives a new file in this process: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: Blob files are readable as the process's umask allows, as files it writes with `open()`
#: are (an nginx worker sends them under X-Accel-Redirect). Read once, at import.
FILE_MODE = _file_mode()


class _FileWriter(BlobWriter):
    """A temporary file in the blob's folder, flushed to disk and renamed over the key on
    commit, so that a reader never sees a partial blob."""

    def __init__(self, store: FileSystemRaw, uri: str, path: Path) -> None:
        self._store, self._uri, self._path = store, uri, path
        fd, self._temp = tempfile.mkstemp(dir=path.parent, prefix=INCOMING)
        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would hide blobs from a front server
        self._file = os.fdopen(fd, "wb")

    def _write(self, chunk: bytes) -> None:
        with self._translating():
            self._file.write(chunk)

    def _commit(self) -> None:
        budget = self._store.budget
        with self._translating():
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if budget is None:
                os.replace(self._temp, self._path)
                return
            try:
                budget.place(self._temp, str(self._path))
            except NoRoom as exc:
                raise StoreNotAvailable(self._store, f"not keeping {self._uri}: {exc}") from None

    def _abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp)

    @contextlib.contextmanager
    def _translating(self):
        try:
            yield
        except OSError as exc:
            raise StoreNotAvailable(self._store, f"cannot write {self._uri}: {exc}") from exc


class _FileSlice:
    """An open file limited to bytes [start, end), with the whole file's `size`."""

    def __init__(self, file: BinaryIO, start: int, end: int | None) -> None:
        self._file = file
        self.size = os.fstat(file.fileno()).st_size
        start = max(self.size + start, 0) if start < 0 else start  # the last -start bytes
        self._remaining = (self.size if end is None else min(end, self.size)) - start
        if self._remaining > 0:
            file.seek(start)  # not past the end: the OS refuses offsets beyond 2**62 or so

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._remaining:
            size = max(self._remaining, 0)
        data = self._file.read(size)
        self._remaining -= len(data)
        return data

    def readinto(self, target) -> int:
        view = memoryview(target)[: max(self._remaining, 0)]
        count = self._file.readinto(view)
        self._remaining -= count
        return count

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> _FileSlice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
