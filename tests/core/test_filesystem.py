"""The raw-store contract for `FileSystemRaw`, and what only a disk needs: keys that cannot
escape the root, and writes that a killed writer cannot leave half done."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bitstore_app.core import FileSystemRaw, InvalidURI
from bitstore_app.core.tiers.filesystem import INCOMING
from tests.core.contract import Outage, OutageContract, RawStoreContract

REPO = Path(__file__).resolve().parents[2]

ESCAPES = [
    "../x",
    "../../etc/passwd",
    "a/../../x",
    "a/..",
    "..",
    ".",
    "/etc/passwd",
    "/",
    "a//b",
    "a/./b",
    "./a",
    "a/",
    "a\0b",
    "a\\..\\b",
    "",
]


class TestFileSystemRaw(RawStoreContract, OutageContract):
    invalid_uris = tuple(ESCAPES) + (None,)

    @pytest.fixture
    def store(self, tmp_path):
        return FileSystemRaw(tmp_path / "root")

    @pytest.fixture
    def uri(self):
        return lambda name: f"blobs/{name}"

    @pytest.fixture
    def outage(self, tmp_path):
        root = tmp_path / "mount"
        return Outage(
            store=FileSystemRaw(root, create=False),
            uri="blob",
            start=lambda: root.mkdir(exist_ok=True),
            stop=lambda: shutil.rmtree(root),
        )


@pytest.mark.parametrize("key", ESCAPES)
def test_keys_never_escape_the_root(tmp_path, key):
    root = tmp_path / "inner" / "root"
    root.mkdir(parents=True)
    (tmp_path / "x").write_bytes(b"outside")
    store = FileSystemRaw(root)
    with pytest.raises(InvalidURI):
        store.put(key, b"escaped")
    with pytest.raises(InvalidURI):
        store.get(key)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [tmp_path / "x"]
    assert (tmp_path / "x").read_bytes() == b"outside"


def test_put_creates_folders_and_leaves_no_temporary_files(tmp_path):
    store = FileSystemRaw(tmp_path)
    store.put("a/b/c/blob", b"deep")
    assert (tmp_path / "a" / "b" / "c" / "blob").read_bytes() == b"deep"
    assert [p.name for p in tmp_path.rglob(f"{INCOMING}*")] == []


WRITER = """
import sys
from bitstore_app.core import FileSystemRaw

store = FileSystemRaw(sys.argv[1])
size = int(sys.argv[2])
round = 0
while True:
    round += 1
    store.put("blobs/big", bytes([round % 256]) * size)
"""


def test_a_killed_writer_leaves_no_file_or_the_whole_file(tmp_path):
    size = 32 * 1024 * 1024
    folder = tmp_path / "blobs"
    target = folder / "big"
    store = FileSystemRaw(tmp_path)
    # The first kill lands in the writer's first write (no file yet); the others land in a
    # later write, over a complete earlier one.
    for after_a_whole_write in (False, True, True):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(size)], cwd=REPO
        )
        try:
            deadline = time.monotonic() + 30
            while after_a_whole_write and not target.exists():
                assert time.monotonic() < deadline, "the writer never finished a write"
                time.sleep(0.001)
            # Wait until a write is under way: its temporary file exists.
            while not (folder.is_dir() and any(folder.glob(f"{INCOMING}*"))):
                assert time.monotonic() < deadline, "the writer never started writing"
                assert writer.poll() is None, "the writer died"
                time.sleep(0.001)
            writer.send_signal(signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(10)
        assert target.exists() is after_a_whole_write
        if target.exists():
            data = target.read_bytes()
            assert len(data) == size
            assert data == data[:1] * size  # one whole write, never a mix of two
            assert store.get("blobs/big") == data
        # Whatever the killed write left behind is not a key.
        for leftover in folder.glob(f"{INCOMING}*"):
            name = f"blobs/{leftover.name}"
            assert store.is_valid(name) is False
            with pytest.raises(InvalidURI):
                store.get(name)
            with pytest.raises(InvalidURI):
                store.exists(name)
            leftover.unlink()


def test_missing_root_without_create_is_not_available(tmp_path):
    from bitstore_app.core import StoreNotAvailable

    store = FileSystemRaw(tmp_path / "absent", create=False)
    with pytest.raises(StoreNotAvailable):
        store.put("blob", b"x")
    assert not (tmp_path / "absent").exists()
    os.mkdir(tmp_path / "absent")
    store.put("blob", b"x")
    assert store.get("blob") == b"x"


def test_writer_leaves_no_temporary_file(tmp_path):
    store = FileSystemRaw(tmp_path)
    with store.open_writer("blobs/kept") as writer:
        writer.write(b"kept")
    dropped = store.open_writer("blobs/dropped")
    dropped.write(b"dropped")
    dropped.abort()
    assert sorted(path.name for path in (tmp_path / "blobs").iterdir()) == ["kept"]


def test_writer_memory_stays_bounded(tmp_path):
    # 32 MiB written in 64 KiB chunks: the writer holds a chunk, never the blob.
    import tracemalloc

    store = FileSystemRaw(tmp_path)
    chunk = os.urandom(64 * 1024)
    tracemalloc.start()
    try:
        with store.open_writer("blobs/big") as writer:
            for _ in range(512):
                writer.write(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "blobs" / "big").stat().st_size == 32 * 1024 * 1024
    assert peak < 2 * 1024 * 1024


def test_blob_files_get_the_mode_open_would_give_them(tmp_path):
    """Not mkstemp's 0600: a front server's worker (X-Accel-Redirect) must be able to read
    what the cache wrote, as it can read any file the process makes with `open()`."""
    from bitstore_app.core import FileSystemRaw

    FileSystemRaw(tmp_path).put("blobs/one", b"data")
    (tmp_path / "plain").write_bytes(b"data")
    mode = (tmp_path / "blobs" / "one").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777
