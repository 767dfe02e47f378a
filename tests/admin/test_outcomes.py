"""Outcomes and skip reasons in the ledger, the statistics and the metrics: a tier whose
circuit is open is recorded as skipped, and records written by the previous release (no
reasons, an open circuit as "unavailable") still read and count correctly."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bitstore_app import ledger, metrics, services
from bitstore_app.admin import statistics
from bitstore_app.core import NotFoundWhileUnavailable, breaker
from bitstore_app.core.outcomes import Outcome, SkipReason, attempt_outcome
from bitstore_app.ledger import rollups
from bitstore_app.models import FetchRecord, Tier
from tests.admin.conftest import blob, make_record

pytestmark = pytest.mark.django_db

#: What the previous release wrote for a tier skipped by its open circuit.
OLD_CIRCUIT_OPEN = {
    "tier": "s3",
    "outcome": "unavailable",
    "ms": 0.004,
    "detail": "s3 is not available: circuit open after 5 failures, next try in 29.1 s",
}


def attempts_rows(admin_client, record):
    page = admin_client.get(
        reverse("admin:bitstore_app_fetchrecord_change", args=[record.pk])
    ).content.decode()
    table = page[page.index("<table class='bitstore-attempts'>") :]
    table = table[: table.index("</table>")]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)][1:3]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
    ][1:]


def test_the_values_are_the_strings_the_ledger_always_stored():
    assert [o.value for o in Outcome] == [
        "hit",
        "not_found",
        "unavailable",
        "invalid",
        "skipped",
        "error",
    ]
    assert [r.value for r in SkipReason] == [
        "circuit_open",
        "negative_cache",
        "rate_limited",
        "budget",
        "index",
    ]
    assert FetchRecord.OUTCOMES == [
        ("hit", "Hit"),
        ("not_found", "Not found"),
        ("error", "Error"),
        ("invalid", "Invalid data"),
    ]


def test_rows_of_the_previous_release_read_and_count_as_before(admin_client, make_tier):
    cache, _disk, _s3 = make_tier("cache", role="cache"), make_tier("disk"), make_tier("s3")
    now = timezone.now()
    at = now - timedelta(minutes=5)
    make_record(blob(1)[0], "hit", [("cache", "hit", 2)], at=at, size=10, tier=cache)
    make_record(
        blob(2)[0], "not_found", [("cache", "not_found", 1), ("disk", "not_found", 3)], at=at
    )
    make_record(blob(3)[0], "invalid", [("cache", "not_found", 1), ("disk", "invalid", 4)], at=at)
    make_record(blob(4)[0], "error", [("cache", "not_found", 1), ("s3", "unavailable", 900)], at=at)
    old_open = make_record(blob(5)[0], "error", [("cache", "not_found", 1)], at=at)
    old_open.attempts.append(OLD_CIRCUIT_OPEN)
    old_open.save()
    # Rows of the previous release have no rollups: the upgrade rebuilds them from the ledger.
    call_command("bitstore_ledger_rollups", stdout=io.StringIO())

    report = statistics.tier_statistics("1h", now=now)
    tiers = {t.tier: t for t in report.tiers}
    assert (report.overall.hits, report.overall.misses, report.overall.errors) == (1, 1, 3)
    assert (tiers["cache"].hits, tiers["cache"].misses, tiers["cache"].errors) == (1, 4, 0)
    assert (tiers["disk"].misses, tiers["disk"].errors) == (1, 1)
    # The old "unavailable" after an open circuit was a skip: the tier was not asked.
    s3 = tiers["s3"]
    assert (s3.errors, s3.skipped) == (1, {"circuit_open": 1})
    # Only the answer is timed: one latency, in the bucket of 900 ms.
    low, high = rollups.bucket_range(rollups.bucket_of(900.0))
    assert s3.histogram.total == 1 and low <= s3.p50_ms <= high
    assert attempt_outcome(OLD_CIRCUIT_OPEN) == (Outcome.SKIPPED, SkipReason.CIRCUIT_OPEN)
    assert attempts_rows(admin_client, old_open) == [
        ["cache", "not found"],
        ["s3", "skipped (circuit open)"],
    ]
    assert FetchRecord.objects.last_served(blob(1)[0]).tier_name == "cache"


def samples():
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.REGISTRY.collect()
        for sample in family.samples
    }


def test_an_open_circuit_is_recorded_as_skipped_with_its_reason(admin_client, tmp_path):
    breaker.reset()
    # A source whose folder is missing is not available; one failure opens its circuit.
    Tier.objects.create(
        name="outcomes-gone",
        kind="filesystem",
        location=str(tmp_path / "missing"),
        breaker_threshold=1,
        breaker_cooldown=60,
    )
    sha1 = blob("circuit")[0]
    before = samples()
    first, second = services.fetch(sha1), services.fetch(sha1)
    after = samples()

    assert [(a.outcome, a.reason) for a in first.attempts] == [(Outcome.UNAVAILABLE, None)]
    assert [(a.outcome, a.reason) for a in second.attempts] == [
        (Outcome.SKIPPED, SkipReason.CIRCUIT_OPEN)
    ]
    assert "circuit open" in second.attempts[0].detail
    # Not asked, but it might hold the blob: the miss says to retry later.
    assert isinstance(second.error, NotFoundWhileUnavailable)
    assert second.error.unavailable == ("outcomes-gone",)
    assert second.outcome == Outcome.ERROR

    key = ("bitstore_tier_skips_total", (("reason", "circuit_open"), ("tier", "outcomes-gone")))
    assert after.get(key, 0) - before.get(key, 0) == 1
    errors = ("bitstore_tier_errors_total", (("reason", "unavailable"), ("tier", "outcomes-gone")))
    assert after.get(errors, 0) - before.get(errors, 0) == 1

    assert ledger.buffer.flush() == 2
    newest = FetchRecord.objects.for_sha1(sha1).first()
    assert newest.outcome == "error"
    assert [(a["outcome"], a.get("reason")) for a in newest.attempts] == [
        ("skipped", "circuit_open")
    ]
    assert attempts_rows(admin_client, newest) == [["outcomes-gone", "skipped (circuit open)"]]
    stats = {t.tier: t for t in statistics.tier_statistics("1h").tiers}["outcomes-gone"]
    assert (stats.errors, stats.attempts) == (1, 1), "the skip is not counted as an error"
