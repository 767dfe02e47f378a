"""API tokens: stored hashed, shown once, scoped, expiring, revocable, CSRF-exempt; the README's
curl lines run as written against a live server."""

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bitstore_app import ledger
from bitstore_app.models import ApiToken, FetchRecord
from bitstore_app.web.tokens import digest, issue
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for processes
from tests.web.conftest import FolderTier, blob_of, blob_url, body, make_user

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
DATA = b"a blob read with a token"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def error_of(response):
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


@pytest.fixture
def programmer(db):
    return make_user("programmer", "view_blob", "warm", "add_blob")


def test_a_token_is_stored_hashed_and_never_kept(programmer):
    row, token = issue(programmer, "ci", ["read"])
    assert token.startswith("bst_") and len(token) > 40
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert token not in json.dumps(stored, default=str)
    assert stored["digest"] == digest(token) and stored["prefix"] == token[:12]


def test_a_read_token_reads_a_blob_and_the_ledger_names_its_user(programmer, folder_tier):
    sha1 = folder_tier.add(DATA)
    _, token = issue(programmer, "reader", ["read"])
    response = Client().get(blob_url(sha1), headers=bearer(token))
    assert (response.status_code, body(response)) == (200, DATA)
    ledger.buffer.flush()
    [record] = FetchRecord.objects.all()
    assert record.user_id == programmer.pk


@pytest.mark.parametrize(
    "header, message",
    [
        ("Bearer bst_not-a-token", "not known"),
        ("Bearer", "send Authorization: Bearer"),
        ("Basic dXNlcjpwYXNz", "send Authorization: Bearer"),
    ],
)
def test_a_bad_token_is_a_json_401(folder_tier, header, message):
    response = Client().get(blob_url(folder_tier.add(DATA)), headers={"Authorization": header})
    assert response.status_code == 401
    assert message in error_of(response)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_scope_is_a_json_403(programmer, folder_tier):
    _, token = issue(programmer, "reader", ["read"])
    response = Client().post(reverse("bitstore:warm"), "[]", "application/json", **_meta(token))
    assert response.status_code == 403
    assert "lacks the 'warm' scope" in error_of(response)


def test_a_token_cannot_do_more_than_its_user(folder_tier):
    user = make_user("no-rights")
    _, token = issue(user, "all scopes", ["read", "warm", "upload"])
    response = Client().get(blob_url(folder_tier.add(DATA)), headers=bearer(token))
    assert response.status_code == 403
    assert "bitstore_app.view_blob" in error_of(response)


def test_revoked_and_expired_tokens_are_refused_from_the_next_request(programmer, folder_tier):
    sha1 = folder_tier.add(DATA)
    row, token = issue(programmer, "soon revoked", ["read"])
    client = Client()
    assert client.get(blob_url(sha1), headers=bearer(token)).status_code == 200
    ApiToken.objects.filter(pk=row.pk).revoke()
    response = client.get(blob_url(sha1), headers=bearer(token))  # the very next request
    assert (response.status_code, error_of(response)) == (401, "this token was revoked")

    expiring, token = issue(programmer, "expiring", ["read"], expires_at=timezone.now() + HOUR)
    assert client.get(blob_url(sha1), headers=bearer(token)).status_code == 200
    # The hour goes by: the expiry moves to the past, as the clock would move past it.
    ApiToken.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - HOUR)
    response = client.get(blob_url(sha1), headers=bearer(token))
    assert (response.status_code, error_of(response)) == (401, "this token has expired")


HOUR = timedelta(hours=1)


def test_an_inactive_users_token_is_refused(programmer, folder_tier):
    _, token = issue(programmer, "ci", ["read"])
    programmer.is_active = False
    programmer.save()
    response = Client().get(blob_url(folder_tier.add(DATA)), headers=bearer(token))
    assert (response.status_code, error_of(response)) == (401, "this token's user is inactive")


