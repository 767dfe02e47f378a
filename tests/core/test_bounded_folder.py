"""Bounded caches: a `filesystem` or `memory` tier with `max_bytes` keeps the raw-store
contract, stays at or under its size, evicts the least recently used first, records reads
at most once per interval, spares what was read in the last seconds, never breaks an open
reader, counts what a restart finds (an older release's files included), and stays right
when two processes fill and evict one folder."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bitstore_app.core import FileSystemRaw, InvalidURI, MemoryRaw, StoreNotAvailable
from bitstore_app.core.tiers.folder_budget import (
    LOCK_FILE,
    USAGE_FILE,
    _remove_if_unchanged,
    list_blobs,
)
from tests.core.contract import RawStoreContract

REPO = Path(__file__).resolve().parents[2]
KB = 50_000


class TestBoundedFileSystemRaw(RawStoreContract):
    invalid_uris = (USAGE_FILE, f"blobs/{LOCK_FILE}", None)

    @pytest.fixture
    def store(self, tmp_path):
        return FileSystemRaw(tmp_path / "root", max_bytes=10**9)

    @pytest.fixture
    def uri(self):
        return lambda name: f"blobs/{name}"


class TestBoundedMemoryRaw(RawStoreContract):
    invalid_uris = ("", None)
    shared = False

    @pytest.fixture
    def store(self):
        return MemoryRaw(max_bytes=10**9)

    @pytest.fixture
    def uri(self):
        return lambda name: f"blobs/{name}"


def blob(number, size=KB):
    return hashlib.sha256(str(number).encode()).digest() * (size // 32) + bytes(size % 32)


def folder_bytes(root):
    return sum(p.stat().st_size for p in Path(root).rglob("*") if not p.name.startswith("."))


def names(root):
    return sorted(p.name for p in Path(root).iterdir() if not p.name.startswith("."))


@pytest.fixture
def bounded(tmp_path):
    def make(max_bytes=200_000, **options):
        return FileSystemRaw(tmp_path / "cache", max_bytes=max_bytes, **options)

    return make


@pytest.mark.parametrize("kind", ["filesystem", "memory"])
def test_800_kb_into_200_kb_stays_under_and_keeps_the_most_recently_used(bounded, kind):
    store = bounded() if kind == "filesystem" else MemoryRaw(max_bytes=200_000)
    store.put("hot", blob("hot"))
    for number in range(16):  # 800 kB, the hot blob read between every two fills
        store.put(f"b{number:02}", blob(number))
        assert store.get("hot") == blob("hot")
        usage = store.usage()
        assert usage.bytes <= 200_000
        if kind == "filesystem":
            assert folder_bytes(store.root) == usage.bytes
    kept = names(store.root) if kind == "filesystem" else sorted(store.blobs)
    assert "hot" in kept and "b15" in kept and "b14" in kept
    assert "b00" not in kept and "b01" not in kept
    assert usage.evictions >= 12 and usage.max_bytes == 200_000


def test_a_read_refreshes_recency_at_most_once_per_interval(bounded):
    store = bounded(touch_interval=3600)
    store.put("a", blob("a"))
    path = store.root / "a"
    filled = path.stat().st_mtime
    assert filled < time.time() - store.budget.spare_window  # a fill is not "served"
    store.get("a")
    refreshed = path.stat().st_mtime_ns
    assert refreshed > filled * 1e9
    store.get("a")
    with store.open("a") as file:
        assert file.read() == blob("a")
    assert path.stat().st_mtime_ns == refreshed  # within the interval: no more writes


def test_a_blob_read_in_the_last_seconds_is_spared_and_the_fill_dropped(bounded):
    store = bounded(max_bytes=100_000, spare_seconds=3600)
    store.put("a", blob("a"))
    store.put("b", blob("b"))
    store.get("a")
    store.get("b")
    with pytest.raises(StoreNotAvailable, match="read in the last 3600 s"):
        store.put("c", blob("c"))
    assert names(store.root) == ["a", "b"] and folder_bytes(store.root) == 100_000
    assert not list(store.root.glob(".incoming-*"))


def test_eviction_never_breaks_a_reader_that_has_the_file_open(bounded):
    store = bounded(max_bytes=100_000, spare_seconds=0, touch_interval=0)
    store.put("a", blob("a"))
    reader = store.open("a")
    first = reader.read(1000)
    store.put("b", blob("b"))
    store.get("b")
    store.put("c", blob("c"))  # evicts "a", the least recently used
    assert not (store.root / "a").exists()
    assert first + reader.read() == blob("a")
    reader.close()


def test_a_restart_counts_what_is_there_files_of_an_older_release_included(bounded, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    for number in range(6):  # 300 kB written before max_bytes existed, oldest first
        (folder / f"old{number}").write_bytes(blob(number))
        os.utime(folder / f"old{number}", (1_000_000 + number, 1_000_000 + number))
    store = bounded()
    assert store.usage().bytes <= 180_000  # counted, and brought under the low watermark
    store.put("new", blob("new"))
    assert folder_bytes(folder) <= 200_000
    kept = names(folder)
    assert "new" in kept and "old5" in kept and "old0" not in kept
    restarted = bounded()  # another process, or this one after a restart
    assert restarted.usage().bytes == folder_bytes(folder)
    assert restarted.get("old5") == blob(5)


def test_the_count_follows_deletes_and_rewrites(bounded):
    store = bounded()
    store.put("a", blob("a"))
    store.put("a", blob("a"))  # written twice: one file
    store.put("b", blob("b"))
    store.delete("a")
    usage = store.usage()
    assert (usage.bytes, usage.blobs) == (KB, 1)


def test_a_count_run_high_by_hand_is_corrected_by_the_next_pass(bounded):
    store = bounded()
    for name in ("a", "b", "c"):
        store.put(name, blob(name))
    (store.root / "b").unlink()  # removed by hand: the count does not know
    assert store.usage().bytes == 3 * KB
    store.budget.evict()
    assert (store.usage().bytes, store.usage().blobs) == (2 * KB, 2)


def test_a_pass_leaves_a_blob_read_after_it_listed_the_folder(bounded):
    store = bounded(spare_seconds=0, touch_interval=0)
    store.put("a", blob("a"))
    listed = {Path(entry.path).name: entry for entry in list_blobs(store.root)}
    store.get("a")  # read between the listing and the removal: its time moved
    assert _remove_if_unchanged(listed["a"]) is False
    assert store.get("a") == blob("a")
    listed = {Path(entry.path).name: entry for entry in list_blobs(store.root)}
    assert _remove_if_unchanged(listed["a"]) is True


def test_a_blob_larger_than_the_level_is_not_kept(bounded):
    store = bounded(max_bytes=KB - 1)
    with pytest.raises(StoreNotAvailable, match="larger than max_bytes"):
        store.put("big", blob("big"))
    assert names(store.root) == []


def test_the_folders_own_files_are_never_keys(bounded):
    store = bounded()
    store.put("a", blob("a"))
    for name in (USAGE_FILE, LOCK_FILE):
        assert (store.root / name).exists()
        with pytest.raises(InvalidURI):
            store.get(name)


CHILD = """
import hashlib, json, random, sys
from bitstore_app.core import (
    FileSystemRaw, LocationIndex, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
)

