"""Signed, expiring URLs give one blob to a client without a session, and nothing else."""

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from bitstore_app import ledger
from bitstore_app.models import FetchRecord
from bitstore_app.signed_urls import signed_blob_url
from tests.web.conftest import blob_of, body, make_user

pytestmark = pytest.mark.django_db

DATA = b"a blob handed to a client for a while"
OTHER = b"another blob in the same tier"


def with_query(url, **changes):
    """Return `url` with some of its query parameters replaced."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def test_a_signed_url_serves_its_blob_to_anyone(folder_tier):
    sha1 = folder_tier.add(DATA)
    url = signed_blob_url(sha1)
    response = Client().get(url)
    assert (response.status_code, body(response)) == (200, DATA)
    ranged = Client().get(url, headers={"Range": "bytes=2-5"})
    assert (ranged.status_code, body(ranged)) == (206, DATA[2:6])
    assert Client().head(url).status_code == 200
    ledger.buffer.flush()
    assert FetchRecord.objects.filter(sha1=sha1, outcome="hit", user_id=None).count() == 3


def test_a_signed_url_with_a_download_name(folder_tier):
    sha1 = folder_tier.add(DATA)
    response = Client().get(signed_blob_url(sha1, download="notes.txt"))
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'


def test_a_signed_url_of_a_missing_blob_gives_404(folder_tier):
    assert Client().get(signed_blob_url(blob_of(b"nobody has it"))).status_code == 404


def test_an_expired_signed_url_gives_403(folder_tier):
    sha1 = folder_tier.add(DATA)
    url = signed_blob_url(sha1, expires_in=1)
    assert Client().get(url).status_code == 200
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    time.sleep(max(expires - time.time(), 0) + 0.05)  # a real wait: about a second
    response = Client().get(url)
    assert response.status_code == 403
    assert "expired" in response.json()["error"]


def test_a_signed_url_for_one_blob_does_not_open_another(folder_tier):
    sha1, other = folder_tier.add(DATA), folder_tier.add(OTHER)
    url = signed_blob_url(sha1)
    moved = url.replace(sha1, other)
    response = Client().get(moved)
    assert response.status_code == 403
    assert "not valid for this blob" in response.json()["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "A" * 43},
        {"signature": ""},
        {"expires": "9999999999"},
        {"expires": "-1"},
        {"expires": "１２３"},  # full-width digits
    ],
)
def test_a_tampered_signed_url_gives_403(folder_tier, change):
    sha1 = folder_tier.add(DATA)
    response = Client().get(with_query(signed_blob_url(sha1), **change))
    assert response.status_code == 403


def test_lowering_the_max_age_shortens_urls_already_handed_out(folder_tier, bitstore_config):
    sha1 = folder_tier.add(DATA)
    url = signed_blob_url(sha1, expires_in=600)
    bitstore_config(SIGNED_URL_MAX_AGE=60)
    response = Client().get(url)
    assert response.status_code == 403
    assert "SIGNED_URL_MAX_AGE" in response.json()["error"]


def test_expires_in_is_bounded_by_the_max_age(bitstore_config):
    bitstore_config(SIGNED_URL_MAX_AGE=60)
    sha1 = blob_of(DATA)
    expires = int(parse_qs(urlsplit(signed_blob_url(sha1)).query)["expires"][0])
    assert 58 <= expires - time.time() <= 60
    for wrong in (0, -5, 61):
        with pytest.raises(ValueError, match="expires_in"):
            signed_blob_url(sha1, expires_in=wrong)


def test_a_signed_url_without_a_signature_still_needs_a_login(folder_tier):
    sha1 = folder_tier.add(DATA)
    parts = urlsplit(signed_blob_url(sha1))
    expires = parse_qs(parts.query)["expires"][0]
    assert Client().get(f"{parts.path}?expires={expires}").status_code == 401


def test_a_user_with_the_permission_needs_no_signature(client_of, folder_tier):
    sha1 = folder_tier.add(DATA)
    client = client_of(make_user("reader", "view_blob"))
    url = with_query(signed_blob_url(sha1), signature="forged")
    assert client.get(url).status_code == 200
    assert client_of(make_user("nobody")).get(url).status_code == 403
