"""Prometheus metrics: per-tier counters and latencies from every fetch, warm jobs, the ledger.

Everything is registered in `REGISTRY`, bitstore's own, not prometheus-client's global one,
so a project's other metrics are neither mixed in nor exported twice. Tier counters are
counted in the process that fetched. With `PROMETHEUS_MULTIPROC_DIR` set (the shipped
gunicorn configuration sets it), every process writes them into files there, and a scrape
answers with the sum over all processes; warm jobs and the ledger are read when scraped.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from .coordination import limits_down
from .core import breaker, trace
from .core.outcomes import Outcome
from .costs import metrics as spend_metrics
from .ledger import buffer as ledger

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

TIER_HITS = Counter("bitstore_tier_hits", "Fetches a tier served.", ["tier"], registry=REGISTRY)
TIER_MISSES = Counter(
    "bitstore_tier_misses", "Fetches a tier answered without the blob.", ["tier"], registry=REGISTRY
)
TIER_ERRORS = Counter(
    "bitstore_tier_errors",
    "Fetches a tier failed: reason is unavailable, invalid (SHA1 mismatch) or error.",
    ["tier", "reason"],
    registry=REGISTRY,
)
TIER_BYTES = Counter(
    "bitstore_tier_bytes", "Bytes of blobs a tier served.", ["tier"], registry=REGISTRY
)
TIER_LATENCY = Histogram(
    "bitstore_tier_latency_seconds",
    "Seconds a tier took to answer: the whole blob for a get, until the stream opened for a "
    "streaming read.",
    ["tier"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
FETCHES = Counter(
    "bitstore_fetches",
    "Fetches through the tiers, by outcome: hit, not_found, invalid or error.",
    ["outcome"],
    registry=REGISTRY,
)
CACHE_PROMOTIONS = Counter(
    "bitstore_cache_promotions",
    "Blobs written into a cache level from a lower level that served them.",
    ["tier"],
    registry=REGISTRY,
)
TIER_SKIPS = Counter(
    "bitstore_tier_skips",
    "Fetches that did not ask a tier, by reason: circuit_open, negative_cache, rate_limited, "
    "budget or index.",
    ["tier", "reason"],
    registry=REGISTRY,
)

#: Attempt outcomes that mean the tier answered; the rest (but skipped) count as errors.
_ANSWERED = {Outcome.HIT: TIER_HITS, Outcome.NOT_FOUND: TIER_MISSES}


@functools.cache
def _child(metric, *labels: str):
    """Return the metric's child for these labels: `labels()` takes a lock and builds a key
    each time, a third of `observe` on a cache hit. Tiers and outcomes are few."""
    return metric.labels(*labels)


class MetricsUnavailable(Exception):
    """The metrics cannot be read (the multiprocess folder is gone)."""


def observe(fetch: trace.Fetch, levels: frozenset[str] = frozenset()) -> None:
    """Count one finished fetch (`levels`: the cache levels' names, when it wrote into
    some); a metrics failure never fails the fetch."""
    try:
        _count(fetch, levels)
    except OSError as exc:  # multiprocess mode: its folder was removed under the process
        logger.warning("metrics: fetch of %s not counted: %s", fetch.uri, exc)


def _count(fetch: trace.Fetch, levels: frozenset[str]) -> None:
    """Count each tier the fetch asked, the bytes its serving tier gave, and the levels a
    lower level's blob was promoted into."""
    for attempt in fetch.attempts:
        if attempt.outcome == Outcome.SKIPPED:
            _child(TIER_SKIPS, attempt.tier, attempt.reason or "").inc()
            continue  # not asked: no latency, no answer
        _child(TIER_LATENCY, attempt.tier).observe(attempt.seconds)
        counter = _ANSWERED.get(attempt.outcome)
        if counter is not None:
            _child(counter, attempt.tier).inc()
        else:
            _child(TIER_ERRORS, attempt.tier, attempt.outcome).inc()
    if fetch.served_by is not None:
        _child(TIER_BYTES, fetch.served_by).inc(fetch.size)
    if fetch.served_by in levels:
        for level in fetch.written_to:
            _child(CACHE_PROMOTIONS, level).inc()
    _child(FETCHES, fetch.outcome).inc()


class _ScrapeTimeCollector:
    """Values read when scraped: the ledger's buffer in this process, the warm jobs in the
    database (workers run elsewhere, so their counts live in their job rows), and the month's
    spend, savings and budgets (costs/metrics.py)."""

    def collect(self):
        yield GaugeMetricFamily(
            "bitstore_ledger_buffered_records",
            "Fetch records waiting in this process's memory to be written to the database.",
            value=len(ledger),
        )
        yield CounterMetricFamily(
            "bitstore_ledger_dropped_records",
            "Fetch records dropped because the buffer was full (the database was down).",
            value=ledger.dropped,
        )
        yield CounterMetricFamily(
            "bitstore_limits_redis_errors",
            "Calls to a tier let through without their rate limit or budget in this process: "
            "the limits' Redis failed.",
            value=limits_down.failures,
        )
        yield _circuit_metrics()
        yield from _cache_level_metrics()
        yield from _warm_job_metrics()
        yield from spend_metrics.collect()

    def describe(self):
        return []  # collected on scrape only: registering must not touch the database


