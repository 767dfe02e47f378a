"""A real browser in the admin: log in, drag a tier to the top, and see the new order used.

Headless Chromium from the Debian package, driven by Playwright for Python (never
`playwright install`). Screenshots go to test-output/admin/ for a person to look at.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

import bitstore_app
from bitstore_app import ledger, services
from bitstore_app.models import ConfigVersion, Tier
from tests.admin.conftest import blob, make_record, store_blob
from tests.helpers import require_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "admin"
PASSWORD = "drag-and-drop"


@pytest.fixture
def browser_page(monkeypatch):
    """A page in headless Chromium; skipped (or failed under BITSTORE_REQUIRE_SERVICES=1)
    where Chromium is not installed."""
    require_service(f"Chromium at {CHROMIUM}", lambda: os.access(CHROMIUM, os.X_OK))
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1680, "height": 1000})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's connections apart
            # from the ones pytest-django closes; close them, or PostgreSQL cannot drop the
            # test database.
            connections.close_all()


@pytest.fixture
def two_tiers_holding_one_blob(make_tier):
    """Two filesystem tiers, in this order, that both hold the same blob."""
    alpha, beta = make_tier("alpha-disk"), make_tier("beta-disk")
    data = b"a blob both tiers hold"
    sha1 = store_blob(alpha, data)
    store_blob(beta, data)
    return alpha, beta, sha1, data


def log_in(page, base_url, django_user_model):
    django_user_model.objects.create_superuser("operator", "op@example.org", PASSWORD)
    page.goto(f"{base_url}/admin/login/?next=/admin/bitstore_app/tier/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#changelist")


def drag(page, source, target):
    """Drag `source` onto `target` the way a hand does: press, nudge, move in steps, release."""
    start, end = source.bounding_box(), target.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 5, steps=3)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 2, steps=20)
    with page.expect_response(lambda r: "adminsortable2_update" in r.url) as update:
        page.mouse.up()
    return update.value


def test_drag_a_tier_to_the_top(
    browser_page, live_server, django_user_model, two_tiers_holding_one_blob
):
    page = browser_page
    alpha, beta, sha1, data = two_tiers_holding_one_blob
    assert services.fetch(sha1).served_by == "alpha-disk"
    log_in(page, live_server.url, django_user_model)
    page.screenshot(path=OUTPUT / "tier-list-before.png", full_page=True)
    before = ConfigVersion.current()

    handles = page.locator("#result_list .drag.handle")
    assert handles.count() == 2
    response = drag(page, handles.nth(1), handles.nth(0))

    assert response.status == 200, response.text()
    assert list(Tier.objects.values_list("name", flat=True)) == ["beta-disk", "alpha-disk"]
    assert ConfigVersion.current() > before
    services.configuration.invalidate()
    assert bitstore_app.get(sha1) == data
    assert services.fetch(sha1).served_by == "beta-disk"

    page.reload()
    rows = page.locator("#result_list tbody tr th.field-name").all_inner_texts()
    assert rows == ["beta-disk", "alpha-disk"]
    page.screenshot(path=OUTPUT / "tier-list.png", full_page=True)


def test_check_and_statistics_pages(
    browser_page, live_server, django_user_model, two_tiers_holding_one_blob, down_s3_tier
):
    page = browser_page
    alpha, beta, sha1, _ = two_tiers_holding_one_blob
    for _ in range(5):
        services.fetch(sha1)
    for label in range(3):
        services.fetch(blob(f"nowhere {label}")[0])
    ledger.buffer.flush()
    make_record(
        blob("down")[0],
        "error",
        [("alpha-disk", "not_found", 0.4), ("beta-disk", "not_found", 0.3)]
        + [("s3-down", "unavailable", 850)],
        at=timezone.now() - timedelta(minutes=5),
    )
    log_in(page, live_server.url, django_user_model)

    page.check("#action-toggle")
    page.select_option("select[name=action]", "check_tiers")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    messages = page.locator("ul.messagelist li").all_text_contents()
    assert any(m.startswith("Tier 'alpha-disk' is reachable") for m in messages), messages
    assert any(m.startswith("Tier 's3-down' is NOT reachable") for m in messages), messages
    page.screenshot(path=OUTPUT / "check-tiers.png", full_page=True)

    page.click("text=Statistics")
    page.wait_for_selector("table.bitstore-stats")
    page.click("text=last 7d")
    page.wait_for_selector("strong:has-text('last 7d')")
    cells = page.locator("table.bitstore-stats tbody tr").first.locator("td").all_inner_texts()
    assert cells[:5] == ["alpha-disk", "9", "5", "4", "0"], cells
    assert page.locator("svg.bitstore-chart").count() == 2
    page.screenshot(path=OUTPUT / "statistics.png", full_page=True)


def test_add_form_shows_each_error_next_to_its_field(
    browser_page, live_server, django_user_model, closed_port
):
    page = browser_page
    log_in(page, live_server.url, django_user_model)
    page.click("text=Add tier")
    page.fill("#id_name", "new-s3")
    page.select_option("#id_kind_0", "s3")
    page.fill("#id_location", "my-bucket")
    page.fill("#id_options", "[1, 2]")
    page.fill("#id_credentials", "no-such-entry")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    errors = {
        field: page.locator(f".field-{field} ul.errorlist").text_content()
        for field in ["options", "credentials"]
    }
    assert "JSON object" in errors["options"]
    assert "not an entry of BITSTORE['CREDENTIALS']" in errors["credentials"]
    page.screenshot(path=OUTPUT / "tier-form-errors.png", full_page=True)

    page.fill("#id_options", f'{{"endpoint_url": "http://127.0.0.1:{closed_port}"}}')
    page.fill("#id_credentials", "prod-s3")
    page.check("#id_probe_now")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert (
        "must look like s3://bucket/prefix/"
        in page.locator(".field-location ul.errorlist").text_content()
    )
    page.fill("#id_location", "s3://my-bucket/blobs/")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "NOT reachable" in page.locator(".field-probe_now ul.errorlist").text_content()
    page.screenshot(path=OUTPUT / "tier-form-unreachable.png", full_page=True)
    assert not Tier.objects.exists()


def fits(page):
    """Return the tables (and the page) that are wider than the window, with their widths."""
    return page.evaluate(
        """() => {
        const width = document.documentElement.clientWidth;
        const wide = [];
        if (document.documentElement.scrollWidth > width)
            wide.push(["page", document.documentElement.scrollWidth, width]);
        for (const table of document.querySelectorAll("table")) {
            const box = table.getBoundingClientRect();
            const holder = table.parentElement.getBoundingClientRect();
            if (box.right > width + 1 || table.scrollWidth > holder.width + 1)
                wide.push([table.id || table.className, Math.round(box.right), width]);
        }
        return wide;
    }"""
    )


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_pages_fit_the_window(
    browser_page, live_server, django_user_model, two_tiers_holding_one_blob, down_s3_tier, width
):
    from bitstore_app.models import WarmJob
    from bitstore_app.web.tokens import issue

    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    alpha, beta, sha1, _ = two_tiers_holding_one_blob
    log_in(page, live_server.url, django_user_model)
    operator = django_user_model.objects.get(username="operator")
    from bitstore_app.requester import requested_by

    with requested_by(user_id=operator.pk):
        for _ in range(3):
            services.fetch(sha1)
        services.fetch(blob("missing")[0])
    ledger.buffer.flush()
    WarmJob.objects.create(
        total=1000, warmed=400, already_cached=100, failed=3, created_by=operator
    )
    issue(operator, "deploy script", ["read", "warm", "upload"])
    pages = {
        "tier-list": "/admin/bitstore_app/tier/",
        "ledger": "/admin/bitstore_app/fetchrecord/",
        "warm-jobs": "/admin/bitstore_app/warmjob/",
        "tokens": "/admin/bitstore_app/apitoken/",
        "blob": f"/admin/bitstore_app/blob/?sha1={sha1}",
        "index": "/admin/",
        "tier-add": "/admin/bitstore_app/tier/add/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector("#content")
        page.screenshot(path=OUTPUT / f"{name}-{width}.png", full_page=True)
        assert fits(page) == [], f"{name} at {width} px"
    page.goto(f"{live_server.url}/admin/bitstore_app/blob/?sha1={sha1}")
    cells = page.locator("#tier-checks tbody tr").all_inner_texts()
    assert any(c.startswith("alpha-disk\tholds it") for c in cells), cells
    assert any(c.startswith("s3-down\tnot reachable") for c in cells), cells
    history = page.locator("#blob-history tbody tr").all_inner_texts()
    assert len(history) == 3 and all("operator" in row for row in history), history
    page.goto(f"{live_server.url}/admin/")
    page.click("text=Statistics")
    page.wait_for_selector("table.bitstore-stats")
    page.screenshot(path=OUTPUT / f"statistics-{width}.png", full_page=True)
    assert fits(page) == [], f"statistics at {width} px"
    page.goto(f"{live_server.url}/admin/")
    page.click("text=View site")
    assert page.url == f"{live_server.url}/bitstore/"
    assert page.locator("a", has_text="OpenAPI document").count() == 1
