"""Servers a test owns and may kill: a moto S3 process, a Redis, a throwaway PostgreSQL.

Each runs on a free loopback port of its own, never on the shared instances.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import free_port, wait_for_port

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


class _Process:
    """A server subprocess on 127.0.0.1:`port`; `kill()` is SIGKILL, `stop()` is SIGTERM."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port("127.0.0.1", self.port, timeout=20)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, number: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(number)
            self.process.wait(timeout=20)
        self.process = None


class MotoProcess(_Process):
    """`moto_server` as a process of its own (so that it can be killed)."""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]


class GCSProcess(_Process):
    """The GCS emulator, in memory, as a process of its own (so that it does not compete with
    the test's threads for the GIL). Two changes to the stand-in, none to the client: its
    listen backlog goes from 5 to 128 (it answers one request at a time, and 16 concurrent
    clients otherwise lose connection attempts and wait a second each), and it no longer
    rewrites its whole index as JSON after every upload (only a restart reads it; that made
    uploading 1,000 blobs quadratic)."""

    START = (
        "import sys, http.server; http.server.HTTPServer.request_queue_size = 128; "
        "from gcp_storage_emulator.storage import Storage; "
        "Storage._write_config_to_file = lambda self: None; "
        "from gcp_storage_emulator.__main__ import main; main(sys.argv[1:])"
    )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-c", self.START, "start", "--host", "127.0.0.1"),
            *("--port", str(self.port), "--in-memory", "-q"),
        ]


class RedisProcess(_Process):
    """A `redis-server` whose data survives a stop and start (append-only file in `folder`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
            *("--save", "", "--appendonly", "yes", "--appendfsync", "always"),
        ]


def postgres_bin() -> Path | None:
    """Return the folder of PostgreSQL's server programs, or None when not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free port, trust auth.

    Run as the `postgres` user when this process is root (initdb refuses root).
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bitstore-pg-"))
        self.data = self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)
