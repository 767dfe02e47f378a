"""Credentials by reference: secrets come from settings and the environment, by name, and the
database holds only the name."""

import json

import pytest

import bitstore_app
from bitstore_app import services
from bitstore_app.credentials import CredentialsError, resolve
from bitstore_app.models import Tier
from tests.app.conftest import make_blob

SECRET = "Bearer s3cr3t-7f1c"


def stored_row(tier):
    """Every value of the tier's row, as the database returns it."""
    return Tier.objects.filter(pk=tier.pk).values().get()


@pytest.mark.django_db
def test_api_headers_come_from_a_named_entry_whose_secret_is_in_the_environment(
    blob_api, monkeypatch, bitstore_config
):
    monkeypatch.setenv("BITSTORE_TEST_API_TOKEN", SECRET)
    bitstore_config(
        CREDENTIALS={"blob-api": {"headers": {"Authorization": "env:BITSTORE_TEST_API_TOKEN"}}}
    )
    tier = Tier.objects.create(
        name="api", kind="http_api", location=blob_api.url, credentials="blob-api"
    )
    sha1, data = make_blob()
    blob_api.blobs[sha1] = data
    assert bitstore_app.get(sha1) == data
    assert blob_api.headers[-1]["Authorization"] == SECRET

    row = stored_row(tier)
    assert row["credentials"] == "blob-api"
    assert "s3cr3t" not in json.dumps(row, default=str)

    # The secret is read when the tier is built, never kept: a new one is used after a rebuild.
    monkeypatch.setenv("BITSTORE_TEST_API_TOKEN", "Bearer rotated")
    services.configuration.invalidate()
    bitstore_app.get(sha1)
    assert blob_api.headers[-1]["Authorization"] == "Bearer rotated"


@pytest.mark.django_db
def test_s3_keys_from_an_environment_variable_of_json(s3_server, s3_bucket, monkeypatch):
    keys = {"aws_access_key_id": "AKIATESTFROMENV", "aws_secret_access_key": "s3cr3t-from-env"}
    monkeypatch.setenv("BITSTORE_TEST_S3_KEYS", json.dumps(keys))
    sha1, data = make_blob()
    s3_server.client().put_object(Bucket=s3_bucket, Key=f"blobs/{sha1}", Body=data)
    tier = Tier.objects.create(
        name="s3",
        kind="s3",
        location=f"s3://{s3_bucket}/blobs/",
        credentials="env:BITSTORE_TEST_S3_KEYS",
    )
    assert bitstore_app.get(sha1) == data
    row = stored_row(tier)
    assert row["credentials"] == "env:BITSTORE_TEST_S3_KEYS"
    assert "s3cr3t" not in json.dumps(row, default=str)


def test_references_resolve_by_name(monkeypatch, bitstore_config):
    monkeypatch.setenv("BITSTORE_TEST_KEY", "from-env")
    bitstore_config(CREDENTIALS={"named": {"key": "env:BITSTORE_TEST_KEY", "region": "eu"}})
    assert resolve("") is None
    assert resolve("anonymous") == "anonymous"
    assert resolve("named") == {"key": "from-env", "region": "eu"}
    monkeypatch.setenv("BITSTORE_TEST_JSON", '{"a": 1}')
    assert resolve("env:BITSTORE_TEST_JSON") == {"a": 1}


@pytest.mark.parametrize(
    "reference, says",
    [
        ("no-such-entry", "is not an entry of BITSTORE['CREDENTIALS'] (entries: named)"),
        ("named", "need the environment variable BITSTORE_TEST_UNSET, which is not set"),
        ("env:BITSTORE_TEST_UNSET", "need the environment variable BITSTORE_TEST_UNSET"),
        ("env:BITSTORE_TEST_NOT_JSON", "BITSTORE_TEST_NOT_JSON does not hold JSON"),
    ],
)
def test_a_reference_that_does_not_resolve_says_why_without_showing_values(
    reference, says, monkeypatch, bitstore_config
):
    monkeypatch.delenv("BITSTORE_TEST_UNSET", raising=False)
    monkeypatch.setenv("BITSTORE_TEST_NOT_JSON", "s3cr3t plain text")
    bitstore_config(CREDENTIALS={"named": {"key": "env:BITSTORE_TEST_UNSET"}})
    with pytest.raises(CredentialsError) as caught:
        resolve(reference)
    assert says in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_a_secret_pasted_as_a_reference_is_not_repeated_in_the_error():
    with pytest.raises(CredentialsError) as caught:
        resolve("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert "wJalrXUtnFEMI" not in str(caught.value)
