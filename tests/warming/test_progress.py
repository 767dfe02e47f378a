"""`bitstore_warm` as a real process: it says when no worker takes its job, and what to start;
its progress is a line every few seconds in a log, and a bar redrawn in place on a terminal
(a pty). The admin's job page says the same as the command."""

import html
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import threading
import time

import pytest
from django.urls import reverse

from bitstore_app.models import WarmJob
from tests.helpers import require_service
from tests.resilience.processes import RedisProcess
from tests.warming.conftest import REPO, make_blobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: A job of about three seconds: 80 blobs, each answered after 0.3 s, 8 at a time.
SLOW = {"count": 80, "delay": 0.3, "chunk_size": "10"}


def warm_command(file, *options):
    return [sys.executable, "manage.py", "bitstore_warm", str(file), *options]


def hashes_file(tmp_path, api, count, seed, delay=0.0):
    blobs = make_blobs(count, seed=seed, max_size=512)
    api.blobs.update(blobs)
    api.delay = delay
    file = tmp_path / "hashes.txt"
    file.write_text("\n".join(blobs))
    return file, blobs


class Lines:
    """The lines a process writes to a pipe, each with the moment it arrived."""

    def __init__(self, stream):
        self.lines = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, line in self.lines:
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        pytest.fail(f"no line matched {pattern!r}:\n" + "\n".join(t for _, t in self.lines))

    def join(self):
        self._thread.join(10)


def finish(command, timeout):
    """Return the process's stdout once it has exited. Its stderr belongs to a `Lines`
    reader: `communicate()` would read stderr too, and take some of its lines."""
    out = command.stdout.read()
    command.wait(timeout=timeout)
    return out


