"""Measure the ledger on PostgreSQL in this fresh process and print the result as JSON:

    DATABASE_URL=postgres://... python -m bench.cases.ledger_child writes RECORDS ROUNDS
    DATABASE_URL=postgres://... python -m bench.cases.ledger_child gets FOLDER BLOBS CALLS ROUNDS
    DATABASE_URL=postgres://... python -m bench.cases.ledger_child hits FOLDER BLOBS CALLS ROUNDS
    DATABASE_URL=postgres://... python -m bench.cases.ledger_child statistics ROWS ROUNDS

`writes`: records made from real `Fetch` objects through `ledger.buffer.record`, written by
the background thread as deployed (COPY and the rollups), until the last one is committed;
and the same entries through the old path (`bulk_create`, no rollups). `gets`: 16 threads
of `bitstore_app.get` on filesystem-cache hits, the ledger on and off in turns. `statistics`:
ROWS ledger rows over 30 days written by the ledger's own writer, then the admin statistics
page (and the query under it) timed over the 30 days.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def configure(**values) -> None:
    from django.conf import settings

    from bitstore_app.conf import bitstore_settings

    settings.BITSTORE = values
    bitstore_settings.reload()


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bitstore_app_fetchrecord, bitstore_app_ledgerrollup")


def sample_fetch(index: int):
    """A cache miss served by a source and written back: three attempts, like production."""
    from bitstore_app.core.trace import Attempt, Fetch

    return Fetch(
        uri=f"{index:040x}",
        data=b"x" * 4096,
        served_by="source",
        attempts=[
            Attempt("cache", "not_found", 0.0002),
            Attempt("gcs", "not_found", 0.004),
            Attempt("source", "hit", 0.012),
        ],
        written_to=["cache"],
        seconds=0.017,
    )


def _bulk_create(batch: list[dict]) -> None:
    from bitstore_app.models import FetchRecord

    FetchRecord.objects.bulk_create([FetchRecord(**e) for e in batch], batch_size=1000)


def writes(records: int, rounds: int) -> dict:
    from bitstore_app.ledger import buffer
    from bitstore_app.ledger.writer import write_batch
    from bitstore_app.models import FetchRecord
    from bitstore_app.requester import Requester

    fetches = [sample_fetch(n) for n in range(1000)]
    requester, tier_ids = Requester(), {"cache": None, "gcs": None, "source": None}
    sustained, old = [], []
    for _ in range(rounds):
        truncate()
        configure(LEDGER_BACKGROUND_FLUSH=True, LEDGER_MAX_BUFFER=records * 2)
        started = time.perf_counter()
        for n in range(records):
            buffer.record(fetches[n % 1000], tier_ids, requester)
        buffer.stop(timeout=600)  # the thread writes what is buffered, then the rest:
        buffer.flush()
        sustained.append(records / (time.perf_counter() - started))
        assert FetchRecord.objects.count() == records, "every record written"
        # The old path, end to end as the issue measured it: buffered, then one flush by
        # bulk_create (no rollups), put in place of the writer in the module that calls it.
        truncate()
        configure(LEDGER_BACKGROUND_FLUSH=False, LEDGER_FLUSH_COUNT=records * 2)
        started = time.perf_counter()
        for n in range(records):
            buffer.record(fetches[n % 1000], tier_ids, requester)
        buffer_module = importlib.import_module("bitstore_app.ledger.buffer")
        buffer_module.write_batch = _bulk_create
        try:
            buffer.flush()
        finally:
            buffer_module.write_batch = write_batch
        old.append(records / (time.perf_counter() - started))
        assert FetchRecord.objects.count() == records, "every record written"
    return {"sustained": sustained, "bulk_create": old}


def gets(folder: str, blobs: int, calls: int, rounds: int, threads: int = 16) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import bitstore_app
    from bitstore_app import services
    from bitstore_app.ledger import buffer
    from bitstore_app.models import FetchRecord, Tier

    cache, source = Path(folder, "cache"), Path(folder, "source")
    cache.mkdir(parents=True, exist_ok=True)
    source.mkdir(parents=True, exist_ok=True)
    hashes = []
    for n in range(blobs):
        data = random.Random(n).randbytes(4096)
        sha1 = hashlib.sha1(data).hexdigest()
        (cache / sha1).write_bytes(data)
        hashes.append(sha1)
    Tier.objects.all().delete()
    Tier.objects.create(name="disk-cache", kind="filesystem", location=str(cache), role="cache")
    Tier.objects.create(name="source", kind="filesystem", location=str(source), position=1)
    services.configuration.invalidate()
    truncate()
    per_thread = calls // threads

    def work(offset: int) -> None:
        for n in range(per_thread):
            bitstore_app.get(hashes[(offset + n) % blobs])

    rates = {"on": [], "off": []}
    with ThreadPoolExecutor(threads) as pool:
        for round_number in range(rounds + 1):  # the first round warms up, uncounted
            order = ("on", "off") if round_number % 2 else ("off", "on")
            for ledger in order:
                configure(LEDGER_ENABLED=ledger == "on", LEDGER_BACKGROUND_FLUSH=True)
                started = time.perf_counter()
                list(pool.map(work, [t * per_thread for t in range(threads)]))
                rate = per_thread * threads / (time.perf_counter() - started)
                if round_number:
                    rates[ledger].append(rate)
    buffer.stop(timeout=600)
    buffer.flush()
    rates["recorded"] = FetchRecord.objects.count()
    return rates


def hits(folder: str, blobs: int, calls: int, rounds: int) -> dict:
    """CPU per call, in microseconds, of one thread's 4 KiB filesystem-cache hits as
    deployed: a bounded cache level (its reads refresh recency), the ledger written by its
    background thread with COPY (each round ends when its records are committed), metrics in
    multiprocess mode (PROMETHEUS_MULTIPROC_DIR is set by the parent); against the plain
    open, read and SHA1 loop on the same files. The CPU is the whole process's."""
    import bitstore_app
    from bitstore_app import services
    from bitstore_app.ledger import buffer
    from bitstore_app.models import Tier

    cache = Path(folder, "deployed-cache")
    cache.mkdir(parents=True, exist_ok=True)
    hashes = []
    for n in range(blobs):
        data = random.Random(-n).randbytes(4096)
        hashes.append(hashlib.sha1(data).hexdigest())
        (cache / hashes[-1]).write_bytes(data)
    Tier.objects.all().delete()
    bound = 100 * blobs * 4096  # room for all: the reads refresh recency, nothing is evicted
    Tier.objects.create(
        name="disk", kind="filesystem", location=str(cache), role="cache", max_bytes=bound
    )
    services.configuration.invalidate()
    configure(LEDGER_BACKGROUND_FLUSH=True)
    truncate()

    def plain(sha1: str) -> bytes:
        with open(cache / sha1, "rb") as file:
            data = file.read()
        if hashlib.sha1(data).hexdigest() != sha1:
            raise ValueError(sha1)
        return data

    def app_round(keys: list[str]) -> None:
        for sha1 in keys:
            bitstore_app.get(sha1)
        while len(buffer):  # written by the background thread, as deployed
            time.sleep(0.001)

    def plain_round(keys: list[str]) -> None:
        for sha1 in keys:
            plain(sha1)

    samples = {"plain": [], "app": []}
    keys = [hashes[n % blobs] for n in range(calls)]
    for round_number in range(rounds + 1):  # the first round warms up, uncounted
        order = ("plain", "app") if round_number % 2 else ("app", "plain")
        for name in order:
            started = time.process_time()
            (app_round if name == "app" else plain_round)(keys)
            if round_number:
                samples[name].append((time.process_time() - started) / calls * 1e6)
    buffer.close()
    return samples


