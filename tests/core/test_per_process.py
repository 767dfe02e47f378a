"""One helper for per-process state: rebuilt in a forked child, left out of a pickle."""

import multiprocessing
import pickle
import threading

import pytest

from bitstore_app.core import LocationIndex, MemoryRaw
from bitstore_app.core.breaker import CircuitBreaker
from bitstore_app.core.first_hit import ProbePool
from bitstore_app.core.negative_cache import NegativeCache
from bitstore_app.core.per_process import PerProcess, ProcessLock
from bitstore_app.core.singleflight import SingleFlight


def in_fork_child(work):
    """Return what `work()` returns in a forked child of this process."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()

    def run():
        try:
            child.send(("ok", work()))
        except BaseException as exc:
            child.send(("error", repr(exc)))

    process = context.Process(target=run)
    process.start()
    status, value = parent.recv() if parent.poll(20) else ("error", "the child did not answer")
    process.join(10)
    assert status == "ok", value
    return value


class Thing:
    def __init__(self):
        self.pid = multiprocessing.current_process().pid


def test_get_builds_once_per_process_and_a_failed_build_is_not_kept():
    holder = PerProcess()
    first = holder.get(Thing)
    assert holder.get(Thing) is first and holder.peek() is first

    def fail():
        raise OSError("endpoint down")

    empty = PerProcess()
    with pytest.raises(OSError):
        empty.get(fail)
    assert empty.peek() is None
    assert isinstance(empty.get(Thing), Thing)


def test_threads_racing_on_first_use_share_one_value():
    holder, seen, start = PerProcess(), [], threading.Barrier(8)

    def work():
        start.wait()
        seen.append(holder.get(Thing))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(value) for value in seen}) == 1


def test_a_forked_child_builds_its_own_value():
    holder = PerProcess()
    parent_value = holder.get(Thing)
    child_pid, child_kept_it = in_fork_child(
        lambda: (holder.get(Thing).pid, holder.peek() is parent_value)
    )
    assert child_pid != parent_value.pid and not child_kept_it
    assert holder.get(Thing) is parent_value  # the parent's is untouched


def test_a_pickled_copy_starts_empty():
    holder = PerProcess()
    holder.get(lambda: threading.Lock())  # a lock cannot be pickled: it must not be
    assert pickle.loads(pickle.dumps(holder)).peek() is None


def test_a_lock_held_by_another_thread_at_fork_time_is_free_in_the_child():
    lock, held, release = ProcessLock(), threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:

        def take():
            with lock:
                return "taken"

        assert in_fork_child(take) == "taken"
    finally:
        release.set()
        thread.join()


def test_discard_lets_only_the_first_of_several_failures_apply_its_change():
    holder, changes = PerProcess(), []
    failed = holder.get(Thing)
    assert holder.discard(failed, lambda: changes.append(1) or True)
    replacement = holder.get(Thing)
    assert holder.discard(failed, lambda: changes.append(2) or True)  # already replaced
    assert changes == [1] and holder.peek() is replacement
    assert not holder.discard(replacement, lambda: False) and holder.peek() is replacement


def test_every_stateful_core_object_pickles_and_works_in_a_forked_child():
    breaker = CircuitBreaker(1, 60, "flaky")
    breaker._answered(False, ok=False)
    misses = NegativeCache(60)
    misses.add("gone", misses.generation())
    index = LocationIndex()
    index.remember("key", "tier")
    objects = [breaker, misses, index, ProbePool(), SingleFlight(), MemoryRaw({"a": b"1"})]
    for thing in objects:
        pickle.loads(pickle.dumps(thing))
    assert breaker.state == "open" and "gone" in misses

    def child():
        pool_answer = ProbePool().submit(2, lambda: 42).result(5)
        flight = SingleFlight().do("k", lambda: "led")
        return breaker.state, "gone" in misses, index.get("key"), pool_answer, flight

    # The child starts with a closed circuit and no misses, as a fresh process would; the
    # location index keeps what the parent learnt (a preloaded index serves every worker).
    assert in_fork_child(child) == ("closed", False, "tier", 42, "led")
