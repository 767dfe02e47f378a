"""BitstoreStorage: content-addressed files for FileField, streamed, refusing what it cannot do."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test.utils import isolate_apps

import bitstore_app
from bitstore_app.storage import BitstoreStorage, DeletionRefused
from tests.web.conftest import FolderTier, blob_of

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
DATA = b"%PDF-1.4 a report kept in bitstore"


@pytest.fixture
def cache(tmp_path):
    return FolderTier(tmp_path / "cache", name="cache", role="cache")


@pytest.fixture
def report_model():
    """A model with a FileField on BitstoreStorage (in an isolated app registry)."""
    with isolate_apps("bitstore_app"):

        class Report(models.Model):
            document = models.FileField(upload_to="reports/", storage=BitstoreStorage())

            class Meta:
                app_label = "bitstore_app"

        yield Report


def test_a_file_field_saves_opens_sizes_and_links_a_blob(report_model, cache):
    report = report_model()
    report.document.save("quarterly.pdf", ContentFile(DATA), save=False)
    sha1 = blob_of(DATA)
    assert report.document.name == sha1
    assert (cache.root / sha1).read_bytes() == DATA
    assert report.document.size == len(DATA)
    with report.document.open("rb") as opened:
        assert opened.read() == DATA
    url = report.document.url
    assert url.startswith(f"/bitstore/blobs/{sha1}?expires=") and "signature=" in url
    assert BitstoreStorage().exists(sha1) and not BitstoreStorage().exists("quarterly.pdf")


def test_saving_the_same_content_twice_gives_the_same_name(cache):
    storage = BitstoreStorage()
    first = storage.save("a.txt", ContentFile(DATA))
    mtime = (cache.root / first).stat().st_mtime_ns
    assert storage.save("b.txt", ContentFile(DATA)) == first
    assert (cache.root / first).stat().st_mtime_ns == mtime  # nothing written again


def test_delete_listing_writing_and_paths_are_refused_clearly(report_model, cache):
    storage = BitstoreStorage()
    name = storage.save("a.txt", ContentFile(DATA))
    with pytest.raises(DeletionRefused, match="may belong to other files too"):
        storage.delete(name)
    report = report_model(document=name)
    with pytest.raises(DeletionRefused):
        report.document.delete(save=False)
    assert bitstore_app.exists(name)
    with pytest.raises(NotImplementedError, match="does not list blobs"):
        storage.listdir("")
    with pytest.raises(ValueError, match="opens blobs for reading"):
        storage.open(name, "wb")
    with pytest.raises(ValueError, match="names files by SHA1"):
        storage.size("reports/quarterly.pdf")
    with pytest.raises(NotImplementedError, match="no local path"):
        storage.path(name)


def test_the_storage_deconstructs_for_migrations():
    path, args, kwargs = BitstoreStorage(expires_in=60).deconstruct()
    assert (path, args, kwargs) == ("bitstore_app.storage.BitstoreStorage", (), {"expires_in": 60})


def test_as_the_static_files_storage_it_is_refused_by_check_and_collectstatic(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "bitstore_app.storage.BitstoreStorage"},
    }
    settings.STATIC_ROOT = str(tmp_path / "static")
    with pytest.raises(SystemCheckError, match="bitstore.E010.*cannot be the static files"):
        call_command("check")
    with pytest.raises(SystemCheckError, match="bitstore.E010"):
        call_command("collectstatic", "--noinput", skip_checks=False)  # as manage.py runs it
    assert not (tmp_path / "static").exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_100_mib_file_is_saved_in_constant_memory(tmp_path):
    size = 100 * 1024 * 1024
    path, digest = tmp_path / "big.bin", hashlib.sha1()
    with open(path, "wb") as big:
        for _ in range(size // (4 * 1024 * 1024)):
            chunk = os.urandom(4 * 1024 * 1024)
            digest.update(chunk)
            big.write(chunk)
    cache = tmp_path / "cache"
    spec = {
        "tier": {"name": "cache", "kind": "filesystem", "location": str(cache), "role": "cache"},
        "path": str(path),
    }
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "BITSTORE_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.app.storage_probe", json.dumps(spec)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nBitstoreStorage.save of 100 MiB: {report}")
    assert (report["name"], report["size"]) == (digest.hexdigest(), size)
    assert (cache / report["name"]).stat().st_size == size
    growth = report["peak_kib"] - report["rss_before_kib"]
    assert growth < 16 * 1024, f"the peak grew by {growth / 1024:.1f} MiB while saving"
