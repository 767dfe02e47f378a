"""The ledger in the admin: read-only, filtered, searched by SHA1, attempts shown as a table."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bitstore_app.models import FetchRecord
from tests.admin.conftest import blob, make_record

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bitstore_app_fetchrecord_changelist"


@pytest.fixture
def ledger(make_tier):
    """Three fetches: a hit in the second tier, a miss, and an error."""
    cache, disk = make_tier("cache", role="cache"), make_tier("disk")
    now = timezone.now()
    hit_sha1, missing_sha1, error_sha1 = blob("hit")[0], blob("missing")[0], blob("error")[0]
    hit = make_record(
        hit_sha1,
        "hit",
        [("cache", "not_found", 1.25), ("disk", "hit", 12.5)],
        at=now - timedelta(minutes=3),
        size=321,
        tier=disk,
    )
    miss = make_record(
        missing_sha1,
        "not_found",
        [("cache", "not_found", 1.0), ("disk", "not_found", 2.0)],
        at=now - timedelta(minutes=2),
    )
    error = make_record(
        error_sha1,
        "error",
        [("cache", "not_found", 1.0), ("disk", "unavailable", 2000.0)],
        at=now - timedelta(minutes=1),
    )
    return {"hit": hit, "miss": miss, "error": error, "cache": cache, "disk": disk}


def listed(response):
    return {record.sha1 for record in response.context["cl"].result_list}


def test_changelist_lists_newest_first_without_an_add_button(admin_client, ledger):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    records = list(response.context["cl"].result_list)
    assert [r.outcome for r in records] == ["error", "not_found", "hit"]
    page = response.content.decode()
    assert reverse("admin:bitstore_app_fetchrecord_add") not in page
    assert 'class="toplinks"' in page  # the date hierarchy


def test_filters_by_outcome_tier_and_date(admin_client, ledger):
    url = reverse(CHANGELIST)
    assert listed(admin_client.get(url, {"outcome__exact": "error"})) == {ledger["error"].sha1}
    by_tier = admin_client.get(url, {"tier__id__exact": ledger["disk"].pk})
    assert listed(by_tier) == {ledger["hit"].sha1}
    day = ledger["hit"].created_at
    by_day = admin_client.get(
        url,
        {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day},
    )
    assert ledger["hit"].sha1 in listed(by_day)
    today = timezone.now()
    last_year = admin_client.get(url, {"created_at__year": today.year - 1})
    assert listed(last_year) == set()


@pytest.mark.parametrize("transform", [str, str.upper, lambda sha1: sha1[:8], lambda s: f" {s} "])
def test_search_by_sha1_or_its_prefix_in_any_case(admin_client, ledger, transform):
    sha1 = ledger["miss"].sha1
    response = admin_client.get(reverse(CHANGELIST), {"q": transform(sha1)})
    assert listed(response) == {sha1}


def test_search_for_an_unknown_sha1_finds_nothing(admin_client, ledger):
    response = admin_client.get(reverse(CHANGELIST), {"q": "f" * 40})
    assert listed(response) == set()


def test_no_add_change_or_delete(admin_client, ledger):
    record = ledger["hit"]
    assert admin_client.get(reverse("admin:bitstore_app_fetchrecord_add")).status_code == 403
    delete = reverse("admin:bitstore_app_fetchrecord_delete", args=[record.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:bitstore_app_fetchrecord_change", args=[record.pk])
    assert admin_client.post(change, {"sha1": "0" * 40, "outcome": "hit"}).status_code == 403
    record.refresh_from_db()
    assert record.outcome == "hit"
    bulk = admin_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [record.pk]}
    )
    assert bulk.status_code in (200, 302)
    assert FetchRecord.objects.filter(pk=record.pk).exists()


def test_detail_shows_each_tier_tried_as_a_table(admin_client, ledger):
    record = ledger["error"]
    response = admin_client.get(reverse("admin:bitstore_app_fetchrecord_change", args=[record.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page
    table = page[page.index("<table class='bitstore-attempts'>") :]
    table = table[: table.index("</table>")]
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
    ]
    assert rows == [
        ["#", "tier", "outcome", "ms", "detail"],
        ["1", "cache", "not found", "1.0", ""],
        ["2", "disk", "unavailable", "2000.0", ""],
    ]
    history = reverse(CHANGELIST) + f"?q={record.sha1}"
    assert history in page
