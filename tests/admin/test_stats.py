"""Per-tier statistics from a hand-made ledger, the statistics page, and its SVG charts."""

import math
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from bitstore_app.admin import charts, statistics
from bitstore_app.ledger import rollups
from tests.admin.conftest import blob, make_record

pytestmark = pytest.mark.django_db

STATISTICS = "admin:bitstore_app_tier_statistics"


@pytest.fixture
def ledger(make_tier):
    """A ledger whose numbers are worked out by hand in the tests below; returns its `now`."""
    now = timezone.now()
    cache, disk, _s3, _idle = (
        make_tier("cache", role="cache"),
        make_tier("disk"),
        make_tier("s3", kind="s3", location="s3://bucket/blobs/"),
        make_tier("idle"),
    )
    recent = now - timedelta(minutes=10)
    make_record(blob(1)[0], "hit", [("cache", "hit", 2)], at=recent, size=100, tier=cache)
    for label, cache_ms, disk_ms, size in [(2, 1, 10, 200), (3, 3, 30, 300)]:
        make_record(
            blob(label)[0],
            "hit",
            [("cache", "not_found", cache_ms), ("disk", "hit", disk_ms)],
            at=recent,
            size=size,
            tier=disk,
        )
    make_record(
        blob(4)[0],
        "error",
        [("cache", "not_found", 5), ("disk", "not_found", 20), ("s3", "unavailable", 1000)],
        at=recent,
    )
    make_record(
        blob(5)[0], "invalid", [("cache", "not_found", 4), ("disk", "invalid", 40)], at=recent
    )
    # A tier that has since been deleted still shows, by the name the ledger kept.
    make_record(blob(6)[0], "hit", [("gone", "hit", 7)], at=recent, size=50)
    make_record(blob(7)[0], "hit", [("s3", "hit", 500)], at=now - timedelta(hours=2), size=999)
    make_record(blob(8)[0], "hit", [("s3", "hit", 1)], at=now - timedelta(days=40), size=1)
    return now


def by_name(report):
    return {t.tier: t for t in report.tiers}


