"""Secrets never reach an admin page: only the credentials reference's name is shown."""

import pytest
from django.urls import reverse

from tests.admin.conftest import SECRET, blob, form_data, make_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(make_tier, down_s3_tier, monkeypatch):
    """The down S3 tier uses "prod-s3" (secret values in settings); another reads its
    credentials from an environment variable holding the secret."""
    monkeypatch.setenv("BITSTORE_TEST_CREDENTIALS", f'{{"aws_secret_access_key": "{SECRET}"}}')
    from_env = make_tier(
        "s3-env",
        kind="s3",
        location="s3://bucket/blobs/",
        credentials="env:BITSTORE_TEST_CREDENTIALS",
        options=down_s3_tier.options,
    )
    return [down_s3_tier, from_env]


def pages(admin_client, tiers):
    """Yield (what, response) for every admin page an operator sees around these tiers."""
    down, from_env = tiers
    record = make_record(
        blob("secret")[0], "error", [("s3-down", "unavailable", 3.0)], at=down.created_at
    )
    yield "tier list", admin_client.get(reverse("admin:bitstore_app_tier_changelist"))
    for tier in tiers:
        yield (
            "change form",
            admin_client.get(reverse("admin:bitstore_app_tier_change", args=[tier.pk])),
        )
    yield "add form", admin_client.get(reverse("admin:bitstore_app_tier_add"))
    yield "statistics", admin_client.get(reverse("admin:bitstore_app_tier_statistics"))
    yield "ledger", admin_client.get(reverse("admin:bitstore_app_fetchrecord_changelist"))
    yield (
        "ledger record",
        admin_client.get(reverse("admin:bitstore_app_fetchrecord_change", args=[record.pk])),
    )
    yield (
        "check action",
        admin_client.post(
            reverse("admin:bitstore_app_tier_changelist"),
            {"action": "check_tiers", "_selected_action": [t.pk for t in tiers]},
            follow=True,
        ),
    )
    change = reverse("admin:bitstore_app_tier_change", args=[down.pk])
    form = admin_client.get(change).context["adminform"].form
    refused = form_data(form, location="not-a-location", probe_now="on")
    yield "refused edit", admin_client.post(change, refused)
    yield "refused probe", admin_client.post(change, form_data(form, probe_now="on"))


def test_no_page_shows_a_secret(admin_client, tiers):
    seen = []
    for what, response in pages(admin_client, tiers):
        assert response.status_code == 200, what
        page = response.content.decode()
        assert SECRET not in page, f"the secret appears on the {what} page"
        seen.append(what)
        if what in ("tier list", "change form"):
            assert "prod-s3" in page or "env:BITSTORE_TEST_CREDENTIALS" in page
        if what == "check action":
            assert "NOT reachable" in page
        if what == "refused probe":
            assert "NOT reachable" in page
    assert len(seen) == 10
