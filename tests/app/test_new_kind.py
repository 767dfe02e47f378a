"""Each tier kind describes itself in its own class (location, options, timeouts, hint), and
the composer, the model's help texts, the admin form and the checks read that: a new kind is
one file (tests/app/demo_kind.py here) and a line in the registry."""

from dataclasses import replace

import pytest
from django.core.checks import run_checks

from bitstore_app.admin.forms import TierForm
from bitstore_app.composer import TierConfigError, TierSpec, build_tier
from bitstore_app.core import tiers
from bitstore_app.models import Tier
from tests.app.demo_kind import BUCKETS, DemoRaw

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_kind(monkeypatch):
    monkeypatch.setitem(tiers.KINDS, "demo", "tests.app.demo_kind.DemoRaw")
    BUCKETS.clear()


def test_every_kind_gives_its_location_hint_to_the_help_texts():
    kind_help = Tier._meta.get_field("kind").help_text
    location_help = Tier._meta.get_field("location").help_text
    for kind in tiers.KINDS:
        hint = tiers.tier_class(kind).LOCATION_HINT
        assert kind in kind_help
        assert f"{hint} for {kind}" in location_help, kind
    assert "for memory" in location_help, "the memory kind is listed too"


def test_a_new_kind_is_built_from_a_row_as_its_class_says(demo_kind, bitstore_config, monkeypatch):
    bitstore_config(CREDENTIALS={"demo-token": {"token": "env:DEMO_TOKEN"}})
    spec = TierSpec(
        name="demo",
        kind="demo",
        location="demo://bucket-a/blobs/",
        credentials="demo-token",
        connect_timeout=1.5,
        read_timeout=7.0,
        retries=1,
    )
    with pytest.raises(TierConfigError) as caught:
        build_tier(spec)  # the environment variable is not set yet
    assert caught.value.field == "credentials"
    monkeypatch.setenv("DEMO_TOKEN", "s3cret")
    store = build_tier(spec, guarded=False)
    raw = store.base_store
    assert isinstance(raw, DemoRaw) and raw.bucket == "bucket-a" and raw.token == "s3cret"
    assert raw.timeouts == (1.5, 7.0, 1), "the tier's timeouts, since the class takes them"
    sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
    store.put(sha1, b"abc")
    assert BUCKETS["bucket-a"] == {f"blobs/{sha1}": b"abc"}, "keys under the location's prefix"
    # Named by its dotted path instead of a registry line, the class builds the same way.
    dotted = build_tier(replace(spec, kind="tests.app.demo_kind.DemoRaw"), guarded=False)
    assert dotted.get(sha1) == b"abc" and dotted.base_store.token == "s3cret"


def test_a_new_kind_is_checked_by_the_model_the_form_and_the_checks(demo_kind):
    bad = {"name": "demo", "kind": "demo", "location": "demo://bucket"}
    with pytest.raises(Exception) as caught:
        Tier(**bad).full_clean()
    assert "demo://bucket/prefix/" in str(caught.value.message_dict["location"])

    form = TierForm(data=bad | {"role": "source", "options": "{}", **TIMEOUTS})
    assert not form.is_valid()
    assert "demo://bucket/prefix/" in form.errors["location"][0]
    assert "demo" in form.fields["kind"].help_text

    row = Tier.objects.create(**bad)
    problems = {(m.id, m.obj) for m in run_checks(tags=["bitstore"])}
    assert ("bitstore.E003", row) in problems
    assert "demo://bucket/prefix/ for demo" in tiers.location_help()


TIMEOUTS = {
    "connect_timeout": "5",
    "read_timeout": "30",
    "retries": "2",
    "breaker_threshold": "5",
    "breaker_cooldown": "30",
    "negative_ttl": "5",
    "rate_limit": "0",
    "position": "0",
}
