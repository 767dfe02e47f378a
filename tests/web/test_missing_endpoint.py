"""Batch existence: `bitstore_app.missing`, POST /bitstore/blobs/missing and the command, on a
filesystem cache, a filesystem source and a real HTTP API (write-back) source that counts
every request it gets."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

import bitstore_app
from bitstore_app.models import Tier
from tests.app.conftest import blob_api  # noqa: F401 (a fixture)
from tests.web.conftest import FolderTier, blob_of, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(blob_api):  # noqa: F811 (the fixture imported above)
    """A real HTTP API on loopback that counts every request it gets."""
    return blob_api


@pytest.fixture
def tiers(tmp_path, api):
    """A cache, a free source and a paid write-back API, with a blob in each."""
    cache = FolderTier(tmp_path / "cache", name="cache", position=0, role=Tier.CACHE)
    disk = FolderTier(tmp_path / "disk", name="disk", position=1)
    Tier.objects.create(name="api", kind="http_api", location=api.url, position=2, write_back=True)
    in_cache, on_disk, paid = b"cached blob", b"disk blob", b"paid blob"
    cache.add(in_cache)
    disk.add(on_disk)
    api.blobs[blob_of(paid)] = paid
    return {"cache": blob_of(in_cache), "disk": blob_of(on_disk), "api": blob_of(paid)}


def absent(n=1):
    return [blob_of(f"nowhere {i}".encode()) for i in range(n)]


def test_missing_skips_paid_sources_unless_asked(tiers, api):
    [nowhere] = absent()
    asked = [tiers["cache"], tiers["disk"], tiers["api"], nowhere]
    assert bitstore_app.missing(asked) == [tiers["api"], nowhere]
    assert sum(api.requests.values()) == 0, "the paid source was asked without include_paid"
    assert bitstore_app.missing(asked, include_paid=True) == [nowhere]
    # Only existence checks, and only for what the free tiers lacked: never a download.
    assert api.count("HEAD", tiers["api"]) == 1 and api.count("HEAD", nowhere) == 1
    assert api.count("GET", tiers["api"]) == 0 and api.count("HEAD", tiers["cache"]) == 0


def test_missing_keeps_input_order_drops_repeats_and_lowers_case(tiers):
    one, two = absent(2)
    assert bitstore_app.missing([two, one.upper(), tiers["disk"], two]) == [two, one]


def test_missing_of_an_unreachable_tier_is_not_reported_as_missing(tiers, api):
    api.fail_with = 500
    [nowhere] = absent()
    with pytest.raises(bitstore_app.services.StoreNotAvailable, match="api"):
        bitstore_app.missing([nowhere], include_paid=True)
    # A blob that an earlier tier has is answered without the failing one.
    assert bitstore_app.missing([tiers["disk"]], include_paid=True) == []


def post(client, payload, raw=None):
    url = reverse("bitstore:missing")
    data = raw if raw is not None else json.dumps(payload)
    return client.post(url, data, content_type="application/json")


@pytest.fixture
def reader_client(db):
    client = Client()
    client.force_login(make_user("missing-reader", "view_blob"))
    return client


def test_endpoint_answers_the_missing_ones(tiers, reader_client, api):
    [nowhere] = absent()
    response = post(reader_client, [tiers["cache"], tiers["api"], nowhere])
    assert response.status_code == 200
    assert response.json() == {"missing": [tiers["api"], nowhere]}
    paid = post(reader_client, {"hashes": [tiers["api"], nowhere], "include_paid": True})
    assert paid.json() == {"missing": [nowhere]}
    assert api.count("GET", tiers["api"]) == 0


def test_endpoint_takes_ten_thousand_and_refuses_more(tiers, reader_client):
    hashes = absent(10_000)
    response = post(reader_client, hashes)
    assert response.status_code == 200 and len(response.json()["missing"]) == 10_000
    too_many = post(reader_client, hashes + absent(1))
    assert too_many.status_code == 400 and "at most 10,000" in too_many.json()["error"]


@pytest.mark.parametrize(
    "payload, raw, words",
    [
        (None, "not json", "must be JSON"),
        ({"hashes": "abc"}, None, "JSON list"),
        (["not-a-sha1"], None, "'not-a-sha1' is not a SHA1"),
        ([1, 2], None, "SHA1 string"),
        ({"hashes": [], "include_paid": "yes"}, None, "true or false"),
    ],
)
def test_endpoint_refuses_bad_bodies_with_a_clear_400(tiers, reader_client, payload, raw, words):
    response = post(reader_client, payload, raw)
    assert response.status_code == 400 and words in response.json()["error"]


def test_endpoint_needs_view_blob(tiers, db):
    anonymous = post(Client(), [])
    assert anonymous.status_code == 401
    client = Client()
    client.force_login(make_user("nobody"))
    assert post(client, []).status_code == 403
    assert Client().get(reverse("bitstore:missing")).status_code == 405


def test_endpoint_takes_a_read_token_without_csrf_and_checks_a_sessions(tiers):
    from bitstore_app.web.tokens import issue

    [nowhere] = absent()
    payload = json.dumps([tiers["cache"], nowhere])
    url = reverse("bitstore:missing")
    user = make_user("missing-program", "view_blob")
    checked = Client(enforce_csrf_checks=True)  # as a program or a browser meets the server

    _, read = issue(user, "reader", ["read"])
    answer = checked.post(url, payload, "application/json", headers=bearer(read))
    assert (answer.status_code, answer.json()) == (200, {"missing": [nowhere]})
    _, warm_only = issue(user, "warmer", ["warm"])
    answer = checked.post(url, payload, "application/json", headers=bearer(warm_only))
    assert answer.status_code == 403 and "lacks the 'read' scope" in answer.json()["error"]
    answer = checked.post(url, payload, "application/json", headers=bearer("bst_unknown"))
    assert answer.status_code == 401 and "not known" in answer.json()["error"]

    checked.force_login(user)  # a session still needs its CSRF header, and hears why in JSON
    answer = checked.post(url, payload, "application/json")
    assert answer.status_code == 403 and "CSRF" in answer.json()["error"]
    checked.get(reverse("admin:login"))  # sets the CSRF cookie, as a page of the site does
    csrf = {"X-CSRFToken": checked.cookies["csrftoken"].value}
    answer = checked.post(url, payload, "application/json", headers=csrf)
    assert (answer.status_code, answer.json()) == (200, {"missing": [nowhere]})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_endpoint_answers_503_when_a_tier_cannot_be_asked(tiers, reader_client, api):
    api.fail_with = 503
    response = post(reader_client, {"hashes": absent(1), "include_paid": True})
    assert response.status_code == 503 and response["Retry-After"]
    assert "try again" in response.json()["error"]


def test_command_reads_a_file_or_stdin(tiers, tmp_path, monkeypatch):
    [nowhere] = absent()
    listing = tmp_path / "hashes.txt"
    listing.write_text(f"# blobs\n{tiers['cache']}\n{tiers['api']}\n\n{nowhere}\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("bitstore_missing", str(listing), stdout=out, stderr=err)
    assert out.getvalue().split() == [tiers["api"], nowhere]
    assert "2 of 3 missing" in err.getvalue()
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{tiers['api']}\n{nowhere}\n"))
    out = io.StringIO()
    call_command("bitstore_missing", "--include-paid", stdout=out, stderr=io.StringIO())
    assert out.getvalue().split() == [nowhere]


def test_command_names_a_bad_line(tiers, tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_text("zzz\n")
    with pytest.raises(CommandError, match="'zzz' is not a SHA1"):
        call_command("bitstore_missing", str(listing), stdout=io.StringIO())
