"""The scrub re-verifies the filesystem cache tiers' folders and removes what fails."""

import hashlib
import io
import os
import time

import pytest
from django.core.management import CommandError, call_command

import bitstore_app
from bitstore_app import services
from bitstore_app.core.scrub import STALE_INCOMING, scrub_folder
from bitstore_app.core.tiers.filesystem import INCOMING
from bitstore_app.models import Tier

pytestmark = pytest.mark.django_db


def put_file(folder, data, name=None):
    name = name or hashlib.sha1(data).hexdigest()
    (folder / name).write_bytes(data)
    return name


@pytest.fixture
def cache_and_source(tmp_path):
    """A filesystem cache tier and a filesystem source tier, each with a good and a bad blob."""
    folders = {}
    for position, (name, role) in enumerate([("cache", Tier.CACHE), ("disk", Tier.SOURCE)]):
        folder = folders[name] = tmp_path / name
        folder.mkdir()
        Tier.objects.create(
            name=name, kind="filesystem", location=str(folder), role=role, position=position
        )
    return folders


def test_the_command_removes_corrupt_cache_entries_and_keeps_good_ones(cache_and_source):
    cache = cache_and_source["cache"]
    good = put_file(cache, b"a good blob")
    bad = put_file(cache, b"flipped bits", name=hashlib.sha1(b"the original").hexdigest())
    other = put_file(cache, b"not a blob name", name="README")
    source_bad = put_file(cache_and_source["disk"], b"x", name=hashlib.sha1(b"y").hexdigest())
    out = io.StringIO()
    call_command("bitstore_scrub", stdout=out)
    assert "2 blobs checked (23 bytes), 1 removed as corrupt" in out.getvalue()
    kept = [name for name in os.listdir(cache) if not name.startswith(".bitstore-")]
    assert sorted(kept) == sorted([good, other])
    assert bad not in os.listdir(cache)
    # The scrub counted what is left: the level's figures in the admin and /metrics.
    usage = services.cache_levels()[0].usage
    assert (usage.bytes, usage.blobs) == (len(b"a good blob"), 1)
    # A source's files are the user's: never removed.
    assert os.listdir(cache_and_source["disk"]) == [source_bad]
    assert bitstore_app.get(good) == b"a good blob"


def test_stale_temporary_files_go_and_fresh_ones_stay(tmp_path):
    stale, fresh = tmp_path / f"{INCOMING}old", tmp_path / f"{INCOMING}new"
    stale.write_bytes(b"half a write")
    fresh.write_bytes(b"a write going on")
    old = time.time() - STALE_INCOMING - 10
    os.utime(stale, (old, old))
    report = scrub_folder(tmp_path)
    assert (report.stale_removed, report.checked) == (1, 0)
    assert os.listdir(tmp_path) == [fresh.name]


def test_big_blobs_are_hashed_in_chunks_and_kept(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)
    put_file(tmp_path, data)
    report = scrub_folder(tmp_path)
    assert (report.checked, report.bytes_checked, report.removed) == (1, len(data), [])


def test_the_command_names_a_tier_it_cannot_scrub(cache_and_source):
    with pytest.raises(CommandError, match="not an enabled filesystem cache tier: disk, nope"):
        call_command("bitstore_scrub", "--tier", "disk", "--tier", "nope")
    out = io.StringIO()
    call_command("bitstore_scrub", "--tier", "cache", stdout=out)
    assert "0 blobs checked" in out.getvalue()


def test_without_a_filesystem_cache_the_command_says_so():
    out = io.StringIO()
    call_command("bitstore_scrub", stdout=out)
    assert out.getvalue().strip() == "No enabled filesystem cache tier to scrub."
