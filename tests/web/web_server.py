"""A real web server process for the tests: `manage.py runserver` (threads) or gunicorn
(workers with threads), on the test database, with the settings of tests.warming's
processes (`BITSTORE_TEST_WORKER`: its "bitstore" key is the BITSTORE setting)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.helpers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]


class WebServer:
    """One server process in a session of its own, its output in a file."""

    def __init__(self, kind, database_url, log, bitstore=None, workers=2, env=None):
        self.port = free_port()
        self.log = log
        address = f"127.0.0.1:{self.port}"
        if kind == "runserver":
            command = [sys.executable, "manage.py", "runserver", address, "--noreload"]
        else:
            command = [
                *(str(Path(sys.executable).parent / "gunicorn"), "project.wsgi"),
                *("--bind", address, "--workers", str(workers), "--threads", "8"),
                *("--worker-class", "gthread", "--timeout", "60"),
            ]
        if database_url.startswith("sqlite"):
            database_url += "?timeout=30"  # the test and the server write the same file
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
        environment |= (env or {}) | {
            "DJANGO_SETTINGS_MODULE": "tests.warming.worker_settings",
            "DATABASE_URL": database_url,
            "BITSTORE_TEST_WORKER": json.dumps({"bitstore": bitstore or {}}),
            "PYTHONUNBUFFERED": "1",
        }
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout=30)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"the server did not start:\n{self.text()}") from None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def get(self, path, **kwargs):
        return requests.get(self.base + path, timeout=60, **kwargs)

    def text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def wait_until(condition, timeout=10.0, message="timed out"):
    """Wait for `condition()` to be true, polling."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)
