"""Validation by building: the tier form and `manage.py check` build the tier the way a fetch
would, with its resolved credentials and its url_template, and refuse what would fail later,
next to the field at fault and without echoing a credential's value."""

import json

import pytest
from django.core.checks import run_checks

from bitstore_app.models import Tier
from tests.admin.test_tier_form import assert_refused, post

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI-validation-secret"


@pytest.fixture
def misspelt_credentials(monkeypatch):
    """An environment variable whose JSON misspells a boto3.Session keyword."""
    value = {"aws_acess_key_id": "AKIAVALIDATION", "aws_secret_access_key": SECRET}
    monkeypatch.setenv("BITSTORE_TEST_MISSPELT", json.dumps(value))
    return "env:BITSTORE_TEST_MISSPELT"


def test_the_form_refuses_credentials_a_boto3_session_would_refuse(
    admin_client, misspelt_credentials
):
    response = post(
        admin_client, kind="s3", location="s3://bucket/blobs/", credentials=misspelt_credentials
    )
    assert_refused(response, "credentials", "aws_acess_key_id", "boto3.Session")
    page = response.content.decode()
    assert SECRET not in page and "AKIAVALIDATION" not in page


def test_the_form_refuses_an_unknown_url_template_placeholder(admin_client):
    response = post(
        admin_client,
        kind="http_api",
        location="http://127.0.0.1:9/blobs",
        options=json.dumps({"url_template": "{base_url}/{sha1}{x}"}),
    )
    assert_refused(response, "options", "url_template", "cannot be rendered")


def test_check_reports_both(misspelt_credentials):
    s3 = Tier.objects.create(
        name="s3", kind="s3", location="s3://bucket/b/", credentials=misspelt_credentials
    )
    api = Tier.objects.create(
        name="api",
        kind="http_api",
        location="http://127.0.0.1:9/blobs",
        options={"url_template": "{base_url}/{sha1}/{0}"},
    )
    problems = {(m.id, m.obj): m.msg for m in run_checks(tags=["bitstore"])}
    assert ("bitstore.E002", s3) in problems, problems
    assert ("bitstore.E004", api) in problems, problems
    assert SECRET not in " ".join(problems.values())
