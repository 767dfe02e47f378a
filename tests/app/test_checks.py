"""`manage.py check` reports tier misconfiguration, each problem with its id and its tier."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from bitstore_app.models import Tier

pytestmark = pytest.mark.django_db


def bitstore_problems():
    return {(message.id, message.obj) for message in run_checks(tags=["bitstore"])}


def add_tier(name, **fields):
    """Save a row as a script could: `save()` does not run `clean()`."""
    return Tier.objects.create(name=name, **{"kind": "memory"} | fields)


def test_a_sound_configuration_has_no_problem(tmp_path):
    add_tier("disk", kind="filesystem", location=str(tmp_path))
    add_tier("cache", role=Tier.CACHE)
    add_tier("api", kind="http_api", location="http://127.0.0.1:9/blobs", write_back=True)
    assert bitstore_problems() == set()


def test_no_enabled_tier():
    add_tier("off", enabled=False)
    assert bitstore_problems() == {("bitstore.W001", None)}


def test_write_back_with_no_cache_tier():
    tier = add_tier("api", kind="http_api", location="http://127.0.0.1:9/blobs", write_back=True)
    add_tier("cache", role=Tier.CACHE, enabled=False)
    assert bitstore_problems() == {("bitstore.W002", tier)}


def test_a_credentials_reference_that_does_not_resolve(bitstore_config):
    bitstore_config(CREDENTIALS={"aws": {"aws_access_key_id": "env:BITSTORE_UNSET_VARIABLE"}})
    unknown = add_tier("unknown", kind="s3", location="s3://bucket/x/", credentials="nope")
    unset = add_tier("unset", kind="s3", location="s3://bucket/y/", credentials="aws")
    not_json = add_tier("env", kind="s3", location="s3://bucket/z/", credentials="env:HOME")
    expected = {("bitstore.E002", tier) for tier in (unknown, unset, not_json)}
    assert bitstore_problems() == expected


def test_an_unknown_kind_or_dotted_path():
    tiers = [
        add_tier("nosuch", kind="nosuch"),
        add_tier("missing-module", kind="nosuch_package.Source"),
        add_tier("missing-class", kind="tests.app.sources.Missing"),
        add_tier("not-a-store", kind="collections.OrderedDict"),
    ]
    assert bitstore_problems() == {("bitstore.E001", tier) for tier in tiers}


def test_bad_locations_and_options():
    location = add_tier("relative", kind="filesystem", location="relative/folder")
    options = add_tier("colour", options={"colour": "red"})
    assert bitstore_problems() == {("bitstore.E003", location), ("bitstore.E004", options)}


def test_manage_py_check_prints_each_problem_with_its_ids():
    tier = add_tier("nosuch", kind="nosuch")
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    message = str(caught.value)
    assert "bitstore.E001" in message
    assert f"Tier 'nosuch' (id {tier.pk}) (kind): unknown kind 'nosuch'" in message
