"""Tier validation: cross-field rules, validation by building, and the one enabled cache."""

import pytest
from django.core.exceptions import ValidationError

from bitstore_app.models import Tier

pytestmark = pytest.mark.django_db


def errors_of(tier):
    with pytest.raises(ValidationError) as caught:
        tier.full_clean()
    return caught.value.message_dict


def test_a_second_enabled_cache_tier_is_refused_with_a_clear_error():
    first = Tier.objects.create(name="cache", kind="memory", role=Tier.CACHE)
    second = Tier(name="other cache", kind="memory", role=Tier.CACHE)
    with pytest.raises(ValidationError) as caught:
        second.save()
    message = caught.value.message_dict["enabled"][0]
    assert f"Only one cache tier can be enabled at a time, and 'cache' (id {first.pk}) is" in (
        message
    )
    assert "Only one cache tier can be enabled at a time." in errors_of(second)["__all__"]


def test_a_disabled_second_cache_can_be_saved_and_swapped_in():
    first = Tier.objects.create(name="cache", kind="memory", role=Tier.CACHE)
    second = Tier.objects.create(name="next cache", kind="memory", role=Tier.CACHE, enabled=False)
    first.enabled = False
    first.save()
    second.enabled = True
    second.save()
    assert list(Tier.objects.filter(role=Tier.CACHE, enabled=True)) == [second]


def test_saving_the_enabled_cache_itself_again_is_fine():
    cache = Tier.objects.create(name="cache", kind="memory", role=Tier.CACHE)
    cache.position = 4
    cache.save()  # the one enabled cache is not "in its own way"
    assert Tier.objects.get(pk=cache.pk).position == 4


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
