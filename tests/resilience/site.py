"""A whole site in a temporary folder, for tests that run real server processes and send
them signals: its own SQLite database, a folder tier of blobs, a tier with a bug after it
(blobs it is asked for fail as errors), the settings of tests/warming/worker_settings.py."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
#: The ledger is written only when a process stops: nothing is flushed while it runs.
NO_FLUSH = {"LEDGER_FLUSH_INTERVAL": 3600.0, "LEDGER_FLUSH_COUNT": 1_000_000}


class Site:
    def __init__(self, folder: Path, bitstore: dict | None = None) -> None:
        self.folder = folder
        self.database = folder / "db.sqlite3"
        self.blobs_folder = folder / "blobs"
        self.blobs_folder.mkdir(parents=True)
        settings = {"bitstore": NO_FLUSH | (bitstore or {}), "broker_dir": str(folder / "broker")}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY"))}
        self.env |= {
            "DJANGO_SETTINGS_MODULE": "tests.warming.worker_settings",
            "BITSTORE_TEST_WORKER": json.dumps(settings),
            "BITSTORE_VAR_DIR": str(folder / "var"),
            "DATABASE_URL": f"sqlite:///{self.database}",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def set_up(self, *, cache: bool = False) -> None:
        self.manage("migrate", "--verbosity", "0")
        cache_tier = (
            f"Tier.objects.create(name='cache', kind='filesystem', role='cache', "
            f"location={str(self.folder / 'cache')!r}, position=0); "
            if cache
            else ""
        )
        self.manage(
            "shell",
            "-c",
            "from bitstore_app.models import Tier; "
            + cache_tier
            + f"Tier.objects.create(name='disk', kind='filesystem', location="
            f"{str(self.blobs_folder)!r}, position=1); "
            "Tier.objects.create(name='buggy', kind='tests.resilience.buggy_source.BuggySource',"
            " position=2, breaker_threshold=0)",
        )

    def add_blob(self, data: bytes) -> str:
        sha1 = hashlib.sha1(data).hexdigest()
        (self.blobs_folder / sha1).write_bytes(data)
        return sha1

    def signed_paths(self, hashes: list[str]) -> list[str]:
        code = (
            "import json; from bitstore_app.signed_urls import signed_blob_url; "
            f"print(json.dumps([signed_blob_url(h) for h in {hashes!r}]))"
        )
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def start(self, command: list[str], port: int | None = None, log: str = "server.log"):
        out = open(self.folder / log, "w")
        process = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        if port is not None:
            try:
                wait_for_port("127.0.0.1", port, timeout=30)
            except TimeoutError:
                raise AssertionError((self.folder / log).read_text()[-3000:]) from None
        return process

    def runserver(self):
        port = free_port()
        cmd = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        return self.start(cmd, port), f"http://127.0.0.1:{port}"

    def gunicorn(self, config: Path):
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-c", str(config), "-b", f"127.0.0.1:{port}", "-w", "2"]
        return self.start(command + ["project.wsgi"], port), f"http://127.0.0.1:{port}"

    def records(self, where: str = "1=1") -> list[tuple]:
        with sqlite3.connect(self.database) as db:
            return db.execute(
                f"SELECT outcome, size, task_id FROM bitstore_app_fetchrecord WHERE {where}"
            ).fetchall()

    def stop(self, process: subprocess.Popen, number: int = signal.SIGTERM) -> float:
        """Send the signal; return the seconds the process took to exit (it must)."""
        started = time.monotonic()
        process.send_signal(number)
        process.wait(timeout=20)
        return time.monotonic() - started

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
