"""Parallel maps that keep the input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

ERROR_MODES = ("raise", "return")


def map_in_order(
    function: Callable[[T], R], items: Iterable[T], workers: int = 16, errors: str = "raise"
) -> Iterator[R | Exception]:
    """Yield `function(item)` for each item in order, running up to `workers` at once.

    At most a few calls per worker run ahead of the consumer, so a long input is not held
    in memory. `errors` is "raise" (raise the first failure at its place) or "return"
    (yield the exception object in place of the result).
    """
    check(workers, errors)
    return _in_threads(function, iter(items), workers, errors == "raise")


def check(workers: int, errors: str) -> None:
    """Raise ValueError for a worker count or an error mode that a parallel map rejects."""
    if errors not in ERROR_MODES:
        raise ValueError(f"errors must be one of {ERROR_MODES}, not {errors!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")


def _in_threads(function, items, workers, raise_errors):
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bitstore") as pool:
        yield from in_order(pool, function, items, workers * 4, raise_errors)


def in_order(
    pool: Executor, function: Callable, items: Iterator, ahead: int, raise_errors: bool
) -> Iterator:
    """Yield `function(item)` run in `pool` for each item in order, with at most `ahead`
    calls submitted and not yet yielded; cancel those not started when the consumer stops."""
    pending = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= ahead:
                yield _result(pending.popleft(), raise_errors)
        while pending:
            yield _result(pending.popleft(), raise_errors)
    finally:
        for future in pending:
            future.cancel()


def _result(future, raise_errors):
    exc = future.exception()
    if exc is None:
        return future.result()
    if raise_errors:
        raise exc
    return exc
