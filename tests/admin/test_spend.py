"""Prices, spend, savings and trends: real fetches through the service, the ledger flushed
into its rollups, then the statistics page, its charts and /metrics."""

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bitstore_app import ledger, services
from bitstore_app.admin import trend_charts, trends
from bitstore_app.costs import metrics as spend_metrics
from bitstore_app.costs import spending
from bitstore_app.requester import requested_by
from tests.admin.conftest import blob, make_record, store_blob

pytestmark = pytest.mark.django_db

STATISTICS = "admin:bitstore_app_tier_statistics"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def priced(make_tier):
    """A cache (1 a request, 2 a byte written) before a paid write-back source (1 a request,
    1 a byte read) and a free source; returns the blobs' sizes and the tiers."""
    cache = make_tier("cache", role="cache", price_per_1k_requests=1000.0, price_per_gb_written=2e9)
    paid = make_tier("paid", write_back=True, price_per_1k_requests=1000.0, price_per_gb_read=1e9)
    make_tier("free")
    filled_sha1, filled = blob("filled by paid")
    store_blob(paid, filled)
    planted_sha1, planted = blob("planted in the cache")
    store_blob(cache, planted)
    alice = User.objects.create(username="alice")
    with requested_by(user_id=alice.pk):
        assert services.get(filled_sha1) == filled  # cache miss, paid hit, written back
    with requested_by(task_id="task-1"):
        assert services.get(filled_sha1) == filled  # cache hits
        assert services.get(filled_sha1) == filled
        assert services.get(planted_sha1) == planted  # a cache hit nobody filled
    ledger.buffer.flush()
    return {"filled": len(filled), "planted": len(planted), "alice": alice}


def by_tier(report):
    return {tier.tier: tier for tier in report.tiers}


def test_spend_and_savings_per_tier(priced):
    n, m = priced["filled"], priced["planted"]
    now = timezone.now()
    report = spending.spend_report(now - timedelta(hours=1), now)
    tiers = by_tier(report)
    assert (tiers["paid"].requests, tiers["paid"].bytes_read) == (1, n)
    assert tiers["paid"].spend == pytest.approx(1 + n)
    assert (tiers["cache"].requests, tiers["cache"].bytes_written) == (4, n)
    assert tiers["cache"].spend == pytest.approx(4 + 2 * n)
    assert tiers["free"].spend == 0 and not tiers["free"].prices.priced
    # Two hits of the blob paid filled, and one of a blob no fill record names: the first
    # write-back source (paid) is assumed for it.
    assert (tiers["paid"].saved_hits, tiers["paid"].saved_bytes) == (3, 2 * n + m)
    assert tiers["paid"].savings == pytest.approx(3 + 2 * n + m)
    assert report.spend == pytest.approx(5 + 3 * n) and report.savings == tiers["paid"].savings


def test_a_cache_hit_saves_what_the_source_that_filled_it_would_cost(make_tier):
    """Two write-back sources: hits of a blob the second one filled are its savings, not the
    first's (the first write-back source stands in only when no fill is recorded)."""
    make_tier("cache", role="cache")
    make_tier("first-paid", write_back=True, price_per_1k_requests=1000.0)
    second = make_tier("second-paid", write_back=True, price_per_1k_requests=5000.0)
    sha1, data = blob("only the second paid source has it")
    store_blob(second, data)
    for _ in range(3):  # the fill from second-paid, then two cache hits
        assert services.get(sha1) == data
    ledger.buffer.flush()
    now = timezone.now()
    tiers = by_tier(spending.spend_report(now - timedelta(hours=1), now))
    assert (tiers["second-paid"].saved_hits, tiers["second-paid"].savings) == (2, 10.0)
    assert tiers["first-paid"].saved_hits == 0


def test_hits_at_every_level_are_priced_at_the_source_not_at_a_promotion(make_tier, tmp_path):
    make_tier("top", role="cache", price_per_gb_written=1e9)
    bottom = make_tier("bottom", role="cache", price_per_gb_written=1e9)
    paid = make_tier("paid", write_back=True, price_per_1k_requests=1000.0, price_per_gb_read=1e9)
    sha1, data = blob("filled by paid, then promoted")
    store_blob(paid, data)
    assert services.get(sha1) == data  # paid fills both levels
    top_folder = services.composite().caches[0].base_store.root
    (top_folder / sha1).unlink()
    promoted = services.fetch(sha1)  # from the bottom level, promoted into the top
    assert (promoted.served_by, promoted.written_to) == ("bottom", ["top"])
    assert services.get(sha1) == data  # a hit at the top level
    ledger.buffer.flush()
    now = timezone.now()
    report = spending.spend_report(now - timedelta(hours=1), now)
    tiers = by_tier(report)
    # Two cache hits (the bottom's promotion, then the top's), both saved at paid's prices.
    assert (tiers["paid"].saved_hits, tiers["paid"].saved_bytes) == (2, 2 * len(data))
    assert tiers["bottom"].saved_hits == 0 and bottom.name == "bottom"
    # Bytes written: both levels by the fill, the top once more by the promotion.
    assert (tiers["top"].bytes_written, tiers["bottom"].bytes_written) == (2 * len(data), len(data))


