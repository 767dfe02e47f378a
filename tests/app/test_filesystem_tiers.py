"""A filesystem source whose folder is missing is reported, not taken for an empty tier; a
filesystem cache makes its folder when it first writes."""

import hashlib

import pytest

from bitstore_app import services
from bitstore_app.composer import TierSpec
from bitstore_app.core import NotFoundWhileUnavailable

pytestmark = pytest.mark.django_db


def test_a_source_with_a_missing_folder_is_unreachable(tmp_path):
    spec = TierSpec(name="typo", kind="filesystem", location=str(tmp_path / "no-such-folder"))
    probe = services.check_tier(spec)
    assert not probe.reachable
    assert "does not exist" in probe.error


def test_a_missing_source_folder_makes_a_miss_retryable(tmp_path):
    from bitstore_app.models import Tier

    Tier.objects.create(name="typo", kind="filesystem", location=str(tmp_path / "missing"))
    with pytest.raises(NotFoundWhileUnavailable):
        services.get(hashlib.sha1(b"anything").hexdigest())


def test_a_cache_makes_its_folder_on_first_write(tmp_path):
    from bitstore_app.models import Tier

    folder = tmp_path / "cache" / "blobs"
    Tier.objects.create(name="cache", kind="filesystem", location=str(folder), role="cache")
    probe = services.check_tier(TierSpec.of(Tier.objects.get(name="cache")))
    assert probe.reachable, probe.error
    data = b"cached"
    sha1 = hashlib.sha1(data).hexdigest()
    services.put(sha1, data)
    assert (folder / sha1).read_bytes() == data
