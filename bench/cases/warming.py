"""Case 6: warming 2,000 blobs from an HTTP API source (`bench.api_source`, its own process)
into the S3 cache tier with one real Celery worker (a subprocess): blobs per second.

The job is `bitstore_app.tasks.warm_cache.delay(hashes)`; it is done when every blob is in
the cache prefix. Redis database 9 is the broker. With `--profile`, py-spy samples the worker.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..data import KIB, blobs, count_s3_prefix, delete_s3_prefix, sha1
from ..django_env import BROKER, database_url, make_tiers, setup
from ..profiling import py_spy
from ..report import CaseResult
from ..servers import ROOT, api_source, cpu_seconds
from ..timing import Stats

TITLE = "warming 2,000 blobs from an HTTP API into the S3 cache, one Celery worker (blob/s)"
CACHE = "s3://bench-s3/warm-cache/"
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
    setup(bench.folder)
    reason = missing() or broker_problem()
    if reason:
        case.available = False
        case.notes.append(reason)
        return case
    import redis

    redis.Redis.from_url(BROKER).flushdb()  # database 9 is the benchmark's own
    hashes = [sha1(data) for data in blobs("warm", count, 4 * KIB)]
    with api_source(count, 4 * KIB, "warm") as api:
        make_tiers(
            [
                {"name": "warm-cache", "kind": "s3", "location": CACHE, "role": "cache"},
                {"name": "api", "kind": "http_api", "location": api.endpoint, "write_back": True},
            ]
        )
        with worker(bench) as process:
            _job(hashes[:5], 5)  # the worker is up, connected and has built its composite
            pids = {"worker": process.pid, "moto": bench.emulators.s3.pid, "api": api.pid}
            rates, cpu = [], {name: [] for name in pids}
            for _ in range(bench.sizes.warm_repeats):
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                rates.append(count / _job(hashes, count))
                for name, pid in pids.items():
                    cpu[name].append((cpu_seconds(pid) - before[name]) / count * 1000)
            if bench.profiles is not None:
                _profile(bench, process, hashes, count)
    case.add("warm_cache.delay(hashes): blobs in the cache per second", Stats.of(rates, "blob/s"))
    for name, label in (
        ("worker", "Celery worker"),
        ("moto", "moto server"),
        ("api", "API source"),
    ):
        case.add(f"{label}: CPU per blob", Stats.of(cpu[name], "ms cpu"))
    case.target("report blobs per second", None, None)
    return case


def _job(hashes: list[str], expected: int) -> float:
    """Empty the cache, enqueue one warm job and return the seconds until the job is done
    (its record says so: polling the database costs the S3 emulator nothing)."""
    from bitstore_app.models import WarmJob
    from bitstore_app.tasks import warm_cache

    delete_s3_prefix(CACHE)
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
    assert count_s3_prefix(CACHE) == expected
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


def _profile(bench, process: subprocess.Popen, hashes: list[str], count: int) -> None:
    py_spy(
        bench.profiles,
        "case6-worker",
        process.pid,
        lambda: _job(hashes, count),
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
