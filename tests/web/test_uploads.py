"""PUT /blobs/<sha1> and POST /blobs: authenticated, verified before visible, capped, idempotent."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from bitstore_app import services, uploads
from bitstore_app.core import InvalidDataFound
from bitstore_app.models import Tier
from bitstore_app.web.tokens import issue
from tests.web.conftest import FolderTier, blob_of, blob_url, make_user

pytestmark = pytest.mark.django_db

DATA = b"an uploaded blob\n" * 1000


def error_of(response):
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["error"]


@pytest.fixture
def cache(tmp_path):
    return FolderTier(tmp_path / "cache", name="cache", role="cache")


@pytest.fixture
def uploader(db):
    user = make_user("uploader", "add_blob")
    _, token = issue(user, "uploads", ["upload"])
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def put(meta, sha1, data, client=None):
    client = client or Client()
    return client.put(blob_url(sha1), data, "application/octet-stream", **meta)


def files_in(folder):
    return sorted(path.name for path in folder.iterdir())


def test_a_put_stores_the_blob_and_a_second_put_writes_nothing(uploader, cache):
    sha1 = blob_of(DATA)
    response = put(uploader, sha1, DATA)
    assert response.status_code == 201
    assert response.json() == {
        "sha1": sha1,
        "size": len(DATA),
        "created": True,
        "url": blob_url(sha1),
    }
    assert response["Location"] == blob_url(sha1)
    stat = (cache.root / sha1).stat()
    assert (cache.root / sha1).read_bytes() == DATA
    again = put(uploader, sha1, DATA)
    assert (again.status_code, again.json()["created"]) == (200, False)
    after = (cache.root / sha1).stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_a_put_whose_body_has_another_sha1_stores_nothing(uploader, cache):
    sha1 = blob_of(b"what the client meant")
    response = put(uploader, sha1, DATA)
    assert response.status_code == 400
    assert f"the body's SHA1 is {blob_of(DATA)}, not {sha1}" in error_of(response)
    assert files_in(cache.root) == []


def test_a_post_answers_the_sha1(uploader, cache):
    response = Client().post(
        reverse("bitstore:blobs"), DATA, "application/octet-stream", **uploader
    )
    assert (response.status_code, response.json()["sha1"]) == (201, blob_of(DATA))
    assert (cache.root / blob_of(DATA)).read_bytes() == DATA
    again = Client().post(reverse("bitstore:blobs"), DATA, "application/octet-stream", **uploader)
    assert (again.status_code, again.json()["created"]) == (200, False)


def test_an_empty_blob_can_be_uploaded(uploader, cache):
    response = put(uploader, blob_of(b""), b"")
    assert response.status_code == 201
    assert (cache.root / blob_of(b"")).read_bytes() == b""


def test_uploads_beyond_the_size_setting_are_413(uploader, cache, settings):
    settings.BITSTORE = {**settings.BITSTORE, "UPLOAD_MAX_SIZE": 1000}
    response = put(uploader, blob_of(DATA), DATA)
    assert response.status_code == 413
    assert "UPLOAD_MAX_SIZE (1000 bytes)" in error_of(response)
    response = Client().post(
        reverse("bitstore:blobs"), DATA, "application/octet-stream", **uploader
    )
    assert response.status_code == 413
    assert files_in(cache.root) == []


def test_a_stream_past_the_limit_is_dropped_without_a_trace(cache):
    chunks = [b"x" * 600, b"y" * 600]
    with pytest.raises(uploads.TooLarge):
        uploads.store(iter(chunks), blob_of(b"".join(chunks)), max_size=1000)
    with pytest.raises(uploads.TooLarge):
        uploads.store(iter(chunks), None, max_size=1000)
    assert files_in(cache.root) == []


def test_a_blob_is_not_visible_before_its_sha1_checked_out(cache):
    sha1 = blob_of(DATA)
    seen = []

    def chunks():
        yield DATA[:100]
        seen.append(services.exists(sha1))  # half written: nobody can see it
        yield DATA[100:]

    assert uploads.store(chunks(), sha1).created
    assert seen == [False]
    assert services.exists(sha1)
    with pytest.raises(InvalidDataFound):
        uploads.store(iter([b"wrong"]), blob_of(b"right"))
    assert not services.exists(blob_of(b"right"))


def test_who_may_upload(cache, client_of):
    sha1 = blob_of(DATA)
    assert put({}, sha1, DATA).status_code == 401
    reader = client_of(make_user("reader", "view_blob"))
    response = put({}, sha1, DATA, client=reader)
    assert (response.status_code, error_of(response)) == (
        403,
        "you do not have the bitstore_app.add_blob permission",
    )
    _, read_token = issue(make_user("token-reader", "view_blob", "add_blob"), "r", ["read"])
    response = put({"HTTP_AUTHORIZATION": f"Bearer {read_token}"}, sha1, DATA)
    assert (response.status_code, error_of(response)) == (
        403,
        "this token lacks the 'upload' scope",
    )
    session = client_of(make_user("session-uploader", "add_blob"))
    assert put({}, sha1, DATA, client=session).status_code == 201


def test_a_malformed_sha1_is_400(uploader, cache):
    response = put(uploader, "not-a-sha1", DATA)
    assert (response.status_code, "not a SHA1" in error_of(response)) == (400, True)


def test_no_writable_tier_is_409(uploader, db):
    Tier.objects.create(name="api", kind="http_api", location="http://127.0.0.1:9/blobs")
    response = put(uploader, blob_of(DATA), DATA)
    assert response.status_code == 409
    assert "no enabled tier accepts uploads: tick 'accepts puts'" in error_of(response)


def test_a_form_upload_is_refused_with_415(uploader, cache):
    response = Client().post(reverse("bitstore:blobs"), {"file": DATA}, **uploader)
    assert response.status_code == 415
    assert "not a form" in error_of(response)
    assert files_in(cache.root) == []
