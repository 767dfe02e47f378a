"""The tier form: every kind of bad input is refused, next to its field, in plain words."""

import re
from html import unescape

import pytest
from django.urls import reverse

from bitstore_app.admin.forms import TierForm
from bitstore_app.models import ConfigVersion, Tier
from tests.admin.conftest import form_data

pytestmark = pytest.mark.django_db

ADD_URL = "admin:bitstore_app_tier_add"


def tier_data(**overrides):
    """Return the POST data of a valid filesystem tier, with `overrides` (None drops a key)."""
    defaults = {"name": "disk", "kind": "filesystem", "location": "/var/tmp", "role": "source"}
    return form_data(TierForm(), **(defaults | overrides))


def post(admin_client, url=None, **overrides):
    return admin_client.post(url or reverse(ADD_URL), tier_data(**overrides))


def field_errors(response, field):
    """Return the field's one error as the page shows it, in the field's own row."""
    html = response.content.decode()
    row = re.search(rf'<div class="form-row[^"]*field-{field}[^"]*">(.*?)</fieldset>', html, re.S)
    assert row, f"no row for {field}"
    errors = re.search(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', row.group(1), re.S)
    assert errors, f"no error shown next to {field}"
    assert errors.group(1).count("<li>") == 1, f"one error expected: {errors.group(1)}"
    return unescape(re.sub(r"<[^>]+>", " ", errors.group(1)))


def assert_refused(response, field, *phrases):
    assert response.status_code == 200, "the form should be shown again, not saved"
    assert not Tier.objects.exists()
    shown = field_errors(response, field).lower()
    for phrase in phrases:
        assert phrase.lower() in shown, f"{phrase!r} not in {shown!r}"


@pytest.mark.parametrize(
    "kind, location, phrase",
    [
        ("s3", "bucket/blobs/", "The location must look like s3://bucket/prefix/"),
        ("s3", "s3://bucket", "The location must look like s3://bucket/prefix/"),
        ("gs", "s3://bucket/blobs/", "The location must look like gs://bucket/prefix/"),
        ("gs", "gs://ab/blobs/", "The location must look like gs://bucket/prefix/"),
        ("filesystem", "relative/folder", "The location must be an absolute folder path"),
        ("http_api", "ftp://example.org/blobs", "The location must be a base URL"),
    ],
)
def test_bad_location_for_its_kind(admin_client, kind, location, phrase):
    response = post(admin_client, kind=kind, location=location)
    assert_refused(response, "location", phrase)


def test_unknown_kind(admin_client):
    response = post(admin_client, kind="nosuchkind")
    assert_refused(response, "kind", "Unknown kind 'nosuchkind'", "use one of s3, gs")


def test_kind_that_is_not_a_store(admin_client):
    response = post(admin_client, kind="collections.OrderedDict")
    assert_refused(response, "kind", "is not a Store class")


def test_unknown_option(admin_client):
    response = post(
        admin_client, kind="s3", location="s3://bucket/blobs/", options='{"endpont_url": "x"}'
    )
    assert_refused(
        response, "options", "does not accept option(s) endpont_url", "accepts: endpoint_url"
    )


@pytest.mark.parametrize("options", ["[1, 2]", '"text"', "42"])
def test_options_that_are_not_an_object(admin_client, options):
    response = post(admin_client, options=options)
    assert_refused(response, "options", "Options must be a JSON object")


def test_options_that_are_not_json(admin_client):
    response = post(admin_client, options="{endpoint_url: x")
    assert_refused(response, "options", "Enter a valid JSON")


def test_credentials_name_that_is_not_defined(admin_client):
    response = post(admin_client, kind="s3", location="s3://bucket/blobs/", credentials="nope")
    assert_refused(response, "credentials", "is not an entry of BITSTORE['CREDENTIALS']", "prod-s3")


def test_credentials_from_a_missing_environment_variable(admin_client, monkeypatch):
    monkeypatch.delenv("BITSTORE_TEST_NO_SUCH_VAR", raising=False)
    response = post(admin_client, credentials="env:BITSTORE_TEST_NO_SUCH_VAR")
    assert_refused(response, "credentials", "BITSTORE_TEST_NO_SUCH_VAR, which is not set")


@pytest.mark.parametrize("field", ["connect_timeout", "read_timeout"])
def test_timeouts_must_be_positive(admin_client, field):
    response = post(admin_client, **{field: "0"})
    assert_refused(response, field, "greater than zero")


def test_cache_cannot_write_back(admin_client):
    response = post(admin_client, role="cache", write_back="on")
    assert_refused(response, "write_back", "A cache tier cannot write back into itself")


def test_a_second_enabled_cache_is_saved_as_a_level_with_its_size(admin_client, make_tier):
    make_tier("cache-1", role="cache")
    response = post(admin_client, name="cache-2", role="cache", max_bytes="200000")
    assert response.status_code == 302
    assert list(Tier.objects.values_list("name", "max_bytes")) == [
        ("cache-1", None),
        ("cache-2", 200000),
    ]


def test_a_size_on_a_bucket_level_is_refused_next_to_the_field(admin_client):
    response = post(
        admin_client, kind="s3", location="s3://bucket/cache/", role="cache", max_bytes="1000"
    )
    assert_refused(response, "max_bytes", "lifecycle rule")


def test_unreachable_tier_is_refused_when_probe_is_ticked(admin_client, closed_port):
    response = post(
        admin_client,
        kind="s3",
        location="s3://bucket/blobs/",
        options=f'{{"endpoint_url": "http://127.0.0.1:{closed_port}"}}',
        probe_now="on",
    )
    assert_refused(response, "probe_now", "NOT reachable", "untick this box")


def test_unreachable_tier_is_saved_when_probe_is_not_ticked(admin_client, closed_port):
    response = post(
        admin_client,
        kind="s3",
        location="s3://bucket/blobs/",
        options=f'{{"endpoint_url": "http://127.0.0.1:{closed_port}"}}',
    )
    assert response.status_code == 302
    assert Tier.objects.get().kind == "s3"


def test_missing_folder_is_refused_when_probe_is_ticked(admin_client, tmp_path):
    response = post(
        admin_client,
        location=str(tmp_path / "missing"),
        options='{"create": false}',
        probe_now="on",
    )
    assert_refused(response, "probe_now", "does not exist")


def test_reachable_tiers_are_saved_at_the_end_with_the_version_moved(
    admin_client, tmp_path, s3_server
):
    bucket = s3_server.make_bucket("admin-form-probe")
    before = ConfigVersion.current()
    response = post(admin_client, location=str(tmp_path), probe_now="on")
    assert response.status_code == 302, response.content.decode()[:2000]
    response = post(
        admin_client,
        name="s3",
        kind="s3",
        location=f"s3://{bucket}/blobs/",
        credentials="anonymous",
        options=f'{{"endpoint_url": "{s3_server.endpoint}"}}',
        probe_now="on",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tiers = list(Tier.objects.order_by("position"))
    assert [(t.name, t.options) for t in tiers] == [
        ("disk", {}),
        ("s3", {"endpoint_url": s3_server.endpoint}),
    ]
    assert tiers[0].position < tiers[1].position
    assert ConfigVersion.current() > before


def test_change_form_keeps_the_tier_when_an_edit_is_refused(admin_client, make_tier):
    tier = make_tier("disk")
    url = reverse("admin:bitstore_app_tier_change", args=[tier.pk])
    response = post(admin_client, url=url, location="not/absolute")
    assert response.status_code == 200
    assert "location must be an absolute folder path" in field_errors(response, "location")
    tier.refresh_from_db()
    assert tier.location.startswith("/")


def test_add_form_explains_each_field(admin_client):
    page = admin_client.get(reverse(ADD_URL)).content.decode()
    for text in ["s3, gs, filesystem", "never a secret", "prod-s3", "Check the tier now"]:
        assert text in page
