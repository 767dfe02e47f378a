"""The record page explains, in words, why each skipped tier was not asked."""

import pytest
from django.urls import reverse
from django.utils import timezone

from bitstore_app.admin import skip_reasons
from bitstore_app.ledger.writer import write_batch
from bitstore_app.models import FetchRecord
from tests.admin.conftest import blob

pytestmark = pytest.mark.django_db

REASONS = ["circuit_open", "negative_cache", "rate_limited", "budget", "index"]


def test_every_skip_reason_is_explained_on_the_record_page(admin_client):
    sha1, _ = blob("skipped everywhere")
    attempts = [
        {"tier": f"tier-{reason}", "outcome": "skipped", "ms": 0.0, "reason": reason}
        for reason in REASONS
    ] + [{"tier": "last", "outcome": "not_found", "ms": 1.0}]
    entry = {
        "sha1": sha1, "tier_id": None, "tier_name": "", "outcome": "error",
        "attempts": attempts, "size": 0, "latency_ms": 1.0, "cache_written": False,
        "user_id": None, "task_id": "", "created_at": timezone.now(),
    }  # fmt: skip
    write_batch([entry])
    record = FetchRecord.objects.get(sha1=sha1)
    url = reverse("admin:bitstore_app_fetchrecord_change", args=[record.pk])
    page = admin_client.get(url).content.decode()
    for reason in REASONS:
        sentence = skip_reasons.EXPLANATIONS[reason]
        assert sentence.replace("'", "&#x27;") in page, reason
    assert set(skip_reasons.EXPLANATIONS) == set(REASONS)
    assert page.count("Not asked") == len(REASONS)  # the tier that answered is not "skipped"