def statistics(rows: int, rounds: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db.models import Sum
    from django.test import Client
    from django.urls import reverse

    from bitstore_app.admin.statistics import tier_statistics
    from bitstore_app.costs.spending import spend_report
    from bitstore_app.ledger.rollups import ALL_FETCHES
    from bitstore_app.ledger.writer import write_batch
    from bitstore_app.models import LedgerRollup, Tier

    truncate()
    Tier.objects.all().delete()
    Tier.objects.create(name="cache", kind="filesystem", location="/", role="cache")
    Tier.objects.create(name="gcs", kind="filesystem", location="/", position=1, write_back=True)
    Tier.objects.create(name="s3", kind="s3", location="s3://bucket/", position=2)
    now = datetime.now(UTC)
    span = timedelta(days=30) - timedelta(hours=1)
    expected = {"hits": 0, "bytes": 0, "saved_hits": 0, "saved_bytes": 0}
    started = time.perf_counter()
    batch_size = 50_000
    for first in range(0, rows, batch_size):
        last = min(first + batch_size, rows)
        batch = [_generated(n, now - span * (1 - n / rows)) for n in range(first, last)]
        expected["hits"] += sum(1 for e in batch if e["outcome"] == "hit")
        expected["bytes"] += sum(e["size"] for e in batch if e["outcome"] == "hit")
        cache_hits = [e for e in batch if e["tier_name"] == "cache"]
        expected["saved_hits"] += len(cache_hits)
        expected["saved_bytes"] += sum(e["size"] for e in cache_hits)
        write_batch(batch)
    generated = rows / (time.perf_counter() - started)
    query, page = [], []
    user = get_user_model().objects.filter(username="bench-admin").first()
    user = user or get_user_model().objects.create_superuser("bench-admin", "", "x")
    client = Client()
    client.force_login(user)
    url = reverse("admin:bitstore_app_tier_statistics")
    for _ in range(rounds):
        started = time.perf_counter()
        report = tier_statistics("30d")
        query.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = client.get(url, {"window": "30d"})
        page.append(time.perf_counter() - started)
        assert response.status_code == 200
    assert report.fetches == rows, (report.fetches, rows)  # exact: no sample
    assert report.overall.hits == expected["hits"]
    assert report.overall.bytes_served == expected["bytes"]
    # Every cache hit saved at gcs: filled by it, or (the first hits) no fill known, when the
    # first write-back source, gcs, is assumed.
    gcs = next(t for t in spend_report(report.since, report.until, False).tiers if t.tier == "gcs")
    assert (gcs.saved_hits, gcs.saved_bytes) == (expected["saved_hits"], expected["saved_bytes"])
    unknown = LedgerRollup.objects.filter(tier_name=ALL_FETCHES).aggregate(Sum("saved_hits"))
    assert unknown["saved_hits__sum"] == min(rows, 7)  # the hits of rows 0 to 6
    return {
        "generated_per_s": generated,
        "query_s": query,
        "page_s": page,
        "rollup_rows": LedgerRollup.objects.count(),
        "p95_ms": {t.tier: t.p95_ms for t in report.tiers},
    }


def _generated(n: int, at: datetime) -> dict:
    """Ledger row number `n`, made `at`: a cache hit most of the time (of the blob gcs filled
    the cache with a few rows before, none for the first hits), else a source's, written
    back, sometimes none (and a tier skipped, its circuit open)."""
    spread = random.Random(n)
    cache_ms = spread.lognormvariate(-1.5, 0.6)
    if n % 10 < 7:
        attempts = [{"tier": "cache", "outcome": "hit", "ms": cache_ms}]
        outcome, served = "hit", "cache"
    elif n % 10 < 9:
        source_ms = spread.lognormvariate(3.0, 0.7)
        attempts = [
            {"tier": "cache", "outcome": "not_found", "ms": cache_ms},
            {"tier": "gcs", "outcome": "hit", "ms": source_ms},
        ]
        outcome, served = "hit", "gcs"
    else:
        attempts = [
            {"tier": "cache", "outcome": "not_found", "ms": cache_ms},
            {"tier": "gcs", "outcome": "not_found", "ms": 20.0},
            {"tier": "s3", "outcome": "skipped", "ms": 0.0, "reason": "circuit_open"},
        ]
        outcome, served = "not_found", ""
    filled = n - n % 10 - 2 if served == "cache" and n >= 10 else n
    return {
        "sha1": f"{filled:040x}",
        "tier_id": None,
        "tier_name": served,
        "outcome": outcome,
        "attempts": attempts,
        "size": 4096 if outcome == "hit" else 0,
        "latency_ms": sum(a["ms"] for a in attempts),
        "cache_written": served == "gcs",
        "user_id": None,
        "task_id": "",
        "created_at": at,
    }


def main(argv: list[str]) -> None:
    setup()
    mode, *numbers = argv
    if mode in ("gets", "hits"):
        folder, *numbers = numbers
        result = {"gets": gets, "hits": hits}[mode](folder, *map(int, numbers))
    else:
        result = {"writes": writes, "statistics": statistics}[mode](*map(int, numbers))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
