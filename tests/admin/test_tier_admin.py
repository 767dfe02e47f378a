"""The tier list: drag-and-drop order, enable/disable, and live checks with a tier down."""

import json
import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bitstore_app import services
from bitstore_app.models import ConfigVersion, Tier
from tests.admin.conftest import store_blob

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bitstore_app_tier_changelist"


def run_action(admin_client, action, tiers):
    """Post an admin action on `tiers`, follow the redirect, and return the messages shown."""
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [tier.pk for tier in tiers]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_changelist_columns_and_drag_handles(admin_client, make_tier):
    make_tier("first", credentials="prod-s3")
    make_tier("second")
    response = admin_client.get(reverse(CHANGELIST))
    page = response.content.decode()
    columns = ["_reorder_", "name", "kind", "role", "location", "enabled", "verify", "write_back"]
    for column in [*columns, "credentials_reference"]:
        assert f"column-{column}" in page, column
    assert page.count('class="drag handle"') == 2
    assert "prod-s3" in page and "(default chain)" in page
    assert reverse("admin:bitstore_app_tier_statistics") in page
    assert response.context["cl"].list_editable == ["enabled", "verify", "write_back"]


def test_dragging_reorders_moves_the_version_and_changes_who_serves(admin_client, make_tier):
    first, second = make_tier("first"), make_tier("second")
    sha1 = store_blob(first, b"the same bytes in both tiers")
    store_blob(second, b"the same bytes in both tiers")
    assert services.fetch(sha1).served_by == "first"
    before = ConfigVersion.current()

    # What sortable2's JavaScript posts after a drag: each moved row's pk and new position.
    response = admin_client.post(
        reverse("admin:bitstore_app_tier_sortable_update"),
        json.dumps({"updatedItems": [[second.pk, first.position], [first.pk, second.position]]}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert list(Tier.objects.values_list("name", flat=True)) == ["second", "first"]
    assert ConfigVersion.current() > before
    services.configuration.invalidate()
    assert services.fetch(sha1).served_by == "second"


def test_version_move_alone_makes_processes_pick_up_the_new_order(
    admin_client, make_tier, settings
):
    """Without invalidating: the cached composite is rebuilt because the version moved."""
    settings.BITSTORE = {**settings.BITSTORE, "CONFIG_CHECK_INTERVAL": 0}
    first, second = make_tier("first"), make_tier("second")
    sha1 = store_blob(first, b"served by whichever is first")
    store_blob(second, b"served by whichever is first")
    assert services.fetch(sha1).served_by == "first"
    admin_client.post(
        reverse("admin:bitstore_app_tier_sortable_update"),
        json.dumps({"updatedItems": [[second.pk, 1], [first.pk, 2]]}),
        content_type="application/json",
    )
    assert services.fetch(sha1).served_by == "second"


def test_list_editable_saves_and_moves_the_version(admin_client, make_tier):
    tiers = [make_tier("first"), make_tier("second")]
    before = ConfigVersion.current()
    data = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "_save": "Save"}
    for index, tier in enumerate(tiers):
        data[f"form-{index}-id"] = str(tier.pk)
        if tier.name == "first":
            data[f"form-{index}-enabled"] = "on"
        data[f"form-{index}-verify"] = "on"
    response = admin_client.post(reverse(CHANGELIST), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    states = dict(Tier.objects.values_list("name", "enabled"))
    assert states == {"first": True, "second": False}
    assert all(Tier.objects.values_list("verify", flat=True))
    assert ConfigVersion.current() > before


def test_disable_and_enable_selected(admin_client, make_tier):
    tiers = [make_tier("first"), make_tier("second"), make_tier("third")]
    before = ConfigVersion.current()
    shown = run_action(admin_client, "disable_tiers", tiers[:2])
    assert shown == [("success", "2 tier(s) disabled.")]
    assert dict(Tier.objects.values_list("name", "enabled")) == {
        "first": False,
        "second": False,
        "third": True,
    }
    middle = ConfigVersion.current()
    assert middle > before
    shown = run_action(admin_client, "enable_tiers", tiers[:1])
    assert shown == [("success", "1 tier(s) enabled.")]
    assert Tier.objects.get(name="first").enabled
    assert ConfigVersion.current() > middle


def test_enabling_a_second_cache_makes_it_the_next_level(admin_client, make_tier):
    caches = [make_tier("cache-a", role="cache"), make_tier("cache-b", role="cache", enabled=False)]
    caches[1].max_bytes = 2**30
    caches[1].save()
    shown = run_action(admin_client, "enable_tiers", caches)
    assert shown == [("success", "2 tier(s) enabled.")]
    assert dict(Tier.objects.values_list("name", "enabled")) == {"cache-a": True, "cache-b": True}
    page = admin_client.get(reverse("admin:bitstore_app_tier_changelist")).content.decode()
    assert "level 1" in page and "level 2, max 1.0\xa0GB" in page
    assert "a blob served by a lower level into the levels above it" in page
    form = admin_client.get(reverse("admin:bitstore_app_tier_add")).content.decode()
    assert "The enabled cache tiers are the cache levels, level 1 the first" in form


def test_check_reports_each_tier_with_one_down(admin_client, make_tier, down_s3_tier, tmp_path):
    up = make_tier("disk-up")
    missing = make_tier(
        "disk-missing", location=str(tmp_path / "not-there"), options={"create": False}
    )
    started = time.monotonic()
    shown = run_action(admin_client, "check_tiers", [up, down_s3_tier, missing])
    elapsed = time.monotonic() - started

    assert elapsed < 10, "a tier that is down must not hold the page"
    by_tier = {message.split("'")[1]: (level, message) for level, message in shown}
    assert by_tier["disk-up"][0] == "success"
    assert "is reachable: it answered in" in by_tier["disk-up"][1]
    assert by_tier["s3-down"][0] == "error"
    assert "NOT reachable" in by_tier["s3-down"][1]
    assert "Could not connect to the endpoint URL" in by_tier["s3-down"][1]
    assert by_tier["disk-missing"][0] == "error"
    assert "does not exist" in by_tier["disk-missing"][1]


def test_check_writes_nothing(admin_client, make_tier):
    tier = make_tier("disk")
    run_action(admin_client, "check_tiers", [tier])
    from pathlib import Path

    assert list(Path(tier.location).iterdir()) == []


def test_check_reaches_a_real_s3_tier(admin_client, make_tier, s3_server):
    bucket = s3_server.make_bucket("admin-check-up")
    tier = make_tier(
        "s3-up",
        kind="s3",
        location=f"s3://{bucket}/blobs/",
        options={"endpoint_url": s3_server.endpoint},
    )
    shown = run_action(admin_client, "check_tiers", [tier])
    assert shown[0][0] == "success", shown
    assert shown[0][1].startswith("Tier 's3-up' is reachable: it answered in")
    assert s3_server.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