def test_spend_per_requester(priced):
    n = priced["filled"]
    now = timezone.now()
    spenders = {s.label: s for s in spending.spend_report(now - timedelta(hours=1), now).requesters}
    # alice: a request at the cache and at paid, the bytes read at paid, their write-back.
    assert spenders["user alice"].spend == pytest.approx(2 + n + 2 * n)
    assert (spenders["task task-1"].fetches, spenders["task task-1"].spend) == (3, 3)


def test_the_statistics_page_shows_spend_savings_requesters_and_trends(priced, admin_client):
    response = admin_client.get(reverse(STATISTICS), {"window": "1h"})
    page = response.content.decode()
    n = priced["filled"]
    for text in ["Spend and savings", "Spend per requester", "user alice", "task task-1", "Trends"]:
        assert text in page, text
    assert f"{1 + n:.4f}" in page  # paid's spend
    assert "not charted" not in page  # the cache levels' charts: test_level_trends.py
    assert page.count('class="bitstore-trend"') == len(trends.SERIES)


def test_trend_charts_are_wellformed_svg_with_a_line_per_tier(priced):
    now = timezone.now()
    report = spending.spend_report(now - timedelta(hours=1), now, requesters=False)
    prices = {t.tier: t.prices for t in report.tiers}
    found = trends.tier_trends(now - timedelta(hours=1), now, prices)
    assert len(found.starts) <= trends.POINTS + 1 and found.bucket == timedelta(minutes=1)
    assert sum(found.values["cache"]["hits"]) == 3 and sum(found.values["paid"]["hits"]) == 1
    assert sum(found.values["paid"]["spend"]) == pytest.approx(1 + priced["filled"])
    charts = trend_charts.trend_charts(found)
    assert len(charts) == len(trends.SERIES)
    for svg in charts:
        root = ElementTree.fromstring(svg)
        assert root.find(f"{SVG}title").text
    hits = ElementTree.fromstring(charts[0])
    assert len(hits.findall(f"{SVG}polyline")) == 3  # cache, paid, free (a flat line)
    tips = [c.find(f"{SVG}title").text for c in hits.findall(f"{SVG}circle")]
    assert any(tip.startswith("cache, ") and tip.endswith(": 3 fetches") for tip in tips)


def test_a_week_is_cut_into_buckets_of_whole_minutes(priced):
    now = timezone.now()
    found = trends.tier_trends(now - timedelta(days=7), now, {"cache": spending.Prices()})
    assert found.bucket == timedelta(minutes=168) and len(found.starts) <= trends.POINTS + 1
    assert sum(found.values["cache"]["hits"]) == 3


def test_each_minute_lands_in_its_bucket_summed_by_the_database():
    """Two hours in 2-minute buckets: a bucket holds its first and its last minute."""
    until = datetime(2026, 11, 30, 14, 0, 30, tzinfo=UTC)
    since = until - timedelta(hours=2)  # 12:00:30: the first bucket starts at 12:00
    for minutes, ms in [(0, 1), (1, 2), (2, 200), (119, 5), (120, 7)]:
        at = since.replace(second=0) + timedelta(minutes=minutes, seconds=10)
        make_record(blob(minutes)[0], "hit", [("disk", "hit", ms)], at=at, size=10)
    found = trends.tier_trends(since, until, {"disk": spending.Prices(per_gb_read=1e8)})
    assert found.bucket == timedelta(minutes=2) and len(found.starts) == 61
    hits = found.values["disk"]["hits"]
    assert (hits[0], hits[1], hits[59], hits[60], sum(hits)) == (2, 1, 1, 1, 5)
    assert found.values["disk"]["p95_ms"][1] == pytest.approx(150)  # 200 ms: (100, 200] bucket
    assert found.values["disk"]["spend"][0] == pytest.approx(2.0)  # 20 bytes at 0.1 a byte


def test_metrics_carry_spend_and_savings_per_tier_only(priced):
    spend_metrics.forget()
    response = Client().get(reverse("bitstore:metrics"), REMOTE_ADDR="127.0.0.1")
    text = response.content.decode()
    n = priced["filled"]
    assert f'bitstore_tier_spend_month{{tier="paid"}} {float(1 + n)}' in text
    assert 'bitstore_tier_savings_month{tier="paid"}' in text
    assert "alice" not in text and "task-1" not in text


def test_spend_per_requester_counts_the_newest_records_and_the_page_says_so(
    priced, admin_client, bitstore_config
):
    bitstore_config(SPEND_SAMPLE_SIZE=2)
    now = timezone.now()
    report = spending.spend_report(now - timedelta(hours=1), now)
    # The newest two records: task-1's last two hits; alice's fill is older.
    assert [(s.label, s.fetches) for s in report.requesters] == [("task task-1", 2)]
    assert report.requesters_truncated
    page = admin_client.get(reverse(STATISTICS), {"window": "1h"}).content.decode()
    assert "The window holds more fetches than SPEND_SAMPLE_SIZE" in page
