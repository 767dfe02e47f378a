"""Case 3: `get_many` of 2,000 blobs of 4 KiB with 16 workers from nginx (a read-only S3
stand-in whose CPU per request is a small fraction of the client's), against the seed
library under `ultimap(..., backend="threading", n_workers=16)` and raw boto3 in 16
threads; and bitstore with its workers spread over worker processes (`processes=2`).

Each run records the client's CPU per blob (this process and the worker processes it
started, not the servers) and nginx's: the client is then the bottleneck, and its CPU per
blob is what a library can change.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..data import FIRST, KIB, blobs, write_files
from ..layouts import our_composite, raw_s3_get, seed_composite
from ..report import CaseResult
from ..servers import tree_cpu_seconds
from ..timing import Stats

TITLE = "get_many of 2,000 x 4 KiB, 16 workers, from nginx (blobs per second)"
CPU_TARGET = 0.8
PROCESS_TARGET = 1.8
SEED_TARGET = 2.0
WORKERS = 16
PROCESSES = 2


def run(bench) -> CaseResult:
    from ultima import ultimap

    nginx = bench.need_nginx()
    count = bench.sizes.many_count
    case = CaseResult(3, TITLE.replace("2,000", f"{count:,}"))
    items = blobs("many", count, 4 * KIB)
    hashes = write_files(bench.files, FIRST, items)
    seed, ours = seed_composite(s3=nginx.endpoint), our_composite(s3=nginx.endpoint)
    raw = raw_s3_get(FIRST, s3=nginx.endpoint, pool=32)
    # The seed's boto3 pool (10 connections) overflows with 16 threads; boto3 says so per call.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    contenders = {
        "seed": lambda keys: ultimap(seed.get, keys, backend="threading", n_workers=WORKERS),
        "ours": lambda keys: ours.get_many(keys, workers=WORKERS),
        "raw": lambda keys: threads(raw, keys, WORKERS),
        "processes": lambda keys: ours.get_many(keys, workers=WORKERS, processes=PROCESSES),
    }
    samples = measure(bench, contenders, hashes, sorted(items), nginx, bench.sizes.many_repeats)
    rows = {}
    for name, label in (
        ("seed", "seed library under ultimap (threading, 16)"),
        ("ours", "bitstore get_many(workers=16)"),
        ("raw", "raw boto3, 16 threads, 32 pooled connections"),
        ("processes", f"bitstore get_many(workers=16, processes={PROCESSES})"),
    ):
        rows[name] = case.add(label, Stats.of(samples[name]["rate"], "blob/s"), rows.get("seed"))
    cpu = {}
    for name, label in (("seed", "seed"), ("ours", "bitstore"), ("raw", "raw boto3")):
        stats = Stats.of(samples[name]["client"], "ms")
        cpu[name] = case.add(f"{label}: client CPU per blob", stats, cpu.get("seed"))
    case.add(
        f"bitstore, {PROCESSES} processes: client CPU per blob (all processes)",
        Stats.of(samples["processes"]["client"], "ms"),
        cpu["seed"],
    )
    case.add("nginx CPU per blob (bitstore's runs)", Stats.of(samples["ours"]["server"], "ms"))
    cpu_ratio = cpu["ours"].ratio
    case.target(
        f"bitstore client CPU per blob <= {CPU_TARGET}x the seed's",
        cpu_ratio,
        cpu_ratio <= CPU_TARGET,
    )
    scaling = Stats.of(samples["processes"]["rate"], "blob/s").median / rows["ours"].stats.median
    case.target(
        f"get_many with {PROCESSES} processes >= {PROCESS_TARGET}x one process",
        scaling,
        scaling >= PROCESS_TARGET,
        contention_note(samples, count),
    )
    seed_ratio = rows["processes"].ratio
    case.target(
        f"get_many with {PROCESSES} processes >= {SEED_TARGET}x the seed's threads",
        seed_ratio,
        seed_ratio >= SEED_TARGET,
    )
    case.notes.append(load_note())
    bench.spy("case3-client", os.getpid(), lambda: list(ours.get_many(hashes)))
    return case


def threads(get: Callable[[str], bytes], hashes: list[str], workers: int):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(get, hashes))


def measure(bench, contenders: dict, hashes: list[str], expected, server, repeats: int) -> dict:
    """Run each contender `repeats` times, taking turns; return its samples: blobs per
    second, and the client's and the server's CPU ms per blob."""
    warm = hashes[: WORKERS * 4]
    for contender in contenders.values():  # clients, connection pools, threads, processes
        list(contender(warm))
    samples = {name: {"rate": [], "server": [], "client": []} for name in contenders}
    for repeat in range(repeats):
        names = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        for name in names:
            rate, server_ms, client_ms = run_once(bench, contenders[name], hashes, expected, server)
            samples[name]["rate"].append(rate)
            samples[name]["server"].append(server_ms)
            samples[name]["client"].append(client_ms)
    return samples


def run_once(bench, contender, keys, expected, server) -> tuple[float, float, float]:
    """Return blobs per second, and the server's and the client's CPU ms per blob (the
    client: this process and its worker processes, not the servers it started)."""
    count, servers = len(keys), bench.server_pids()
    server_before = server.cpu_seconds()
    client_before = tree_cpu_seconds(os.getpid(), servers)
    started = time.perf_counter()
    results = list(contender(keys))
    elapsed = time.perf_counter() - started
    client = tree_cpu_seconds(os.getpid(), servers) - client_before
    server_cpu = server.cpu_seconds() - server_before
    assert sorted(results) == expected, "a contender returned the wrong blobs"
    return count / elapsed, server_cpu / count * 1000, client / count * 1000


def contention_note(samples: dict, count: int) -> str:
    """Say how much of the machine the client had: the bound on one process is 1 / CPU per
    blob, on the machine cores / CPU per blob, less what other processes take."""
    rate = Stats.of(samples["processes"]["rate"], "").median
    cpu_ms = Stats.of(samples["processes"]["client"], "").median
    busy = rate * cpu_ms / 1000
    return (
        f"the client used {busy:.2f} of {os.cpu_count()} cores at {cpu_ms:.2f} ms of CPU per"
        f" blob; {load_note()}"
    )


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"
