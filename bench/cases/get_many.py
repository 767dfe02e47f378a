"""Case 3: `get_many` of 2,000 blobs of 4 KiB with 16 workers, against the seed library
under `ultimap(..., backend="threading", n_workers=16)`.

Beside throughput, each run records the CPU time the moto server and this process spent per
blob, which shows whether the emulator or the client is the bottleneck.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..data import FIRST, KIB, blobs, put_s3
from ..layouts import our_composite, raw_s3_get, seed_composite
from ..report import CaseResult
from ..timing import Stats

TITLE = "get_many of 2,000 x 4 KiB, 16 workers (blobs per second)"
TARGET = 2.0
WORKERS = 16


def run(bench) -> CaseResult:
    from ultima import ultimap

    count = bench.sizes.many_count
    case = CaseResult(3, TITLE.replace("2,000", f"{count:,}"))
    items = blobs("many", count, 4 * KIB)
    hashes = put_s3(FIRST, items)
    expected = sorted(items)
    seed, ours = seed_composite(), our_composite()
    # Without a location index every blob is unseen: each get asks all three tiers at once.
    probing = our_composite(concurrent=True)
    raw = raw_s3_get(FIRST)
    # The seed's boto3 pool (10 connections) overflows with 16 threads; boto3 says so per call.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    contenders = {
        "seed": lambda keys: ultimap(seed.get, keys, backend="threading", n_workers=WORKERS),
        "ours": lambda keys: ours.get_many(keys, workers=WORKERS),
        "raw": lambda keys: _threads(raw, keys),
        "probing": lambda keys: probing.get_many(keys, workers=WORKERS),
    }
    warm = hashes[: WORKERS * 4]
    for name in contenders:  # warm up: clients, connection pools, threads
        _run(bench, contenders[name], warm, sorted(items[: len(warm)]))
    samples = {name: {"rate": [], "server": [], "client": []} for name in contenders}
    for repeat in range(bench.sizes.many_repeats):
        names = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        for name in names:
            rate, server_ms, client_ms = _run(bench, contenders[name], hashes, expected)
            samples[name]["rate"].append(rate)
            samples[name]["server"].append(server_ms)
            samples[name]["client"].append(client_ms)
    seed_row = case.add(
        "seed library under ultimap (threading, 16)", Stats.of(samples["seed"]["rate"], "blob/s")
    )
    ours_row = case.add(
        "bitstore get_many(workers=16)", Stats.of(samples["ours"]["rate"], "blob/s"), seed_row
    )
    case.add(
        "raw boto3, 16 threads, 32 pooled connections",
        Stats.of(samples["raw"]["rate"], "blob/s"),
        seed_row,
    )
    probing_stats = Stats.of(samples["probing"]["rate"], "blob/s")
    case.add("bitstore get_many, concurrent probes, unseen blobs", probing_stats, seed_row)
    for name, label in (("seed", "seed"), ("ours", "bitstore"), ("probing", "probing")):
        case.add(f"{label}: moto server CPU per blob", Stats.of(samples[name]["server"], "ms"))
        case.add(f"{label}: client CPU per blob", Stats.of(samples[name]["client"], "ms"))
    busy = _server_busy(samples, count)
    case.target(
        f"bitstore >= {TARGET}x the seed's throughput",
        ours_row.ratio,
        ours_row.ratio >= TARGET,
        f"moto's single process was busy {busy:.0%} of the wall time during bitstore's runs",
    )
    bench.spy("case3-moto", bench.emulators.s3.pid, lambda: list(ours.get_many(hashes)))
    bench.spy("case3-client", os.getpid(), lambda: list(ours.get_many(hashes)))
    return case


def _threads(get: Callable[[str], bytes], hashes: list[str]):
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(get, hashes))


def _run(bench, contender, keys: list[str], expected: list[bytes]) -> tuple[float, float, float]:
    """Return blobs per second, and the server's and this process's CPU ms per blob."""
    count = len(keys)
    server_before, client_before = bench.emulators.s3.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    results = list(contender(keys))
    elapsed = time.perf_counter() - started
    server = bench.emulators.s3.cpu_seconds() - server_before
    client = time.process_time() - client_before
    assert sorted(results) == expected, "a contender returned the wrong blobs"
    return count / elapsed, server / count * 1000, client / count * 1000


def _server_busy(samples: dict, count: int) -> float:
    """Return the share of the wall time moto spent on the CPU during bitstore's runs."""
    rate = sorted(samples["ours"]["rate"])[len(samples["ours"]["rate"]) // 2]
    server_ms = sorted(samples["ours"]["server"])[len(samples["ours"]["server"]) // 2]
    return server_ms / (1000 / rate)
