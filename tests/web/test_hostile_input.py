"""Hostile input to the JSON endpoints and the admin: a clear 4xx naming what is wrong, as
JSON, never a 500; CSRF failures included; signed URLs cover the download name."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from bitstore_app.signed_urls import signed_blob_url
from bitstore_app.web.tokens import issue
from tests.web.conftest import body, make_user
from tests.web.test_signed_urls import DATA, with_query

pytestmark = pytest.mark.django_db

#: The JSON endpoints that take a POST body: the URL name, and the permission and token
#: scope they need.
POST_ENDPOINTS = {"warm": ("warm", "warm"), "missing": ("view_blob", "read")}


@pytest.fixture(params=sorted(POST_ENDPOINTS))
def endpoint(request):
    """(URL, permission codename, token scope) of each JSON endpoint that takes a POST."""
    permission, scope = POST_ENDPOINTS[request.param]
    return reverse(f"bitstore:{request.param}"), permission, scope


def csrf_client(**kwargs):
    return Client(enforce_csrf_checks=True, **kwargs)


def test_a_post_without_a_session_is_a_json_401_not_the_csrf_page(endpoint):
    url, _, _ = endpoint
    response = csrf_client().post(url, "[]", content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "authentication required" in response.json()["error"]


def test_a_session_post_without_the_csrf_token_is_a_json_403_naming_it(endpoint):
    url, permission, _ = endpoint
    client = csrf_client()
    client.force_login(make_user("poster", permission))
    response = client.post(url, "[]", content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert "CSRF" in error and "X-CSRFToken" in error


def test_a_session_post_with_the_csrf_token_passes_the_check(endpoint):
    url, permission, _ = endpoint
    client = csrf_client()
    client.force_login(make_user("poster", permission))
    client.get("/admin/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url, "{}", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400  # past CSRF: an object without hashes is refused


def test_a_token_post_needs_no_csrf_token(endpoint):
    url, permission, scope = endpoint
    _, token = issue(make_user("program", permission), "ci", [scope])
    response = csrf_client().post(
        url, "{}", content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400, response.content[:200]
    assert "error" in response.json()


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_a_deeply_nested_body_is_a_400(client_of, endpoint, depth):
    url, permission, _ = endpoint
    poster = client_of(make_user("poster", permission))
    payload = "[" * depth + "]" * depth
    response = poster.post(url, payload, content_type="application/json")
    assert response.status_code == 400
    assert "nest" in response.json()["error"]


@pytest.fixture
def warmer(client_of):
    return client_of(make_user("warmer", "warm"))


@pytest.mark.parametrize("chunk_size", [2**63, 2**31, -1, 0, 1.5, True, "10"])
def test_chunk_size_out_of_range_is_a_400_naming_it(warmer, chunk_size):
    payload = json.dumps({"hashes": ["a" * 40], "chunk_size": chunk_size})
    response = warmer.post(reverse("bitstore:warm"), payload, content_type="application/json")
    assert response.status_code == 400
    assert "chunk_size" in response.json()["error"]


def test_a_hash_that_is_not_a_string_is_counted_malformed_not_a_500(warmer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    payload = json.dumps({"hashes": [["a" * 40], {"x": 1}, 2**70]})
    response = warmer.post(reverse("bitstore:warm"), payload, content_type="application/json")
    assert response.status_code in (202, 400, 409), response.content
    assert "error" in response.json() or response.json()["malformed"] == 3


@pytest.mark.parametrize("job_id", ["99999999999999999999", str(2**63), "9223372036854775807"])
def test_a_job_id_past_the_database_range_is_a_404(warmer, job_id):
    response = warmer.get(f"/bitstore/warm/{job_id}")
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_signed_url_does_not_serve_under_another_download_name(folder_tier):
    sha1 = folder_tier.add(DATA)
    url = signed_blob_url(sha1, download="report.pdf")
    assert body(Client().get(url)) == DATA
    for name in ("malware.exe", ""):
        response = Client().get(with_query(url, download=name))
        assert response.status_code == 403, name
        assert "not valid" in response.json()["error"]
    added = with_query(signed_blob_url(sha1), download="malware.exe")
    assert Client().get(added).status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=99999999999",
        "created_at__year=2026&created_at__month=99",
        "created_at__year=2026&created_at__month=2&created_at__day=31",
        "created_at__year=-5",
        "created_at__year=abc",
        "created_at__gte=99999-01-01",
    ],
)
@pytest.mark.parametrize("page", ["fetchrecord", "warmjob"])
def test_the_admin_date_filters_never_500(admin_client, query, page):
    response = admin_client.get(f"/admin/bitstore_app/{page}/?{query}")
    assert response.status_code in (200, 302), response.status_code


@pytest.mark.parametrize("path", ["nothing", "blob/abc", "warmers", "openapi.yaml"])
def test_a_path_under_the_prefix_that_names_no_endpoint_is_a_json_404(client, path):
    response = client.get(f"/bitstore/{path}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "no endpoint at" in response.json()["error"]