def test_without_a_worker_the_command_says_what_to_start_then_goes_on_with_one(
    api, tiers, tmp_path, broker_url, queue, start_worker, worker_env
):
    file, blobs = hashes_file(tmp_path, api, 12, seed=40)
    command = subprocess.Popen(
        warm_command(file, "--chunk-size", "4"),
        cwd=REPO,
        env=worker_env(broker_url, bitstore={"WARM_WORKER_WAIT": 1.0}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        errors = Lines(command.stderr)
        note = errors.wait_for("no worker has taken", timeout=30)
        assert re.fullmatch(
            rf"no worker has taken warm job \d+ in \d+ s: no Celery worker reads the queue "
            rf"'{queue}'; start one: celery -A project worker -Q {queue}",
            note,
        )
        job = WarmJob.objects.get()
        assert job.status == WarmJob.QUEUED

        start_worker(broker_url)
        out = finish(command, timeout=60)
    finally:
        command.kill()
    errors.join()
    assert command.returncode == 0
    assert f"warm job {job.pk}: done" in out
    assert [line for _, line in errors.lines].count(note) == 1, "said once"
    assert tiers() == blobs


def test_the_admin_job_page_says_no_worker_reads_the_queue(admin_client, tiers, queue, settings):
    from project.celery import app

    settings.BITSTORE = {"WARM_WORKER_WAIT": 0.0}
    job = WarmJob.objects.create(total=3, chunks=1, status=WarmJob.QUEUED)
    before = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # a queue that no worker reads
    try:
        page = admin_client.get(reverse("admin:bitstore_app_warmjob_change", args=[job.pk]))
    finally:
        app.conf.task_default_queue = before
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert re.search(
        rf'<li class="warning">No worker has taken warm job {job.pk} in \d+ s: no Celery worker '
        rf"reads the queue '{queue}'; start one: celery -A project worker -Q {queue}\.</li>",
        text,
    )


def test_a_job_still_young_or_already_taken_gets_no_note(admin_client, tiers, settings):
    young = WarmJob.objects.create(total=3, chunks=1, status=WarmJob.QUEUED)
    taken = WarmJob.objects.create(total=3, chunks=1, status=WarmJob.RUNNING)
    WarmJob.objects.filter(pk=taken.pk).update(started_at=taken.created_at)
    for job, wait in ((young, 60.0), (taken, 0.0)):
        settings.BITSTORE = {"WARM_WORKER_WAIT": wait}
        page = admin_client.get(reverse("admin:bitstore_app_warmjob_change", args=[job.pk]))
        assert page.status_code == 200
        assert "worker has taken" not in page.content.decode()


def test_off_a_terminal_progress_is_a_line_every_interval(api, tiers, tmp_path, worker_env):
    file, _ = hashes_file(tmp_path, api, SLOW["count"], seed=41, delay=SLOW["delay"])
    started = time.monotonic()
    command = subprocess.Popen(
        warm_command(
            file, "--local", "--chunk-size", SLOW["chunk_size"], "--progress-interval", "1"
        ),
        cwd=REPO,
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors = Lines(command.stderr)
    out = finish(command, timeout=60)
    errors.join()
    elapsed = time.monotonic() - started
    assert command.returncode == 0, [line for _, line in errors.lines]
    assert "\r" not in "".join(line for _, line in errors.lines)
    bars = [(at, line) for at, line in errors.lines if line.startswith("[")]
    assert bars[-1][1].startswith("[" + "#" * 30 + "] 100% 80/80  warmed 80")
    # One line a second at most (ten chunks ended), the last one when the job ends.
    gaps = [later - earlier for (earlier, _), (later, _) in zip(bars, bars[1:-1], strict=False)]
    assert all(gap > 0.8 for gap in gaps), gaps
    assert 2 <= len(bars) <= elapsed + 2, (len(bars), elapsed)
    assert "warm job" in out


def test_on_a_terminal_progress_is_one_bar_redrawn_in_place(api, tiers, tmp_path, worker_env):
    file, _ = hashes_file(tmp_path, api, SLOW["count"], seed=42, delay=SLOW["delay"])
    controller, terminal = pty.openpty()
    command = subprocess.Popen(
        warm_command(file, "--local", "--chunk-size", SLOW["chunk_size"]),
        cwd=REPO,
        env=worker_env(),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    screen = read_terminal(controller, command)
    assert command.returncode == 0, screen
    # From the first bar (after the log line of the tier configuration) to the summary.
    progress = screen[screen.index("\r[") :].split("warm job", 1)[0]
    summary = screen
    redraws = progress.count("\r[")
    assert redraws >= 3, screen  # 0.5 s apart over about three seconds
    assert progress.count("\n") <= 1, "the bar stays on its line"
    assert "] 100% 80/80  warmed 80" in progress.rsplit("\r", 1)[-1]
    assert "\x1b[31m" not in progress, "progress is not written as an error"
    assert re.search(r"warm job \d+: done", summary)


def read_terminal(controller, process, timeout=60):
    """Return what the process wrote to its terminal until it exited."""
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the process closed its side
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(10)
    os.close(controller)
    return output.decode(errors="replace").replace("\r\n", "\n")


def test_without_a_celery_app_the_command_says_to_define_one(
    api, tiers, tmp_path, live_db_url, worker_env
):
    require_service("redis-server", lambda: shutil.which("redis-server") is not None)
    broker = RedisProcess(tmp_path / "redis")  # the fallback app's queue is nobody else's
    broker.folder.mkdir()
    broker.start()
    file, _ = hashes_file(tmp_path, api, 3, seed=43)
    env = worker_env() | {
        "DJANGO_SETTINGS_MODULE": "tests.warming.no_celery_app_settings",
        "BITSTORE_TEST_CONFIG": json.dumps({"WARM_WORKER_WAIT": 0.5}),
        "CELERY_BROKER_URL": broker.url,
    }
    command = subprocess.Popen(
        [sys.executable, "-m", "django", "bitstore_warm", str(file)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        errors = Lines(command.stderr)
        note = errors.wait_for("no worker has taken", timeout=30)
    finally:
        command.kill()
        command.wait(10)
        broker.kill()
    assert "no Celery app is configured" in note, note
    assert "tests/celery.py" in note and "tests/__init__.py" in note, note
    assert "-A default" not in note
