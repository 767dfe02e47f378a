"""Case 7: `get_many` at 20 ms a request: nginx behind a loopback proxy that holds every
request 20 ms (`bench.latency_proxy`, kept-alive connections included), at 16 and at 64
workers, against the seed library under `ultimap` with as many threads.

The most any client can do is min(workers / latency, cores / CPU per blob); threads of one
process are further bound by one GIL, 1 / CPU per blob. The table says which one binds.
"""

from __future__ import annotations

import logging
import os

from ultima import ultimap

from ..data import FIRST, KIB, blobs, write_files
from ..layouts import our_composite, seed_composite
from ..report import CaseResult
from ..servers import latency_proxy
from ..timing import Stats
from .get_many import load_note, measure

TITLE = "get_many at 20 ms latency, 16 and 64 workers (blobs per second)"
DELAY_MS = 20
WORKER_COUNTS = (16, 64)
SEED_TARGET = 2.0
BOUND_TARGET = 0.8
PROCESSES = 2


def run(bench) -> CaseResult:
    nginx = bench.need_nginx()
    count = bench.sizes.many_count
    case = CaseResult(7, TITLE)
    items = blobs("latency", count, 4 * KIB)
    hashes = write_files(bench.files, FIRST, items)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # pools overflow
    with latency_proxy(nginx, DELAY_MS) as proxy:
        seed, ours = seed_composite(s3=proxy.endpoint), our_composite(s3=proxy.endpoint)
        for workers in WORKER_COUNTS:
            contenders = {
                "seed": lambda keys, w=workers: ultimap(
                    seed.get, keys, backend="threading", n_workers=w
                ),
                "ours": lambda keys, w=workers: ours.get_many(keys, workers=w),
                "processes": lambda keys, w=workers: ours.get_many(
                    keys, workers=w, processes=PROCESSES
                ),
            }
            samples = measure(
                bench, contenders, hashes, sorted(items), proxy, bench.sizes.many_repeats
            )
            _report(case, workers, samples)
    case.notes.append(load_note())
    return case


def _report(case: CaseResult, workers: int, samples: dict) -> None:
    seed = case.add(
        f"{workers} workers: seed under ultimap (threading)",
        Stats.of(samples["seed"]["rate"], "blob/s"),
    )
    ours = case.add(
        f"{workers} workers: bitstore get_many (defaults: threads)",
        Stats.of(samples["ours"]["rate"], "blob/s"),
        seed,
    )
    processes = case.add(
        f"{workers} workers: bitstore get_many(processes={PROCESSES})",
        Stats.of(samples["processes"]["rate"], "blob/s"),
        seed,
    )
    for name, label in (("seed", "seed"), ("ours", "bitstore"), ("processes", "processes")):
        case.add(
            f"{workers} workers, {label}: client CPU per blob",
            Stats.of(samples[name]["client"], "ms"),
        )
    proxy_cpu = case.add(
        f"{workers} workers: latency proxy CPU per blob (bitstore's runs)",
        Stats.of(samples["ours"]["server"], "ms"),
    )
    case.target(
        f"{workers} workers: bitstore >= {SEED_TARGET}x the seed's blobs/s",
        ours.ratio,
        ours.ratio >= SEED_TARGET,
        _bound_note(workers, Stats.of(samples["seed"]["client"], "").median, "the seed"),
    )
    for row, name in ((ours, "ours"), (processes, "processes")):
        cpu_ms = Stats.of(samples[name]["client"], "").median
        bound, binds = _bound(workers, cpu_ms)
        share = row.stats.median / bound
        case.target(
            f"{workers} workers, {row.label.split(': ', 1)[1]}:"
            f" >= {BOUND_TARGET:.0%} of min(workers / latency, cores / CPU per blob)",
            share,
            share >= BOUND_TARGET,
            f"bound {bound:.0f} blob/s, set by {binds}; one process's threads share one GIL:"
            f" 1 / CPU per blob = {1000 / cpu_ms:.0f} blob/s; the proxy took"
            f" {proxy_cpu.stats.median:.2f} ms of CPU per blob",
        )


def _bound(workers: int, cpu_ms: float) -> tuple[float, str]:
    by_latency = workers / (DELAY_MS / 1000)
    by_cpu = (os.cpu_count() or 1) / (cpu_ms / 1000)
    if by_latency <= by_cpu:
        return by_latency, "the latency"
    return by_cpu, "the client's CPU"


def _bound_note(workers: int, seed_cpu_ms: float, who: str) -> str:
    bound, binds = _bound(workers, seed_cpu_ms)
    return f"{who}'s own bound is {bound:.0f} blob/s, set by {binds}"