def percentile_cont(values, fraction):
    """PostgreSQL's percentile_cont of `values`: the exact answer the histogram approaches."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def in_bucket_of(value, exact):
    """Whether `value` lies in the histogram bucket that holds `exact`."""
    low, high = rollups.bucket_range(rollups.bucket_of(exact))
    return low <= value <= high


def test_one_hour_by_hand(ledger):
    report = statistics.tier_statistics("1h", now=ledger)
    assert report.fetches == 6
    assert [t.tier for t in report.tiers] == ["cache", "disk", "s3", "idle", "gone"]
    tiers = by_name(report)

    cache = tiers["cache"]
    assert (cache.hits, cache.misses, cache.errors, cache.bytes_served) == (1, 4, 0, 100)
    assert cache.hit_rate == pytest.approx(0.2)
    # Latencies 1, 2, 3, 4, 5 ms: median 3, p95 at rank 3.8 -> 4.8, to within a bucket.
    assert in_bucket_of(cache.p50_ms, 3.0) and in_bucket_of(cache.p95_ms, 4.8)

    disk = tiers["disk"]
    assert (disk.hits, disk.misses, disk.errors, disk.bytes_served) == (2, 1, 1, 500)
    assert disk.hit_percent == pytest.approx(50.0)
    # Latencies 10, 20, 30, 40 ms: median 25, p95 at rank 2.85 -> 38.5, to within a bucket.
    assert in_bucket_of(disk.p50_ms, 25.0) and in_bucket_of(disk.p95_ms, 38.5)

    s3 = tiers["s3"]
    assert (s3.hits, s3.misses, s3.errors, s3.bytes_served) == (0, 0, 1, 0)
    assert s3.hit_rate == 0.0
    assert in_bucket_of(s3.p50_ms, 1000.0) and s3.p50_ms == s3.p95_ms

    idle = tiers["idle"]
    assert (idle.attempts, idle.hit_rate, idle.p50_ms, idle.bytes_served) == (0, None, None, 0)
    assert (tiers["gone"].hits, tiers["gone"].bytes_served) == (1, 50)

    overall = report.overall
    assert (overall.hits, overall.misses, overall.errors) == (4, 0, 2)
    assert overall.bytes_served == 650


def test_windows_include_older_fetches(ledger):
    day = statistics.tier_statistics("24h", now=ledger)
    assert day.fetches == 7
    s3 = by_name(day)["s3"]
    assert (s3.hits, s3.errors, s3.bytes_served) == (1, 1, 999)
    month = statistics.tier_statistics("30d", now=ledger)
    assert month.fetches == 7
    assert statistics.tier_statistics("7d", now=ledger - timedelta(days=39)).fetches == 1


def test_counts_are_exact_however_many_fetches(make_tier):
    """No sample: every fetch of the window is counted (the rollups hold them all)."""
    from bitstore_app.ledger.writer import write_batch

    make_tier("cache", role="cache")
    now = timezone.now()
    entries = [
        {
            "sha1": blob(n)[0],
            "tier_id": None,
            "tier_name": "cache" if n % 3 else "",
            "outcome": "hit" if n % 3 else "not_found",
            "attempts": [{"tier": "cache", "outcome": "hit" if n % 3 else "not_found", "ms": 1}],
            "size": 10 if n % 3 else 0,
            "latency_ms": 1.0,
            "cache_written": False,
            "user_id": None,
            "task_id": "",
            "created_at": now - timedelta(seconds=n % 3000),
        }
        for n in range(3000)
    ]
    write_batch(entries)
    report = statistics.tier_statistics("1h", now=now)
    assert report.fetches == 3000
    cache = by_name(report)["cache"]
    assert (cache.hits, cache.misses, cache.bytes_served) == (2000, 1000, 20000)


def test_unknown_window_is_refused():
    with pytest.raises(ValueError, match="use one of 1h, 24h, 7d, 30d"):
        statistics.window_delta("2h")


def histogram_of(values):
    counts = [0] * len(rollups.LATENCY_COLUMNS)
    for value in values:
        counts[rollups.bucket_of(value)] += 1
    return rollups.Histogram(counts)


def test_percentiles_from_the_histogram():
    assert histogram_of([]).percentile(0.5) is None
    assert in_bucket_of(histogram_of([7.0]).percentile(0.95), 7.0)
    # Slower than the last bound: its lower bound, the most the histogram knows.
    assert histogram_of([99_000.0]).percentile(0.5) == rollups.LATENCY_BOUNDS_MS[-1]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 60_000, allow_nan=False), min_size=1, max_size=60),
    fraction=st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_a_percentile_lies_in_the_buckets_of_the_answers_either_side(values, fraction):
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below, above = ordered[math.floor(position)], ordered[math.ceil(position)]
    reported = histogram_of(values).percentile(fraction)
    low = rollups.bucket_range(rollups.bucket_of(below))[0]
    high = rollups.bucket_range(rollups.bucket_of(above))[1]
    assert low <= reported <= high
    assert low <= percentile_cont(values, fraction) <= high
    if rollups.bucket_of(below) == rollups.bucket_of(above):
        assert in_bucket_of(reported, percentile_cont(values, fraction))


def test_percentiles_match_postgresql_percentile_cont_to_a_bucket():
    if connection.vendor != "postgresql":
        pytest.skip("percentile_cont is PostgreSQL's; this comparison runs on PostgreSQL")
    values = [0.5, 1.0, 2.5, 3.0, 7.25, 11.0, 40.0, 41.0, 250.0, 1000.0, 3.5, 3.7, 4.1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY v) FROM unnest(%s::float8[]) AS v",
            [values],
        )
        p50, p95 = cursor.fetchone()
    assert (percentile_cont(values, 0.5), percentile_cont(values, 0.95)) == (
        pytest.approx(p50),
        pytest.approx(p95),
    )
    histogram = histogram_of(values)
    assert in_bucket_of(histogram.percentile(0.5), p50)
    assert in_bucket_of(histogram.percentile(0.95), p95)


def test_statistics_page(admin_client, ledger):
    response = admin_client.get(reverse(STATISTICS), {"window": "1h"})
    assert response.status_code == 200
    assert response.context["report"].window == "1h"
    page = response.content.decode()
    assert "<strong>last 1h</strong>" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="bitstore-chart"') == 2
    p95 = by_name(response.context["report"])["disk"].p95_ms
    for text in ["cache", "disk", "gone", f"{p95:.1f} ms", "50.0%", "500 bytes", "All fetches"]:
        assert text in page, text
    assert reverse("admin:bitstore_app_fetchrecord_changelist") in page


def test_statistics_page_falls_back_to_a_day(admin_client, ledger):
    response = admin_client.get(reverse(STATISTICS), {"window": "forever"})
    assert response.status_code == 200
    assert response.context["report"].window == "24h"


def test_statistics_page_needs_the_permission_to_view_tiers(client, django_user_model, ledger):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse(STATISTICS)).status_code == 403


def test_charts_are_wellformed_svg_with_escaped_names(ledger):
    tiers = statistics.tier_statistics("1h", now=ledger).tiers
    tiers[0].tier = '<b onclick="x">&cache'
    for svg in (charts.outcome_chart(tiers), charts.latency_chart(tiers)):
        root = ElementTree.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "<b onclick" not in svg and "&lt;b onclick=&quot;x&quot;&gt;&amp;cache" in svg
    bars = ElementTree.fromstring(charts.outcome_chart(tiers)).findall(
        "{http://www.w3.org/2000/svg}rect"
    )
    tips = [bar.find("{http://www.w3.org/2000/svg}title").text for bar in bars[3:]]
    assert tips[:3] == ["1 hits", "4 misses", "2 hits"]


def test_charts_say_when_there_is_nothing_to_show():
    empty = [statistics.TierStats("idle")]
    assert "No tier was asked" in charts.outcome_chart(empty)
    assert "No latency was recorded" in charts.latency_chart(empty)
    assert "No tier was asked" in charts.outcome_chart([])
