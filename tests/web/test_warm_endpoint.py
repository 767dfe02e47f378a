"""POST /warm and GET /warm/<id>: enqueue a warm job over HTTP and follow its progress.

The chunk tasks run eagerly, in this process (Celery's task_always_eager), when the job's
transaction commits: the view is under test here, and tests/warming runs real workers.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from bitstore_app.models import WarmJob
from tests.web.conftest import FolderTier, blob_of, make_user
from tests.web.test_metrics import samples, value

pytestmark = pytest.mark.django_db

BLOBS = [b"first blob to warm", b"second blob to warm"]


@pytest.fixture
def warm_tiers(tmp_path):
    """A folder source holding BLOBS, and an empty folder cache tier."""
    source = FolderTier(tmp_path / "source", name="source", position=0)
    cache = FolderTier(tmp_path / "cache", name="cache", position=1, role="cache")
    return source, cache, [source.add(data) for data in BLOBS]


@pytest.fixture
def warmer(client_of):
    return client_of(make_user("warmer", "warm"))


def post(client, payload):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(reverse("bitstore:warm"), body, content_type="application/json")


def progress(client, job_id):
    return client.get(reverse("bitstore:warm-job", args=[job_id]))


def test_a_job_is_enqueued_warmed_and_reported(
    warmer, warm_tiers, eager_celery, django_capture_on_commit_callbacks
):
    source, cache, hashes = warm_tiers
    with django_capture_on_commit_callbacks(execute=True):
        response = post(warmer, [*hashes, "not a sha1"])
    assert response.status_code == 202
    created = response.json()
    assert (created["total"], created["malformed"]) == (3, 1)
    assert response["Location"] == created["url"] == f"/bitstore/warm/{created['id']}"
    assert sorted(path.name for path in cache.root.iterdir()) == sorted(hashes)

    state = progress(warmer, created["id"]).json()
    assert (state["status"], state["processed"], state["progress"]) == ("done", 3, 1.0)
    assert (state["warmed"], state["malformed"], state["failed"]) == (2, 1, 0)
    assert state["bytes"] == sum(map(len, BLOBS))
    assert state["finished_at"] is not None
    assert WarmJob.objects.get(pk=created["id"]).created_by.username == "warmer"


def test_warming_again_finds_the_blobs_cached(
    warmer, warm_tiers, eager_celery, django_capture_on_commit_callbacks
):
    _, _, hashes = warm_tiers
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(warmer, {"hashes": hashes, "chunk_size": 1})
    state = progress(warmer, response.json()["id"]).json()
    assert (state["already_cached"], state["warmed"], state["chunks"]) == (2, 0, 2)


def test_warm_jobs_appear_in_the_metrics(
    warmer, warm_tiers, eager_celery, django_capture_on_commit_callbacks
):
    before = samples()
    with django_capture_on_commit_callbacks(execute=True):
        post(warmer, warm_tiers[2])
    after = samples()
    assert value(after, "bitstore_warm_jobs", status="done") == 1
    warmed = value(after, "bitstore_warm_blobs_total", outcome="warmed")
    assert warmed - value(before, "bitstore_warm_blobs_total", outcome="warmed") == 2
    assert value(after, "bitstore_warm_bytes_total") == sum(map(len, BLOBS))


def test_a_job_is_created_only_when_asked_by_a_user_with_the_warm_permission(client_of, warm_tiers):
    hashes = warm_tiers[2]
    assert post(Client(), hashes).status_code == 401
    response = post(client_of(make_user("reader", "view_blob")), hashes)
    assert response.status_code == 403
    assert "bitstore_app.warm" in response.json()["error"]
    assert not WarmJob.objects.exists()


def test_progress_needs_the_warm_permission_too(warmer, client_of, warm_tiers):
    job = post(warmer, warm_tiers[2]).json()
    assert progress(Client(), job["id"]).status_code == 401
    assert progress(client_of(make_user("reader", "view_blob")), job["id"]).status_code == 403
    assert progress(warmer, job["id"]).json()["status"] == "queued"  # nothing committed yet


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not json", "must be JSON"),
        ([], "non-empty JSON list"),
        ({"hashes": "abc"}, "non-empty JSON list"),
        ({"list": [blob_of(b"x")]}, "non-empty JSON list"),
        ({"hashes": [blob_of(b"x")], "chunk_size": 0}, "chunk_size"),
        ({"hashes": [blob_of(b"x")], "chunk_size": "5"}, "chunk_size"),
        ({"hashes": [blob_of(b"x")], "chunk_size": True}, "chunk_size"),
    ],
)
def test_a_malformed_request_gives_400(warmer, warm_tiers, payload, message):
    response = post(warmer, payload)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not WarmJob.objects.exists()


def test_a_list_too_long_for_the_upload_limit_gives_413(warmer, warm_tiers, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(warmer, [blob_of(str(n).encode()) for n in range(100)])
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["error"]


def test_without_a_cache_tier_gives_409(warmer, tmp_path):
    sha1 = FolderTier(tmp_path / "source").add(BLOBS[0])
    response = post(warmer, [sha1])
    assert response.status_code == 409
    assert "cache" in response.json()["error"]


def test_an_unknown_job_gives_404(warmer):
    response = progress(warmer, 999999)
    assert response.status_code == 404
    assert response.json()["error"] == "there is no warm job 999999"


def test_only_post_enqueues(warmer):
    response = warmer.get(reverse("bitstore:warm"))
    assert (response.status_code, response["Allow"]) == (405, "POST")


def test_a_cross_site_post_without_the_csrf_token_is_refused(warm_tiers):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("warmer", "warm"))
    assert post(client, warm_tiers[2]).status_code == 403
    assert not WarmJob.objects.exists()


def test_a_malformed_job_id_is_a_json_404_and_a_huge_chunk_size_a_400(warmer, warm_tiers):
    for job_id in ("-1", "abc", "9" * 30):
        response = warmer.get(f"/bitstore/warm/{job_id}")
        assert response.status_code == 404
        assert response.json()["error"] == f"there is no warm job {job_id}"
    _, _, hashes = warm_tiers
    response = post(warmer, {"hashes": hashes, "chunk_size": 2**100})
    assert response.status_code == 400
    assert "chunk_size must be a whole number from 1 to 2147483647" in response.json()["error"]


def test_entries_the_database_cannot_store_as_text_are_kept_escaped(warmer, warm_tiers):
    """PostgreSQL refuses NUL in text, and UTF-8 has no lone surrogates: the job's report of
    malformed entries keeps them escaped instead of answering 500."""
    _, _, hashes = warm_tiers
    body = json.dumps({"hashes": [hashes[0], "a\u0000b", "\ud83d\ude00x\ud8da", "\x1f"]})
    response = post(warmer, body)
    assert response.status_code == 202, response.content
    job = WarmJob.objects.get(pk=response.json()["id"])
    assert job.malformed_inputs == ["a\\x00b", "\U0001f600x\\ud8da", "\\x1f"]