root, second, seed, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
blobs = {}
for number in range(40):
    size = 5_000 + (number * 7919) % 55_000
    data = hashlib.sha256(str(number).encode()).digest() * (size // 32)
    blobs[hashlib.sha1(data).hexdigest()] = data
level = FileSystemRaw(root, max_bytes=300_000, spare_seconds=0, touch_interval=0)
composite = Sha1Composite(index=LocationIndex())  # it remembers blobs the other evicts
composite.check_reads = True
composite.verify_before_send_max_bytes = 20_000
composite.append_cache_level(Sha1Cache(level, "", verify=True))
# A second level: what the first evicts is promoted back from it, racing the evictions.
composite.append_cache_level(Sha1Cache(FileSystemRaw(second), "", verify=True))
composite.append_source(Sha1Store(MemoryRaw(blobs), ""), cache_result=True)
rng = random.Random(seed)
wrong = 0
for round in range(rounds):
    sha1 = rng.choice(sorted(blobs))
    if round % 2:
        got = composite.get(sha1)
    else:
        with composite.open(sha1) as stream:
            got = b"".join(iter(lambda: stream.read(7_000), b""))
    wrong += got != blobs[sha1]
print(json.dumps({"wrong": wrong, "evictions": level.usage().evictions}))
"""


def test_two_processes_filling_promoting_and_evicting_one_folder_never_serve_wrong_bytes(
    tmp_path,
):
    folder, second = tmp_path / "shared", tmp_path / "second"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder), str(second), str(seed), "600"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-3000:]
        reports.append(json.loads(out))
    assert [report["wrong"] for report in reports] == [0, 0]
    assert reports[-1]["evictions"] > 0
    assert folder_bytes(folder) <= 300_000
    assert not list(folder.glob(".incoming-*"))
    for path in [*folder.iterdir(), *second.iterdir()]:  # every entry whole and right
        if not path.name.startswith("."):
            assert hashlib.sha1(path.read_bytes()).hexdigest() == path.name
    assert len(names(second)) == 40 and not list(second.glob(".incoming-*"))
    usage = FileSystemRaw(folder, max_bytes=300_000).usage()
    assert usage.bytes >= folder_bytes(folder)  # the running count never runs low
