"""Case 8: a filesystem-cache hit, the hottest path once the caches work, against a plain
Python loop that opens the file, reads it and checks its SHA1.

Three ways in, on one folder: the bare core (`Sha1Composite` over a verifying
`Sha1Cache(FileSystemRaw)`), the service's composite (the same tier as the service builds
it: circuit breaker, negative cache, location index), and `bitstore_app.get` (the Django
layer with the ledger and the metrics on). Each round of `bitstore_app.get` ends by writing
the ledger records it made, so their cost is counted. Then `get_many` of every blob with 16
workers against the plain loop in 16 threads.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ..data import KIB, MIB, blobs
from ..django_env import make_tiers, setup
from ..report import CaseResult
from ..timing import Stats

TITLE = "filesystem-cache hit: get vs open, read and verify in plain Python (us per get)"
APP_TARGET = 1.5
CORE_TARGET = 1.3
WORKERS = 16


def run(bench) -> CaseResult:
    setup(bench.folder)
    import bitstore_app
    from bitstore_app import services
    from bitstore_app.core import FileSystemRaw, Sha1Cache, Sha1Composite
    from bitstore_app.ledger import buffer

    case = CaseResult(8, TITLE)
    folder = bench.folder / "disk-cache"
    folder.mkdir(exist_ok=True)
    # The plain loop checks the SHA1: so does the cache tier here.
    tier = {"name": "disk", "kind": "filesystem", "location": str(folder), "role": "cache"}
    make_tiers([tier | {"verify": True}])
    bare = Sha1Composite()
    bare.append_cache(Sha1Cache(FileSystemRaw(folder), "", verify=True))
    for size, label, count in (
        (4 * KIB, "4 KiB", bench.sizes.disk_blobs),
        (MIB, "1 MiB", max(bench.sizes.disk_blobs // 20, 2)),
    ):
        hashes = _write(folder, f"disk-{label}", count, size)
        contenders = {
            "plain": lambda sha1, f=folder: _plain(f, sha1),
            "core": bare.get,
            "service": services.composite().get,
            "app": bitstore_app.get,
        }
        calls = bench.sizes.disk_calls if size < MIB else max(bench.sizes.disk_calls // 20, 2)
        with _ledger_written_by_hand():
            flush = {"app": buffer.flush}
            samples = _rounds(contenders, hashes, calls, bench.sizes.rounds, after=flush)
        _report(case, label, samples)
    hashes = _write(folder, "disk-many", bench.sizes.disk_many, 4 * KIB)
    _many(case, folder, hashes, bitstore_app.get_many, bench.sizes.many_repeats)
    buffer.flush()
    _as_deployed(case, bench)
    return case


def _as_deployed(case: CaseResult, bench) -> None:
    """4 KiB hits with what a deployment turns on, in a process of their own: the ledger on
    PostgreSQL (COPY, by the background thread), metrics in multiprocess mode, a bounded
    cache level whose reads refresh recency (`bench.cases.ledger_child hits`)."""
    from .. import postgres

    reason = postgres.unavailable()
    if reason:
        case.notes.append(f"4 KiB as deployed: not measured ({reason})")
        return
    folder = bench.folder / "deployed"
    metrics = folder / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    arguments = (bench.sizes.disk_blobs, bench.sizes.disk_calls, bench.sizes.rounds)
    with postgres.database() as url:
        samples = postgres.run_child(
            url, "hits", folder, *arguments, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        )
    plain = case.add(
        "4 KiB as deployed, open, read, SHA1 in plain Python: CPU per get",
        Stats.of(samples["plain"], "us cpu"),
    )
    app = case.add(
        "4 KiB as deployed, bitstore_app.get (PostgreSQL ledger by COPY, multiprocess"
        " metrics, bounded cache): CPU per get",
        Stats.of(samples["app"], "us cpu"),
        plain,
    )
    case.target(
        f"4 KiB as deployed: bitstore_app.get <= {APP_TARGET}x the plain loop (CPU per get,"
        " the ledger's writing included)",
        app.ratio,
        app.ratio <= APP_TARGET,
        f"{app.stats.median:.0f} us against {plain.stats.median:.0f} us: recording the fetch"
        " (ledger entry, metrics), the service's checks and the ledger's COPY are each"
        " comparable to reading and hashing 4 KiB",
    )


@contextmanager
def _ledger_written_by_hand():
    """Keep the ledger's records in memory until `flush()`, so that writing them is timed
    apart (its background thread would write them at any moment of any round)."""
    from django.conf import settings
    from django.test import override_settings

    held = {"LEDGER_FLUSH_COUNT": 10**7, "LEDGER_FLUSH_INTERVAL": 3600, "LEDGER_MAX_BUFFER": 10**7}
    with override_settings(BITSTORE={**settings.BITSTORE, **held}):
        yield


def _plain(folder: Path, sha1: str) -> bytes:
    with open(folder / sha1, "rb") as file:
        data = file.read()
    if hashlib.sha1(data).hexdigest() != sha1:
        raise ValueError(f"{sha1} is corrupt")
    return data


def _write(folder: Path, tag: str, count: int, size: int) -> list[str]:
    hashes = []
    for data in blobs(tag, count, size):
        hashes.append(hashlib.sha1(data).hexdigest())
        (folder / hashes[-1]).write_bytes(data)
    return hashes


def _rounds(
    contenders: dict[str, Callable], hashes: list[str], calls: int, rounds: int, after: dict
) -> dict[str, dict[str, list[float]]]:
    """Return wall and CPU microseconds per call of each contender, one sample a round,
    taking turns; `after[name]()` runs inside the timing at the end of each of its rounds."""
    for get in contenders.values():
        for sha1 in hashes:
            get(sha1)  # every blob seen once: clients, location index, page cache
    samples = {name: {"wall": [], "cpu": [], "after": []} for name in contenders}
    for number in range(rounds):
        names = list(contenders) if number % 2 == 0 else list(reversed(contenders))
        for name in names:
            get, keys = contenders[name], [hashes[i % len(hashes)] for i in range(calls)]
            started, cpu = time.perf_counter(), time.process_time()
            for sha1 in keys:
                get(sha1)
            before_after = time.process_time()
            if name in after:
                after[name]()
            samples[name]["wall"].append((time.perf_counter() - started) / calls * 1e6)
            samples[name]["cpu"].append((time.process_time() - cpu) / calls * 1e6)
            samples[name]["after"].append((time.process_time() - before_after) / calls * 1e6)
    return samples


def _report(case: CaseResult, label: str, samples: dict) -> None:
    titles = {
        "plain": "open, read, SHA1 in plain Python",
        "core": "bare core Sha1Composite.get",
        "service": "the service's composite get (breaker, negative cache, index)",
        "app": "bitstore_app.get (ledger written, metrics)",
    }
    rows = {}
    for measure, unit in (("cpu", "us cpu"), ("wall", "us")):
        for name, title in titles.items():
            rows[name, measure] = case.add(
                f"{label}, {title}: {'CPU' if measure == 'cpu' else 'wall'} per get",
                Stats.of(samples[name][measure], unit),
                rows.get(("plain", measure)),
            )
    ledger = case.add(
        f"{label}, bitstore_app.get: of which writing its ledger record (the last flush)",
        Stats.of(samples["app"]["after"], "us cpu"),
    )
    for name, target in (("core", CORE_TARGET), ("app", APP_TARGET)):
        value = rows[name, "cpu"].ratio
        note = f"wall time {rows[name, 'wall'].ratio:.2f}x"
        if name == "app":
            note += (
                f"; the ledger's bulk_create into the benchmark's SQLite database took"
                f" {ledger.stats.median:.0f} us of it per record (see the ledger issue: COPY"
                f" on PostgreSQL), the service's composite {rows['service', 'cpu'].ratio:.2f}x"
            )
        case.target(
            f"{label}: {titles[name]} <= {target}x the plain loop (CPU per get)",
            value,
            value <= target,
            note,
        )


def _many(case: CaseResult, folder: Path, hashes: list[str], get_many, repeats: int) -> None:
    def plain_threads() -> list[bytes]:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(lambda sha1: _plain(folder, sha1), hashes))

    contenders = {
        "plain": plain_threads,
        "ours": lambda: list(get_many(hashes, workers=WORKERS)),
    }
    for work in contenders.values():
        work()
    rates = {name: [] for name in contenders}
    for number in range(max(repeats, 1)):
        names = list(contenders) if number % 2 == 0 else list(reversed(contenders))
        for name in names:
            started = time.perf_counter()
            assert len(contenders[name]()) == len(hashes)
            rates[name].append(len(hashes) / (time.perf_counter() - started))
    count = f"{len(hashes):,}"
    base = case.add(
        f"the plain loop in {WORKERS} threads, {count} x 4 KiB", Stats.of(rates["plain"], "blob/s")
    )
    row = case.add(
        f"bitstore_app.get_many(workers={WORKERS}), {count} x 4 KiB",
        Stats.of(rates["ours"], "blob/s"),
        base,
    )
    case.target(
        f"get_many of {count} cached blobs, {WORKERS} workers, against the plain loop in threads",
        row.ratio,
        None,
        f"{statistics.median(rates['ours']):.0f} blob/s",
    )
