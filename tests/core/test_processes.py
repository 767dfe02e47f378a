"""`get_many(processes=N)`: worker processes that hold a copy of the store, the blobs in
input order, failures in place, and threads instead inside a daemonic process."""

import hashlib
import logging
import multiprocessing
import os
import time

import billiard
import pytest

from bitstore_app.core import (
    Composite,
    FileSystemRaw,
    NotFoundInStore,
    S3Raw,
    Sha1Composite,
    Sha1Store,
    Store,
    get_many,
)
from bitstore_app.core import processes as worker_processes
from tests.core.conftest import unique


class PidStore(Store):
    """Answer every key with the id of the process that served it, after `delay` seconds."""

    def __init__(self, delay=0.0):
        super().__init__()
        self.delay = delay

    def is_valid(self, uri):
        return True

    def get(self, uri):
        time.sleep(self.delay)
        if uri == "missing":
            raise NotFoundInStore(self, uri)
        return f"{uri}:{os.getpid()}".encode()


def pid_composite(delay=0.0):
    store = Composite()
    store.append_source(PidStore(delay))
    return store


def served_by(results):
    return {int(result.split(b":")[1]) for result in results}


def test_the_blobs_come_from_worker_processes_in_input_order():
    store, keys = pid_composite(), [f"k{i}" for i in range(200)]
    results = list(store.get_many(keys, workers=4, processes=2))
    assert [result.split(b":")[0].decode() for result in results] == keys
    pids = served_by(results)
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_the_worker_processes_are_kept_for_the_next_call_until_the_store_changes():
    # Slow enough that one worker cannot finish a batch before the other takes the next (on
    # a loaded machine one worker took every blob of 20 calls without it).
    store = pid_composite(delay=0.005)
    first: set[int] = set()
    for attempt in range(20):
        first |= served_by(store.get_many([f"a{attempt}-{i}" for i in range(100)], processes=2))
        if len(first) == 2:
            break
    assert len(first) == 2
    again = served_by(store.get_many([f"b{i}" for i in range(100)], processes=2))
    assert again <= first
    store.append_source(PidStore())  # a new tier: the old copies are out of date
    changed = served_by(store.get_many([f"c{i}" for i in range(100)], processes=2))
    assert not changed & first


def test_failures_are_raised_in_their_place_or_returned_in_place():
    store = pid_composite()
    results = store.get_many(["a", "missing", "c"], processes=2)
    assert next(results).startswith(b"a:")
    with pytest.raises(NotFoundInStore):
        next(results)
    returned = list(store.get_many(["a", "missing", "c"], errors="return", processes=2))
    assert isinstance(returned[1], NotFoundInStore) and returned[2].startswith(b"c:")


def test_bad_options_are_refused_before_any_work():
    with pytest.raises(ValueError, match="processes"):
        pid_composite().get_many(["a"], processes=-1)
    with pytest.raises(ValueError, match="errors"):
        pid_composite().get_many(["a"], errors="ignore", processes=2)


def test_sdk_tiers_work_from_worker_processes(s3_bucket, s3_server, tmp_path):
    """A pickled S3 tier builds its own client in each worker; a filesystem tier reads the
    same folder."""
    blobs = [f"blob {i}".encode() for i in range(40)]
    keys = [hashlib.sha1(blob).hexdigest() for blob in blobs]
    s3 = Sha1Store(S3Raw(endpoint_url=s3_server.endpoint), f"s3://{s3_bucket}/p/")
    disk = Sha1Store(FileSystemRaw(tmp_path), "blobs/")
    for index, (key, blob) in enumerate(zip(keys, blobs, strict=True)):
        (s3 if index % 2 else disk).put(key, blob)
    store = Sha1Composite()
    store.append_source(disk)
    store.append_source(s3)
    assert list(store.get_many(keys, workers=4, processes=2)) == blobs
    assert list(get_many(store, keys, workers=4, processes=2)) == blobs


def _in_daemon(queue, tag):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger(worker_processes.__name__).addHandler(handler)
    results = list(pid_composite().get_many([tag, "x"], workers=2, processes=2))
    queue.put((served_by(results), os.getpid(), [record.getMessage() for record in records]))


@pytest.mark.parametrize("kind", ["multiprocessing", "billiard"])
def test_a_daemonic_process_uses_threads_and_says_so(kind):
    """A multiprocessing daemon, and billiard's (Celery's prefork children), may not start
    children: get_many falls back to threads of that process and logs why."""
    library = multiprocessing.get_context("fork") if kind == "multiprocessing" else billiard
    queue = library.Queue()
    child = library.Process(target=_in_daemon, args=(queue, unique()), daemon=True)
    child.start()
    pids, child_pid, messages = queue.get(timeout=30)
    child.join(10)
    assert pids == {child_pid}
    assert any("daemonic" in message and "threads" in message for message in messages)
