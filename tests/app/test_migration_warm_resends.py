"""Upgrading to warm jobs that keep their SHA1s (migration 0013): a job of the previous release
keeps its counts, gains nothing resent, and is not watched (its SHA1s were never kept), while
a job started after the upgrade keeps them; migrating back drops the table and the columns."""

import pytest
from django.db import connection

from bitstore_app import warming
from bitstore_app.models import Tier, WarmJob, WarmJobHashes
from bitstore_app.warming.stalled import resend_stalled
from tests.app.schema import migrate, schema_of

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("bitstore_app", "0012_savings_rollups")]


def test_an_old_job_is_kept_and_left_alone_and_a_new_one_keeps_its_hashes(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    with schema_of(BEFORE) as old:
        tables = connection.introspection.table_names()
        assert WarmJobHashes._meta.db_table not in tables
        old_job = old.get_model("bitstore_app", "WarmJob").objects.create(
            total=20, warmed=10, chunk_size=10, chunks=2, status="running"
        )

    job = WarmJob.objects.get(pk=old_job.pk)
    assert (job.warmed, job.status, job.chunks_resent, job.resent_at) == (10, "running", 0, None)
    settings.BITSTORE = {"WARM_STALL_AFTER": 1.0}
    WarmJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))
    assert resend_stalled() == {}, "stalled, but its SHA1s were never kept"

    Tier.objects.create(name="cache", kind="filesystem", location=str(tmp_path), role=Tier.CACHE)
    with django_capture_on_commit_callbacks():  # nothing sent
        new = warming.start_warm_job(["a" * 40, "b" * 40], chunk_size=1)
    assert WarmJobHashes.objects.get(job=new).hashes == ["a" * 40, "b" * 40]

    migrate(BEFORE)
    assert WarmJobHashes._meta.db_table not in connection.introspection.table_names()
    migrate()
    assert WarmJob.objects.filter(pk=old_job.pk).exists()
