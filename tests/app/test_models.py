"""Tier validation: cross-field rules, validation by building; several enabled caches."""

import pytest
from django.core.exceptions import ValidationError

from bitstore_app.models import Tier

pytestmark = pytest.mark.django_db


def errors_of(tier):
    with pytest.raises(ValidationError) as caught:
        tier.full_clean()
    return caught.value.message_dict


def test_several_enabled_caches_are_cache_levels_in_position_order():
    second = Tier.objects.create(name="bucket", kind="memory", role=Tier.CACHE, position=2)
    first = Tier.objects.create(name="disk", kind="memory", role=Tier.CACHE, position=1)
    for tier in (first, second):
        tier.full_clean()
    assert list(Tier.objects.enabled().filter(role=Tier.CACHE)) == [first, second]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"max_bytes": 1000}, "max_bytes"),  # a source does not evict
        ({"role": Tier.CACHE, "read_only": True, "max_bytes": 1000}, "max_bytes"),
        ({"role": Tier.CACHE, "accepts_puts": True}, "accepts_puts"),  # a cache may evict puts
        ({"read_only": True, "accepts_puts": True}, "accepts_puts"),
        ({"role": Tier.CACHE, "max_bytes": 0}, "max_bytes"),
    ],
)
def test_cache_level_fields_that_cannot_work_are_refused_on_their_field(fields, field):
    assert field in errors_of(Tier(name="t", kind="memory", **fields))


def test_a_size_a_kind_cannot_keep_is_refused_on_its_field():
    tier = Tier(name="b", kind="s3", location="s3://bucket/c/", role=Tier.CACHE, max_bytes=10)
    assert "lifecycle rule" in errors_of(tier)["max_bytes"][0]
    Tier(name="m", kind="memory", role=Tier.CACHE, max_bytes=10).full_clean()


def test_clean_puts_each_error_on_its_field(tmp_path):
    cases = {
        "kind": Tier(name="a", kind="azure"),
        "location": Tier(name="b", kind="filesystem", location="relative"),
        "options": Tier(name="c", kind="memory", options={"colour": "red"}),
        "credentials": Tier(name="d", kind="s3", location="s3://bucket/x/", credentials="nope"),
        "write_back": Tier(name="e", kind="memory", role=Tier.CACHE, write_back=True),
    }
    for field, tier in cases.items():
        assert field in errors_of(tier), field
    Tier(name="good", kind="filesystem", location=str(tmp_path)).full_clean()


def test_clean_does_not_show_a_secret_pasted_as_the_credentials_reference():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    tier = Tier(name="s3", kind="s3", location="s3://bucket/x/", credentials=secret)
    assert secret not in str(errors_of(tier))