def _meta(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_token_post_needs_no_csrf_token_and_a_session_post_does(programmer, tmp_path):
    FolderTier(tmp_path / "cache", name="cache", role="cache")
    _, token = issue(programmer, "warmer", ["warm"])
    checked = Client(enforce_csrf_checks=True)
    url, payload = reverse("bitstore:warm"), json.dumps([blob_of(b"x")])
    assert checked.post(url, payload, "application/json", **_meta(token)).status_code == 202
    checked.force_login(programmer)
    response = checked.post(url, payload, "application/json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)
    checked.get(reverse("admin:login"))  # sets the CSRF cookie, as a page of the site does
    csrf = checked.cookies["csrftoken"].value
    response = checked.post(url, payload, "application/json", headers={"X-CSRFToken": csrf})
    assert response.status_code == 202


def test_the_command_creates_lists_and_revokes(programmer):
    out = StringIO()
    call_command("bitstore_token", "create", "programmer", "--scope", "read", stdout=out)
    token = out.getvalue().strip()
    row = ApiToken.objects.get(digest=digest(token))
    assert (row.scopes, row.expires_at) == (["read"], None)
    listing = StringIO()
    call_command("bitstore_token", "list", stdout=listing)
    assert row.prefix in listing.getvalue() and token not in listing.getvalue()
    call_command("bitstore_token", "revoke", str(row.pk), stdout=StringIO())
    row.refresh_from_db()
    assert row.revoked_at is not None
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("bitstore_token", "create", "nobody", "--scope", "read")
    with pytest.raises(CommandError, match="positive number of days"):
        call_command(
            "bitstore_token", "create", "programmer", "--scope", "read", "--expires-in", "-1"
        )


def test_the_command_sets_an_expiry(programmer):
    out = StringIO()
    args = ["create", "programmer", "--scope", "warm", "--expires-in", "2"]
    call_command("bitstore_token", *args, stdout=out)
    row = ApiToken.objects.get(digest=digest(out.getvalue().strip()))
    assert abs((row.expires_at - timezone.now()) - timedelta(days=2)) < timedelta(minutes=1)


def test_the_admin_shows_the_token_once(admin_client, programmer):
    url = reverse("admin:bitstore_app_apitoken_add")
    form = {"user": programmer.pk, "name": "deploy", "scopes": ["read", "upload"]}
    response = admin_client.post(url, form)
    assert response.status_code == 200
    token = re.search(r'id="new-token"[^>]*>(bst_[^<]+)<', response.content.decode())[1]
    row = ApiToken.objects.get(digest=digest(token))
    assert (row.name, row.scopes, row.user) == ("deploy", ["read", "upload"], programmer)
    for page in (
        reverse("admin:bitstore_app_apitoken_changelist"),
        reverse("admin:bitstore_app_apitoken_change", args=[row.pk]),
    ):
        shown = admin_client.get(page)
        assert shown.status_code == 200
        assert row.prefix in shown.content.decode() and token not in shown.content.decode()


def test_the_admin_revokes_tokens(admin_client, programmer):
    row, token = issue(programmer, "ci", ["read"])
    changelist = reverse("admin:bitstore_app_apitoken_changelist")
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is not None


def readme_curl_lines():
    """Return the README's token section shell block: its variable lines and its curl lines."""
    text = README.read_text()
    section = text.split("## Programs: API tokens", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("curl ")]


@pytest.mark.django_db(transaction=True)
def test_the_readme_curl_lines_work_against_a_live_server(
    live_server,
    live_db_url,  # noqa: F811 - the fixture imported above
    tmp_path,
    eager_celery,
):
    user = make_user("curl-user", "view_blob", "warm", "add_blob")
    source = FolderTier(tmp_path / "source", name="source", position=0)
    cache = FolderTier(tmp_path / "cache", name="cache", position=1, role="cache")
    sha1 = source.add(DATA)
    row, token = issue(user, "curl", ["read", "warm", "upload"])
    work = tmp_path / "work"
    work.mkdir()
    report = b"%PDF-1.4 a report uploaded with curl"
    (work / "report.pdf").write_bytes(report)
    env = os.environ | {"BITSTORE": f"{live_server.url}/bitstore", "TOKEN": token, "SHA1": sha1}
    read, warm, put, post = readme_curl_lines()

    def run(line, check=True):
        done = subprocess.run(
            ["bash", "-c", line], cwd=work, env=env, capture_output=True, timeout=30
        )
        assert done.returncode == 0 or not check, done.stderr
        return done.stdout if check else done

    run(read)
    assert (work / "blob.bin").read_bytes() == DATA
    job = json.loads(run(warm))
    assert job["total"] == 1 and job["url"].endswith(f"/warm/{job['id']}")
    assert (cache.root / sha1).read_bytes() == DATA  # the eager worker warmed it
    stored = json.loads(run(put))
    assert (stored["sha1"], stored["created"]) == (blob_of(report), True)
    assert (cache.root / blob_of(report)).read_bytes() == report
    again = json.loads(run(post))
    assert (again["sha1"], again["created"]) == (blob_of(report), False)

    # Revoked by the command, in a process of its own: the server refuses the next request.
    revoke = [sys.executable, "manage.py", "bitstore_token", "revoke", str(row.pk)]
    database = os.environ | {"DATABASE_URL": live_db_url}
    subprocess.run(revoke, cwd=README.parent, env=database, check=True, capture_output=True)
    refused = run(read.replace("-fsS", "-sS -w '%{http_code}'"), check=False)
    assert refused.stdout.endswith(b"401"), refused
