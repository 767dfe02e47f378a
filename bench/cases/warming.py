"""Case 6: warming 2,000 blobs from an HTTP API source (`bench.api_source`, its own process)
into an S3 cache tier (nginx, whose CPU per request is a small fraction of the client's)
with one real Celery worker (a subprocess): blobs per second, and the worker's CPU per blob
against `get_many`'s in this process on the same tiers.

The job is `bitstore_app.tasks.warm_cache.delay(hashes)`; it is done when its record says
so, and then every blob must be in the cache's folder. Redis database 9 is the broker. With
`--profile`, py-spy samples the worker.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..data import KIB, blobs, sha1, split
from ..django_env import BROKER, database_url, make_tiers, setup
from ..profiling import py_spy
from ..report import CaseResult
from ..servers import ROOT, api_source, cpu_seconds
from ..timing import Stats

TITLE = "warming: 2,000 blobs from an HTTP API into an S3 cache, one Celery worker"
CACHE = "s3://bench-s3/warm-cache/"
TARGET = 1.5
WORKER_THREADS = 8
TIMEOUT = 300


def missing() -> str | None:
    """Return why the warming code cannot be benchmarked yet, or None when it can."""
    for module in ("bitstore_app.tasks", "bitstore_app.warming"):
        if importlib.util.find_spec(module) is None:
            return f"{module} does not exist yet (the Celery warming issue)"
    from bitstore_app import tasks

    if not hasattr(tasks, "warm_cache"):
        return "bitstore_app.tasks has no warm_cache task yet"
    return None


def broker_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {BROKER} is not reachable: {exc}"
    return None


def run(bench) -> CaseResult:
    count = bench.sizes.warm_count
    case = CaseResult(6, TITLE.replace("2,000", f"{count:,}"))
    nginx = bench.need_nginx()
    setup(bench.folder)
    reason = missing() or broker_problem()
    if reason:
        case.available = False
        case.notes.append(reason)
        return case
    import redis

    redis.Redis.from_url(BROKER).flushdb()  # database 9 is the benchmark's own
    hashes = [sha1(data) for data in blobs("warm", count, 4 * KIB)]
    cache = _CacheFolder(bench.files, CACHE)
    with api_source(count, 4 * KIB, "warm") as api:
        cache_tier = {"name": "warm-cache", "kind": "s3", "location": CACHE, "role": "cache"}
        make_tiers(
            [
                cache_tier | {"options": {"endpoint_url": nginx.endpoint}},
                {"name": "api", "kind": "http_api", "location": api.endpoint, "write_back": True},
            ]
        )
        with worker(bench) as process:
            _job(cache, hashes[:5], 5)  # the worker is up, connected and has built its composite
            pids = {"worker": process.pid, "nginx": nginx.pid, "api": api.pid}
            rates, cpu = [], {name: [] for name in pids}
            reads = {"cached": [], "written back": []}
            for _ in range(bench.sizes.warm_repeats):
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                rates.append(count / _job(cache, hashes, count))
                for name, pid in pids.items():
                    cpu[name].append((cpu_seconds(pid) - before[name]) / count * 1000)
                reads["cached"].append(_get_many_cpu(hashes))
                cache.empty()
                reads["written back"].append(_get_many_cpu(hashes))
                assert cache.count() == count
            if bench.profiles is not None:
                _profile(bench, process, cache, hashes, count)
    _report(case, rates, cpu, reads)
    return case


def _report(case: CaseResult, rates: list, cpu: dict, reads: dict) -> None:
    case.add("warm_cache.delay(hashes): blobs in the cache per second", Stats.of(rates, "blob/s"))
    worker_row = case.add("Celery worker: CPU per warmed blob", Stats.of(cpu["worker"], "ms cpu"))
    cached = case.add(
        f"get_many(workers={WORKER_THREADS}) of the cached blobs: CPU per blob (1 GET)",
        Stats.of(reads["cached"], "ms cpu"),
    )
    written = case.add(
        f"get_many(workers={WORKER_THREADS}), cache empty, written back: CPU per blob"
        " (GET miss, API GET, PUT)",
        Stats.of(reads["written back"], "ms cpu"),
    )
    for name, label in (("nginx", "nginx (the S3 cache)"), ("api", "API source")):
        case.add(f"{label}: CPU per warmed blob", Stats.of(cpu[name], "ms cpu"))
    # The baseline ("2.5 ms for a get_many blob") is a get_many that fetches and
    # writes back, as warming does: the same three requests a blob.
    ratio = worker_row.stats.median / written.stats.median
    case.target(
        f"a warmed blob's CPU <= {TARGET}x a get_many blob's that is written back",
        ratio,
        ratio <= TARGET,
        f"both ask three times per blob (warming: HEAD the cache, GET the source, PUT the"
        f" cache); against a get_many of cached blobs (one GET) it is"
        f" {worker_row.stats.median / cached.stats.median:.2f}x",
    )


def _get_many_cpu(hashes: list[str]) -> float:
    """Return this process's CPU ms per blob of `bitstore_app.get_many` over the hashes."""
    import bitstore_app

    started = time.process_time()
    assert sum(1 for _ in bitstore_app.get_many(hashes, workers=WORKER_THREADS)) == len(hashes)
    return (time.process_time() - started) / len(hashes) * 1000


class _CacheFolder:
    """The cache tier's objects, as files in the folder nginx serves."""

    def __init__(self, root, prefix: str) -> None:
        bucket, key_prefix = split(prefix)
        self.folder = root / bucket / key_prefix

    def empty(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def count(self) -> int:
        return sum(1 for _ in self.folder.iterdir()) if self.folder.exists() else 0


def _job(cache: _CacheFolder, hashes: list[str], expected: int) -> float:
    """Empty the cache, enqueue one warm job and return the seconds until the job is done
    (its record says so)."""
    from bitstore_app.models import WarmJob
    from bitstore_app.tasks import warm_cache

    cache.empty()
    started = time.perf_counter()
    task = warm_cache.delay(hashes)
    finished = (WarmJob.DONE, WarmJob.DONE_WITH_ERRORS)
    while not WarmJob.objects.filter(task_id=task.id, status__in=finished).exists():
        if time.perf_counter() - started > TIMEOUT:
            raise TimeoutError(f"the warm job did not finish in {TIMEOUT} s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    job = WarmJob.objects.get(task_id=task.id)
    assert (job.warmed, job.failed) == (expected, 0), f"warmed {job.warmed}, failed {job.failed}"
    assert cache.count() == expected
    return elapsed


#: What a warm task's time is spent on, for the profile's summary.
ACTIVITIES = {
    "cache exists check (S3 HEAD)": "S3Raw.exists",
    "API source fetch (HTTP GET)": "HTTPAPISource",
    "cache write (S3 PUT)": "put_or_raise",
    "SHA1 verification": "verify_sha1",
    "job and chunk bookkeeping (database)": "_count (bitstore_app/warming",
    "rate limits": "rate_limits",
    "Celery's task plumbing": "trace_task",
}


def _profile(bench, process: subprocess.Popen, cache, hashes: list[str], count: int) -> None:
    py_spy(
        bench.profiles,
        "case6-worker",
        process.pid,
        lambda: _job(cache, hashes, count),
        groups=ACTIVITIES,
    )


@contextmanager
def worker(bench) -> Iterator[subprocess.Popen]:
    """Run one Celery worker subprocess on the benchmark's database and broker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(bench.folder),
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "threads"]
    command += ["-c", str(WORKER_THREADS), "-l", "warning", "-n", "bench@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(bench.folder / "worker.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
