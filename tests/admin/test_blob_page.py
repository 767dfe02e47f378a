"""The admin's Blob page, the index's Statistics entry, "View site", the kind select and
the ledger's usernames."""

import re
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from bitstore_app import ledger, services
from bitstore_app.models import FetchRecord, Tier
from bitstore_app.requester import requested_by
from tests.admin.conftest import blob, store_blob
from tests.loopback import LoopbackHTTPServer

pytestmark = pytest.mark.django_db

PAGE = "admin:bitstore_app_blob_changelist"


class CountingAPI(BaseHTTPRequestHandler):
    """An http_api source holding one SHA1; it counts each method it is asked with."""

    held = ""
    methods: Counter = Counter()

    def _answer(self, with_body):
        self.methods[self.command] += 1
        found = self.path.rsplit("/", 1)[-1] == self.held
        self.send_response(200 if found else 404)
        body = b"the blob" if found and with_body else b""
        self.send_header("Content-Length", str(len(body) if with_body else 8 if found else 0))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):  # noqa: N802 - the http.server names
        self._answer(False)

    def do_GET(self):  # noqa: N802
        self._answer(True)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    CountingAPI.methods = Counter()
    server = LoopbackHTTPServer(CountingAPI).start()
    yield server
    server.stop()


def staff(name, *codenames):
    user = User.objects.create(username=name, is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return user, client


def test_the_page_asks_every_tier_live_without_downloading(
    admin_client, make_tier, api, down_s3_tier
):
    sha1, data = blob("on the page")
    disk = make_tier("disk", position=0)
    store_blob(disk, data)
    CountingAPI.held = sha1
    make_tier("counting-api", kind="http_api", location=f"{api.endpoint}/blobs", position=1)
    make_tier("empty-disk", position=2)
    response = admin_client.get(reverse(PAGE), {"sha1": sha1.upper()})
    assert response.status_code == 200
    rows = {check.tier: (check.reachable, check.holds) for check in response.context["checks"]}
    assert rows == {
        "disk": (True, True),
        "counting-api": (True, True),
        "empty-disk": (True, False),
        "s3-down": (False, False),
    }
    assert CountingAPI.methods == Counter({"HEAD": 1})  # asked, never downloaded
    html = response.content.decode()
    assert "holds it" in html and "does not hold it" in html and "not reachable" in html
    link = re.search(r'id="download-link" href="([^"]+)"', html)[1].replace("&amp;", "&")
    download = Client().get(link)  # the signed link works without a session
    assert b"".join(download.streaming_content) == data


def test_the_page_shows_the_ledger_history_with_usernames(admin_client, make_tier):
    sha1, data = blob("history")
    store_blob(make_tier("disk"), data)
    alice = User.objects.create(username="alice")
    with requested_by(user_id=alice.pk):
        services.fetch(sha1)
    with requested_by(task_id="task-42"):
        services.fetch(sha1)
    ledger.buffer.flush()
    html = admin_client.get(reverse(PAGE), {"sha1": sha1}).content.decode()
    history = html.split('id="blob-history"', 1)[1]
    assert "alice" in history and "task task-42" in history
    ledger_page = admin_client.get(reverse("admin:bitstore_app_fetchrecord_changelist"))
    assert "alice" in ledger_page.content.decode()
    alice.delete()
    record = FetchRecord.objects.with_usernames().filter(task_id="").get()
    assert record.asked_by == f"user {record.user_id}"


def test_a_malformed_sha1_is_explained(admin_client):
    response = admin_client.get(reverse(PAGE), {"sha1": "not-a-sha1"})
    assert "A SHA1 is 40 hexadecimal digits." in response.content.decode()


def test_only_users_with_add_blob_see_and_use_the_upload_form(make_tier):
    cache = make_tier("cache", role="cache")
    _, viewer = staff("viewer", "view_blob")
    page = viewer.get(reverse(PAGE))
    assert page.status_code == 200 and 'id="blob-upload"' not in page.content.decode()
    refused = viewer.post(reverse(PAGE), {"file": SimpleUploadedFile("a.txt", b"data")})
    assert refused.status_code == 200  # shown the page again, nothing stored
    assert not list(Path(cache.location).iterdir())
    _, uploader = staff("uploader", "view_blob", "add_blob")
    assert 'id="blob-upload"' in uploader.get(reverse(PAGE)).content.decode()
    sha1, data = blob("uploaded from the admin")
    response = uploader.post(
        reverse(PAGE), {"file": SimpleUploadedFile("a.txt", data)}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        f"{sha1} ({len(data)} bytes): stored."
    ]
    assert response.context["sha1"] == sha1
    _, nobody = staff("nobody")
    assert nobody.get(reverse(PAGE)).status_code == 403


def test_the_index_links_to_statistics_and_view_site_is_useful(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    link = reverse("admin:bitstore_app_tierstatistics_changelist")
    assert f'href="{link}"' in index and ">Statistics<" in index
    assert admin_client.get(link).url == reverse("admin:bitstore_app_tier_statistics")
    assert 'href="/bitstore/"' in index  # "View site"
    home = Client().get("/bitstore/")
    assert home.status_code == 200 and reverse("bitstore:openapi") in home.content.decode()


def test_the_kind_is_a_select_of_the_registered_kinds_plus_a_custom_class(admin_client):
    from bitstore_app.core.tiers import KINDS

    html = admin_client.get(reverse("admin:bitstore_app_tier_add")).content.decode()
    options = re.findall(r'<option value="([^"]+)"', html.split('name="kind_0"', 1)[1])
    assert options[: len(KINDS) + 1] == [*KINDS, "custom"]
    data = {
        "name": "custom",
        "kind_0": "custom",
        "kind_1": "bitstore_app.core.tiers.memory.MemoryRaw",
        "location": "",
        "role": "source",
        "enabled": "on",
        "options": "{}",
        **{f: v for f, v in DEFAULTS.items()},
    }
    response = admin_client.post(reverse("admin:bitstore_app_tier_add"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Tier.objects.get().kind == "bitstore_app.core.tiers.memory.MemoryRaw"
    data.update(name="disk", kind_0="filesystem", kind_1="ignored", location="/var/tmp")
    assert admin_client.post(reverse("admin:bitstore_app_tier_add"), data).status_code == 302
    assert Tier.objects.get(name="disk").kind == "filesystem"


DEFAULTS = {
    "connect_timeout": "5",
    "read_timeout": "30",
    "rate_limit": "0",
    "retries": "2",
    "breaker_threshold": "5",
    "breaker_cooldown": "30",
    "negative_ttl": "5",
}
