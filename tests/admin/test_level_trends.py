"""The cache levels over time on the statistics page: real fills through a bounded folder and a
bounded memory level, sampled minute by minute, charted as server-rendered SVG (bytes held,
evictions per bucket), with the numbers the samples hold."""

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

import bitstore_app
from bitstore_app import services
from bitstore_app.admin import trend_charts, trends
from bitstore_app.core.usage import Usage
from bitstore_app.ledger import level_samples
from bitstore_app.models import CacheLevelSample

pytestmark = pytest.mark.django_db

STATISTICS = "admin:bitstore_app_tier_statistics"
SVG = "{http://www.w3.org/2000/svg}"
KB = 50_000


@pytest.fixture
def source(make_tier):
    """A source that writes back into a folder bounded to 200 kB and a memory level bounded
    to 150 kB; returns a function that adds a 50 kB blob only the source holds."""
    source = make_tier("source", write_back=True, position=9)
    make_tier("disk", role="cache", max_bytes=200_000, position=1)
    make_tier("mem", kind="memory", location="", role="cache", max_bytes=150_000, position=2)

    def add(number):
        data = hashlib.sha256(f"charted blob {number}".encode()).digest() * (KB // 32)
        sha1 = hashlib.sha1(data).hexdigest()
        Path(source.location, sha1).write_bytes(data)
        return sha1

    return add


def charts(page):
    """Return the page's trend charts, parsed, by the start of their title."""
    found = {}
    for svg in re.findall(r'<svg [^>]*class="bitstore-trend".*?</svg>', page, re.S):
        root = ElementTree.fromstring(svg)
        found[root.find(f"{SVG}title").text.split(" ")[0]] = root
    return found


def points(chart):
    """Return {(level, "YYYY-mm-dd HH:MM"): the number} of the chart's points."""
    values = {}
    for circle in chart.findall(f"{SVG}circle"):
        where, value = circle.find(f"{SVG}title").text.rsplit(": ", 1)
        level, minute = where.split(", ")
        values[level, minute] = int(value.split()[0].replace(",", ""))
    return values


def test_the_statistics_page_charts_each_levels_bytes_and_evictions(source, admin_client):
    now = timezone.now()
    blobs = iter(range(100))
    for minutes_ago, fills, restart in [(5, 3, False), (4, 3, False), (3, 4, False), (2, 0, True)]:
        if restart:  # a new process: its memory level starts empty, its evictions from 0
            services.configuration.invalidate()
            bitstore_app.get(source(0))  # the new configuration in use
        for _ in range(fills):
            bitstore_app.get(source(next(blobs)))
        assert services.sample_cache_levels(now - timedelta(minutes=minutes_ago)) == 2
    for _ in range(4):
        bitstore_app.get(source(next(blobs)))
    assert services.sample_cache_levels(now - timedelta(minutes=1)) == 2
    samples = {
        name: list(
            CacheLevelSample.objects.filter(tier_name=name)
            .order_by("minute")
            .values_list("minute", "bytes", "evictions")
        )
        for name in ("disk", "mem")
    }
    before_restart, after_restart = (evictions for _, _, evictions in samples["mem"][2:4])
    assert before_restart > 0 and after_restart == 0  # the restart
    assert samples["disk"][-1][2] >= 10 and samples["mem"][-1][2] > 0

    page = admin_client.get(reverse(STATISTICS), {"window": "1h"}).content.decode()
    assert "not charted" not in page and "Cache levels over time" in page
    found = charts(page)
    held, evicted = points(found["Bytes"]), points(found["Evictions"])
    expected_held, expected_evicted = {}, {}
    for name, rows in samples.items():
        for (minute, size, evictions), previous in zip(rows, [None, *rows], strict=False):
            label = f"{timezone.localtime(minute):%Y-%m-%d %H:%M}"
            expected_held[name, label] = size
            rise = 0 if previous is None else max(0, evictions - previous[2])
            if rise:
                expected_evicted[name, label] = rise
    assert held == expected_held
    assert {key: value for key, value in evicted.items() if value} == expected_evicted
    assert len(found["Evictions"].findall(f"{SVG}polyline")) == 2  # a line per level
    # The restart: memory's count fell to 0, then rose again from there.
    assert sum(v for (name, _), v in expected_evicted.items() if name == "mem") == (
        before_restart + samples["mem"][-1][2]
    )
    summary = found["Evictions"].findall(f"{SVG}text")[-1].text
    disk_total = sum(v for (name, _), v in expected_evicted.items() if name == "disk")
    assert summary.startswith(f"total blobs: disk: {disk_total}, mem: ")
    latest = found["Bytes"].findall(f"{SVG}text")[-1].text
    assert latest == (
        f"latest bytes: disk: {samples['disk'][-1][1]:,}, mem: {samples['mem'][-1][1]:,}"
    )


def test_level_trends_count_from_the_sample_before_the_window_and_keep_a_buckets_last():
    now = timezone.now()
    level_samples.record({"disk": Usage(100, 1, 10)}, now - timedelta(hours=2))
    level_samples.record({"disk": Usage(200, 2, 13)}, now - timedelta(minutes=30))
    level_samples.record({"gone": Usage(5, 1, 0)}, now - timedelta(minutes=20))  # a former level
    level_samples.record({"disk": Usage(300, 3, 13)}, now - timedelta(minutes=29))
    found = trends.level_trends(now - timedelta(hours=1), now, ["disk", "mem"])
    assert list(found.values) == ["disk", "mem", "gone"]
    assert sum(found.values["disk"]["evictions"]) == 3  # 13 - 10: counted from before
    assert [v for v in found.values["disk"]["bytes"] if v is not None] == [200, 300]
    assert found.values["mem"]["bytes"] == [None] * len(found.starts)

    week = trends.level_trends(now - timedelta(days=7), now, [])
    assert week.bucket == timedelta(minutes=168)
    start = week.starts[-2]  # a whole bucket, in the past
    level_samples.record({"week": Usage(400, 4, 0)}, start + timedelta(minutes=1))
    level_samples.record({"week": Usage(500, 5, 2)}, start + timedelta(minutes=2))
    week = trends.level_trends(now - timedelta(days=7), now, [])
    assert [v for v in week.values["week"]["bytes"] if v is not None] == [500]  # the last
    assert sum(week.values["week"]["evictions"]) == 2
    for svg in trend_charts.level_charts(week):
        ElementTree.fromstring(svg)  # well-formed