def _circuit_metrics() -> GaugeMetricFamily:
    """1 for each tier's current circuit breaker state in this process, 0 for the others."""
    family = GaugeMetricFamily(
        "bitstore_tier_circuit_state",
        "A tier's circuit breaker in this process: 1 for its state (closed, open, half-open).",
        labels=["tier", "state"],
    )
    for tier, current in breaker.states().items():
        for state in breaker.STATES:
            family.add_metric([tier, state], 1 if state == current else 0)
    return family


#: Return the cache levels of the configuration this process uses (`services.levels_in_use`).
#: Metrics know no service (the service counts its fetches here): the app's `ready()` sets
#: this.
cache_levels: Callable[[], list] = list


def _cache_level_metrics():
    """Yield what each cache level holds and has evicted, as the level counts it (a bounded
    folder's count is shared by the host's processes; a memory level's is this process's)."""
    from django.db import DatabaseError

    try:
        levels = cache_levels()
    except DatabaseError as exc:
        logger.warning("metrics: cannot read the tier configuration: %s", exc)
        return
    held = GaugeMetricFamily(
        "bitstore_cache_bytes", "Bytes a cache level holds, as it counts them.", labels=["tier"]
    )
    blobs = GaugeMetricFamily(
        "bitstore_cache_blobs", "Blobs a cache level holds, as it counts them.", labels=["tier"]
    )
    limit = GaugeMetricFamily(
        "bitstore_cache_max_bytes", "A bounded cache level's max_bytes.", labels=["tier"]
    )
    evictions = CounterMetricFamily(
        "bitstore_cache_evictions",
        "Blobs a bounded cache level removed to stay under its max_bytes.",
        labels=["tier"],
    )
    position = GaugeMetricFamily(
        "bitstore_cache_level", "A cache level's place: 1 for the top one.", labels=["tier"]
    )
    for level in levels:
        position.add_metric([level.tier], level.number)
        if level.max_bytes is not None:
            limit.add_metric([level.tier], level.max_bytes)
        if level.usage is not None:
            held.add_metric([level.tier], level.usage.bytes)
            blobs.add_metric([level.tier], level.usage.blobs)
            evictions.add_metric([level.tier], level.usage.evictions)
    yield from (position, held, blobs, limit, evictions)


def _warm_job_metrics():
    """Yield the warm jobs by status, and their blobs by outcome and bytes, from the database."""
    from django.db import DatabaseError
    from django.db.models import Count, Sum

    from .models import WarmJob

    try:
        jobs = WarmJob.objects.order_by()
        by_status = dict(jobs.values_list("status").annotate(count=Count("id")))
        sums = jobs.aggregate(**{name: Sum(name) for name in (*WarmJob.OUTCOMES, "bytes")})
    except DatabaseError as exc:
        logger.warning("metrics: cannot read the warm jobs: %s", exc)
        return
    statuses = GaugeMetricFamily("bitstore_warm_jobs", "Warm jobs by status.", labels=["status"])
    for status, _ in WarmJob.STATUSES:
        statuses.add_metric([status], by_status.get(status, 0))
    blobs = CounterMetricFamily(
        "bitstore_warm_blobs",
        "Entries of all warm jobs by outcome (already_cached, warmed, not_found, invalid, "
        "failed, malformed).",
        labels=["outcome"],
    )
    for outcome in WarmJob.OUTCOMES:
        blobs.add_metric([outcome], sums[outcome] or 0)
    yield statuses
    yield blobs
    written = sums["bytes"] or 0
    yield CounterMetricFamily(
        "bitstore_warm_bytes", "Bytes warm jobs wrote into the cache tier.", value=written
    )


_SCRAPE_TIME = _ScrapeTimeCollector()
REGISTRY.register(_SCRAPE_TIME)


class _AllProcessesCollector:
    """bitstore's counters summed over every process that wrote them into the folder (a
    project's own metrics there are its to export)."""

    def __init__(self, folder: str) -> None:
        self._files = MultiProcessCollector(None, folder)

    def collect(self):
        for family in self._files.collect():
            if family.name.startswith("bitstore_"):
                yield family


def _scraped() -> CollectorRegistry:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return REGISTRY
    if not os.path.isdir(folder):
        raise MetricsUnavailable(f"PROMETHEUS_MULTIPROC_DIR is not a folder: {folder}")
    registry = CollectorRegistry()
    registry.register(_AllProcessesCollector(folder))
    registry.register(_SCRAPE_TIME)
    return registry


def exposition(accept: str = "") -> tuple[bytes, str]:
    """Return every bitstore metric, and its content type: Prometheus' text format, or
    OpenMetrics when the Accept header asks for it. Raise MetricsUnavailable when they
    cannot be read."""
    encoder, content_type = choose_encoder(accept)
    return encoder(_scraped()), content_type
