"""`bitstore_get -o FILE` writes a temporary file and renames it on success: a fetch that
fails midway leaves no FILE (and an earlier FILE as it was), with a one-line error."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bitstore_app.models import Tier
from tests.resilience.conftest import make_blob
from tests.resilience.servers import ShortBodyServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_source():
    server = ShortBodyServer()
    Tier.objects.create(name="short", kind="http_api", location=server.url, retries=0)
    yield server
    server.stop()


def test_a_source_that_dies_midway_leaves_no_file(short_source, tmp_path):
    sha1, data = make_blob(size=3 * 1024 * 1024)
    short_source.blobs[sha1] = data
    target = tmp_path / "out.bin"
    with pytest.raises(CommandError) as raised:
        call_command("bitstore_get", sha1, "-o", str(target))
    assert "\n" not in str(raised.value) and "short" in str(raised.value)
    assert list(tmp_path.iterdir()) == [], "no FILE and no temporary file"


def test_an_earlier_file_is_kept_when_the_fetch_fails(short_source, tmp_path):
    sha1, data = make_blob(size=100_000)
    short_source.blobs[sha1] = data
    target = tmp_path / "out.bin"
    target.write_bytes(b"the earlier file")
    with pytest.raises(CommandError):
        call_command("bitstore_get", sha1, "-o", str(target))
    assert target.read_bytes() == b"the earlier file"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(1_600_000, id="checked-before-sending"),
        pytest.param(6_400_000, id="checked-at-the-end"),  # over VERIFY_BEFORE_SEND_MAX_BYTES
    ],
)
def test_a_blob_that_fails_its_check_leaves_no_file(tmp_path, size):
    sha1, _ = make_blob()
    folder = tmp_path / "tier"
    folder.mkdir()
    (folder / sha1).write_bytes(b"not those bytes " * (size // 16))
    Tier.objects.create(name="liar", kind="filesystem", location=str(folder), verify=True)
    target = tmp_path / "out.bin"
    with pytest.raises(CommandError, match="liar holds invalid data"):
        call_command("bitstore_get", sha1, "-o", str(target))
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tier"]


def test_success_still_writes_the_whole_file(short_source, tmp_path):
    short_source.short = False
    sha1, data = make_blob(size=100_000)
    short_source.blobs[sha1] = data
    target = tmp_path / "out.bin"
    call_command("bitstore_get", sha1, "-o", str(target), stdout=io.StringIO())
    assert target.read_bytes() == data
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.django_db(transaction=True)
def test_the_command_line_shows_one_line_and_no_traceback(short_source, tmp_path, live_db_url):
    """The same failure from a real `manage.py` process, on the test's database."""
    sha1, data = make_blob(size=100_000)
    short_source.blobs[sha1] = data
    env = {"DATABASE_URL": live_db_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "manage.py", "bitstore_get", sha1, "-o", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "CommandError" in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].endswith("unavailable: short"), errors[0]
    assert not (tmp_path / "out").exists()
