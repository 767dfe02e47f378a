"""The composer turns a tier definition into a store, or says which field is wrong and why."""

import pytest

from bitstore_app.composer import TierConfigError, TierSpec, build_tier, validate
from bitstore_app.core import HTTPAPISource, Sha1Cache, Sha1Store
from tests.app.sources import DictSource

S3 = {"kind": "s3", "location": "s3://bucket/blobs/"}
API = {"kind": "http_api", "location": "http://127.0.0.1:9/blobs"}

BAD = {
    # Locations, per kind.
    "s3 without a scheme": ({"kind": "s3", "location": "bucket/blobs/"}, "location", "s3://"),
    "s3 without a prefix": ({"kind": "s3", "location": "s3://bucket"}, "location", "s3://"),
    "gs with an s3 URL": ({"kind": "gs", "location": "s3://bucket/x/"}, "location", "gs://"),
    "a relative folder": (
        {"kind": "filesystem", "location": "var/blobs"},
        "location",
        "absolute folder",
    ),
    "an unknown storage alias": (
        {"kind": "django_storage", "location": "nope"},
        "location",
        "storage alias from STORAGES (default, staticfiles), not 'nope'",
    ),
    "no storage alias": ({"kind": "django_storage"}, "location", "storage alias"),
    "an API that is not HTTP": (
        {"kind": "http_api", "location": "ftp://host/blobs"},
        "location",
        "base URL",
    ),
    # Options.
    "an unknown option": (
        S3 | {"options": {"colour": "red"}},
        "options",
        "S3Raw does not accept option(s) colour (it accepts: endpoint_url, region_name",
    ),
    "options that are a JSON array": (
        S3 | {"options": [1, 2]},
        "options",
        "options must be a JSON object such as {}, not a JSON array",
    ),
    "a string for a number": (
        S3 | {"options": {"read_timeout": "fast"}},
        "options",
        "option 'read_timeout' must be a number, not a string 'fast'",
    ),
    "a string for an object": (
        API | {"options": {"headers": "X-Key: 1"}},
        "options",
        "option 'headers' must be a JSON object or null, not a string",
    ),
    "a number for true or false": (
        API | {"options": {"verify": 1}},
        "options",
        "option 'verify' must be true or false, not a number 1",
    ),
    "a number for a string in a custom class": (
        {"kind": "tests.app.sources.DictSource", "options": {"collection": 3}},
        "options",
        "option 'collection' must be a string, not a number 3",
    ),
    "a URL template without the SHA1": (
        API | {"options": {"url_template": "{base_url}/blob"}},
        "options",
        "url_template must contain {sha1}",
    ),
    # Kinds.
    "an unknown kind": ({"kind": "azure"}, "kind", "unknown kind 'azure': use one of s3, gs"),
    "a module that does not exist": (
        {"kind": "nosuch_package.Source"},
        "kind",
        "No module named 'nosuch_package'",
    ),
    "a class that does not exist": (
        {"kind": "tests.app.sources.Missing"},
        "kind",
        "module 'tests.app.sources' has no attribute 'Missing'",
    ),
    "a class that is not a store": (
        {"kind": "collections.OrderedDict"},
        "kind",
        "'collections.OrderedDict' is not a Store class",
    ),
    # Credentials.
    "credentials that do not resolve": (
        S3 | {"credentials": "nope"},
        "credentials",
        "not an entry of BITSTORE['CREDENTIALS']",
    ),
    "credentials for a class that takes none": (
        {"kind": "tests.app.sources.DictSource", "credentials": "anonymous"},
        "credentials",
        "DictSource takes no credentials",
    ),
}


@pytest.mark.parametrize("fields, field, says", BAD.values(), ids=BAD.keys())
def test_a_bad_definition_names_the_field_and_what_is_wrong(fields, field, says):
    spec = TierSpec(name="tier", **fields)
    with pytest.raises(TierConfigError) as caught:
        validate(spec)
    assert caught.value.field == field
    assert says in str(caught.value)
    with pytest.raises(TierConfigError):
        build_tier(spec)


def unwrap(store):
    """The store a guard (if any) wraps."""
    return getattr(store, "inner", store)


def test_good_definitions_build_stores_named_after_their_tier(tmp_path):
    cases = [
        (TierSpec(name="s3", **S3), Sha1Store),
        (TierSpec("cache", "filesystem", str(tmp_path), role="cache"), Sha1Cache),
        (TierSpec(name="api", **API), HTTPAPISource),
        (TierSpec(name="custom", kind="tests.app.sources.DictSource"), DictSource),
    ]
    for spec, cls in cases:
        validate(spec)
        store = build_tier(spec)
        assert str(store) == spec.name
        assert isinstance(unwrap(store), cls)


def test_the_tier_timeouts_reach_the_store():
    spec = TierSpec(name="api", connect_timeout=1.5, read_timeout=7.0, **API)
    validate(spec)
    store = unwrap(build_tier(spec))
    assert store.timeout == (1.5, 7.0)


def test_a_cache_tier_verifies_what_it_serves_whatever_its_verify_field(tmp_path):
    unticked = TierSpec("cache", "filesystem", str(tmp_path), role="cache", verify=False)
    assert unwrap(build_tier(unticked)).verify is True
    source = TierSpec("disk", "filesystem", str(tmp_path), verify=False)
    assert unwrap(build_tier(source)).verify is False  # a source verifies when ticked
