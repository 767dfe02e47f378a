"""`manage.py bitstore_warm [FILE|-] [--local] [--chunk-size N]`: in this process with
--local, and on a worker over kombu's filesystem broker (the embedded default) without."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from bitstore_app.models import FetchRecord, Tier, WarmJob
from tests.warming.conftest import REPO, make_blobs


def run(*args, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    call_command("bitstore_warm", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_local_warms_in_this_process_with_a_progress_line_and_a_summary(api, tiers, tmp_path):
    blobs = make_blobs(40, seed=20)
    api.blobs.update(blobs)
    missing = "0" * 40
    file = tmp_path / "hashes.txt"
    file.write_text("# to warm\n" + "\n".join([*blobs, missing, "nonsense", ""]) + "\n")

    out, err = run(str(file), "--local", "--chunk-size", "7", "--progress-interval", "0")

    job = WarmJob.objects.get()
    assert (job.total, job.warmed, job.not_found, job.malformed, job.chunks) == (42, 40, 1, 1, 6)
    assert job.status == WarmJob.DONE
    assert tiers() == blobs
    progress = err.splitlines()
    assert len(progress) == 7, "one line at the start, then one per chunk (no interval)"
    assert progress[-1].startswith("[" + "#" * 30 + "] 100% 42/42  warmed 40")
    assert "blobs/s" in progress[-1]
    assert f"warm job {job.pk}: done, 41 in " in out
    assert "  warmed                   40" in out
    assert "  malformed: nonsense" in out
    # The fetches are in the ledger, under the local job's name.
    assert set(FetchRecord.objects.values_list("task_id", flat=True)) == {
        f"local-warm-job-{job.pk}"
    }
    assert FetchRecord.objects.count() == 41


@pytest.mark.django_db
def test_local_reads_stdin_and_a_second_run_fetches_nothing(api, tiers, monkeypatch):
    blobs = make_blobs(10, seed=21)
    api.blobs.update(blobs)
    text = "\n".join(blobs)

    run("-", "--local", stdin=text, monkeypatch=monkeypatch)
    out, _ = run("--local", stdin=text, monkeypatch=monkeypatch)

    first, second = WarmJob.objects.order_by("id")
    assert (first.warmed, second.warmed, second.already_cached) == (10, 0, 10)
    assert sum(api.counts().values()) == 10
    assert "already cached           10" in out


@pytest.mark.django_db
def test_the_command_explains_what_is_missing(api, tmp_path):
    Tier.objects.create(name="api", kind="http_api", location=api.url)
    file = tmp_path / "hashes.txt"
    file.write_text("a" * 40)

    with pytest.raises(CommandError, match="needs an enabled tier with the cache role"):
        run(str(file), "--local")
    with pytest.raises(CommandError, match="cannot read .*missing.txt"):
        run(str(tmp_path / "missing.txt"), "--local")
    assert not WarmJob.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_filesystem_broker_warms_what_the_command_enqueues(
    api, tiers, tmp_path, start_worker, worker_env
):
    blobs = make_blobs(20, seed=22)
    api.blobs.update(blobs)
    broker_dir = tmp_path / "broker"
    start_worker(broker_dir=broker_dir)
    file = tmp_path / "hashes.txt"
    file.write_text("\n".join(blobs))

    command = subprocess.run(
        [sys.executable, "manage.py", "bitstore_warm", str(file), "--chunk-size", "6"],
        cwd=REPO,
        env=worker_env(broker_dir=broker_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert command.returncode == 0, command.stderr
    job = WarmJob.objects.get()
    assert (job.status, job.warmed, job.chunks) == (WarmJob.DONE, 20, 4)
    assert tiers() == blobs
    assert f"warm job {job.pk} enqueued: 4 chunk tasks" in command.stderr
    assert f"warm job {job.pk}: done" in command.stdout
