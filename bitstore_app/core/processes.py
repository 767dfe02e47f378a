"""`get_many` across worker processes: one interpreter, and so one GIL, per process.

A batch of small blobs is bound by the client's CPU (request signing, header parsing), and
threads of one process share one core's worth of it. Worker processes each run a copy of
the store with their share of the threads; the caller's process only hands out URIs and
collects bytes, in input order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .parallel import check, in_order, map_in_order
from .store import Store

logger = logging.getLogger(__name__)

#: URIs per task sent to a worker process, per thread it runs.
BATCH_PER_THREAD = 4

_pools: weakref.WeakKeyDictionary[Store, _Pool] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def get_many(
    store: Store, uris: Iterable[str], workers: int, errors: str, processes: int
) -> Iterator[bytes | Exception]:
    """Yield `store.get(uri)` for each URI in order, from `processes` worker processes that
    run `workers` threads between them.

    In a daemonic process (a Celery prefork child, a `multiprocessing` daemon), which may
    not start children, it logs a warning and uses `workers` threads of this process.
    """
    check(workers, errors)
    if processes < 1:
        raise ValueError(f"processes must be at least 1, not {processes}")
    if in_daemon():
        logger.warning(
            "%s: get_many(processes=%d) runs in %d threads instead: this process is"
            " daemonic and may not start worker processes",
            store,
            processes,
            workers,
        )
        return map_in_order(store.get, uris, workers=workers, errors=errors)
    threads = max(1, -(-workers // processes))
    return _flatten(store, _pool(store, processes, threads), uris, errors == "raise")


def in_daemon() -> bool:
    """Return whether this process is daemonic, and so may not start child processes."""
    if multiprocessing.current_process().daemon:
        return True
    billiard = sys.modules.get("billiard.process")  # Celery's fork of multiprocessing
    return billiard is not None and bool(billiard.current_process().daemon)


@dataclass
class _Pool:
    """Worker processes holding a copy of one store, as it was pickled."""

    pickled: bytes
    processes: int
    threads: int
    environment: dict[str, str]
    executor: ProcessPoolExecutor

    @classmethod
    def start(cls, pickled: bytes, processes: int, threads: int) -> _Pool:
        environment = dict(os.environ)
        # Forked from a clean server rather than from this process, which may hold locks
        # in other threads (a ledger writer, SDK connection pools) at the moment of a fork.
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None
        executor = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context(method),
            initializer=_adopt,
            initargs=(pickled, threads, environment),
        )
        return cls(pickled, processes, threads, environment, executor)

    def fits(self, pickled: bytes, processes: int, threads: int) -> bool:
        wanted = (pickled, processes, threads, os.environ)
        return (self.pickled, self.processes, self.threads, self.environment) == wanted


def _pool(store: Store, processes: int, threads: int) -> _Pool:
    """Return the store's worker processes, started anew when the store has changed since
    (its pickle differs: a tier was added), the environment has, or another size is asked
    for."""
    pickled = pickle.dumps(store)
    with _pools_lock:
        pool = _pools.get(store)
        if pool is None or not pool.fits(pickled, processes, threads):
            if pool is not None:
                pool.executor.shutdown(wait=False, cancel_futures=True)
            pool = _pools[store] = _Pool.start(pickled, processes, threads)
        return pool


def _flatten(store: Store, pool: _Pool, uris: Iterable[str], raise_errors: bool) -> Iterator:
    remaining, size = iter(uris), pool.threads * BATCH_PER_THREAD
    batches = iter(lambda: list(islice(remaining, size)), [])
    try:
        for results in in_order(pool.executor, _get_batch, batches, pool.processes * 2, True):
            for result in results:
                if raise_errors and isinstance(result, Exception):
                    raise result
                yield result
    except BrokenProcessPool:
        with _pools_lock:
            if _pools.get(store) is pool:
                del _pools[store]  # the next call starts new workers
        raise


# In a worker process: its copy of the store and its threads.
_store: Any = None
_threads: ThreadPoolExecutor | None = None


def _adopt(pickled: bytes, threads: int, environment: dict[str, str]) -> None:
    global _store, _threads
    # The fork server started with the environment of its time; SDKs read credentials and
    # endpoints from the caller's environment as it is now.
    os.environ.clear()
    os.environ.update(environment)
    _store = pickle.loads(pickled)
    _threads = ThreadPoolExecutor(threads, thread_name_prefix="bitstore")


def _get_batch(uris: list[str]) -> list[bytes | Exception]:
    """Return the blob of each URI, or the exception that fetching it raised."""
    return list(in_order(_threads, _store.get, iter(uris), len(uris), False))
