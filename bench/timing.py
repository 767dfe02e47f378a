"""Repeated measurements and their summary: median, min and max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Stats:
    """A summary of repeated measurements of one quantity, in `unit`."""

    unit: str
    median: float
    min: float
    max: float
    samples: list[float]

    @classmethod
    def of(cls, samples: list[float], unit: str) -> Stats:
        return cls(unit, statistics.median(samples), min(samples), max(samples), list(samples))

    def as_dict(self) -> dict:
        return asdict(self)


def per_call_ms(function: Callable[[], object], calls: int) -> tuple[float, float]:
    """Return the mean wall and CPU milliseconds (this process, all its threads) of one
    call, over `calls` back-to-back calls."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        function()
    wall = (time.perf_counter() - started) / calls * 1000
    return wall, (time.process_time() - cpu) / calls * 1000


def interleaved(
    contenders: dict[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, Stats]:
    """Time each contender `calls` times per round, taking turns round after round, so that
    drift in the servers' speed falls on all of them alike; one sample per round.

    Returns wall-time stats under each contender's name, and CPU-time stats under
    `name + " cpu"`.
    """
    for function in contenders.values():
        function()  # warm up: clients, connections, imports
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(rounds):
        names = list(contenders)
        if round_number % 2:
            names.reverse()
        for name in names:
            wall, cpu = per_call_ms(contenders[name], calls)
            walls[name].append(wall)
            cpus[name].append(cpu)
    stats = {name: Stats.of(values, "ms") for name, values in walls.items()}
    stats.update({f"{name} cpu": Stats.of(values, "ms cpu") for name, values in cpus.items()})
    return stats


def ratio(numerator: Stats, denominator: Stats) -> float:
    """Return how many times `denominator` `numerator` is.

    Samples taken in the same rounds (as many of each) are compared round by round and the
    median of those ratios is returned, which cancels the machine's drift between rounds;
    otherwise the ratio of the medians.
    """
    if len(numerator.samples) == len(denominator.samples) and min(denominator.samples) > 0:
        pairs = zip(numerator.samples, denominator.samples, strict=True)
        return statistics.median(n / d for n, d in pairs)
    return numerator.median / denominator.median
