"""The management commands, run with call_command against real tiers."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from bitstore_app.core.usage import Usage
from bitstore_app.ledger import level_samples
from bitstore_app.models import CacheLevelSample, FetchRecord, Tier
from tests.app.conftest import make_blob
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(tmp_path):
    """A filesystem cache tier; returns its folder."""
    root = tmp_path / "disk"
    root.mkdir()
    Tier.objects.create(name="disk", kind="filesystem", location=str(root), role=Tier.CACHE)
    return root


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_get_writes_the_blob_to_stdout(disk):
    sha1, data = make_blob()
    (disk / sha1).write_bytes(data)
    out = io.BytesIO()
    call_command("bitstore_get", sha1, stdout=out)
    assert out.getvalue() == data


def test_get_writes_the_blob_to_a_file(disk, tmp_path):
    sha1, data = make_blob()
    (disk / sha1).write_bytes(data)
    target = tmp_path / "out.bin"
    call_command("bitstore_get", f"sha1://{sha1}", "-o", str(target))
    assert target.read_bytes() == data


@pytest.mark.parametrize("sha1", [make_blob()[0], "not-a-sha1"])
def test_get_of_a_missing_or_malformed_sha1_is_a_command_error(disk, sha1):
    with pytest.raises(CommandError):
        call_command("bitstore_get", sha1, stdout=io.BytesIO())


def test_put_prints_the_sha1_and_stores_the_file(disk, tmp_path):
    sha1, data = make_blob()
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    assert run("bitstore_put", str(source)).strip() == sha1
    assert (disk / sha1).read_bytes() == data


def test_put_of_a_missing_file_is_a_command_error(disk, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run("bitstore_put", str(tmp_path / "absent"))


def test_tiers_lists_in_order_and_probes_each_without_crashing(disk, blob_api):
    Tier.objects.create(name="api", kind="http_api", location=blob_api.url, position=1)
    down = f"http://127.0.0.1:{free_port()}/blobs"
    Tier.objects.create(name="down", kind="http_api", location=down, position=2, read_timeout=2)
    Tier.objects.create(name="broken", kind="filesystem", location="relative", position=3)
    Tier.objects.create(
        name="off", kind="filesystem", location="relative", position=4, enabled=False
    )
    out = io.StringIO()
    # A script (a deployment check, cron) learns from the exit status that a tier is down.
    with pytest.raises(CommandError, match=r"2 enabled tiers are unreachable: down, broken"):
        call_command("bitstore_tiers", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["disk", "api", "down", "broken", "off"]
    assert "  reachable (" in lines[0] and "  reachable (" in lines[1]
    assert "unreachable: " in lines[2] and "unreachable: " in lines[3]
    assert "absolute folder" in lines[3]
    assert sum(blob_api.requests.values()) == 1  # one probe, put-free and download-free


def test_tiers_succeeds_when_every_enabled_tier_answers(disk, blob_api):
    Tier.objects.create(name="api", kind="http_api", location=blob_api.url, position=1)
    Tier.objects.create(name="off", kind="filesystem", location="relative", enabled=False)
    assert "unreachable" in run("bitstore_tiers")  # the disabled one: listed, not an error


def test_tiers_without_probing_and_with_no_tiers():
    assert run("bitstore_tiers").strip() == "No tiers are configured."
    Tier.objects.create(name="off", kind="memory", enabled=False)
    assert "disabled" in run("bitstore_tiers", "--no-probe")


def test_ledger_prune_deletes_only_older_records_and_level_samples():
    now = timezone.now()
    for days in (0, 2, 10, 40):
        FetchRecord.objects.create(
            sha1="0" * 40, outcome="hit", latency_ms=1, created_at=now - timedelta(days=days)
        )
        level_samples.record({"disk": Usage(days, 1, 0)}, now - timedelta(days=days))
    out = run("bitstore_ledger_prune", "--older-than", "7")
    assert "Deleted 2 ledger records older than 7 days, and 2 cache level samples" in out
    remaining = FetchRecord.objects.values_list("created_at", flat=True)
    assert sorted((now - moment).days for moment in remaining) == [0, 2]
    assert sorted(CacheLevelSample.objects.values_list("bytes", flat=True)) == [0, 2]
    with pytest.raises(CommandError):
        run("bitstore_ledger_prune", "--older-than", "-1")
