"""PostgreSQL stopped during a burst of gets: the blobs are still served, and the ledger
records kept in memory meanwhile are written when it returns. A throwaway cluster of the
test's own, never the shared one."""

import os
import select
import subprocess
import sys
import time

import pytest

from bitstore_app.core import FileSystemRaw
from tests.helpers import require_service
from tests.resilience.conftest import make_blob
from tests.resilience.processes import REPO, PostgresCluster

BEFORE, DURING, AFTER = 100, 400, 100


@pytest.fixture
def cluster():
    cluster = PostgresCluster()
    try:
        require_service("a throwaway PostgreSQL cluster (initdb)", cluster.init)
        cluster.start()
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bitstore")
        yield cluster
    finally:
        cluster.destroy()


class Child:
    """The bitstore process under test, and its line protocol."""

    def __init__(self, database_url):
        env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
        migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"]
        subprocess.run(migrate, cwd=REPO, env=env, check=True, timeout=120)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.resilience.ledger_child"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def ask(self, command, timeout=30):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"no answer to {command!r} in {timeout} s"
        status, *values = self.process.stdout.readline().split()
        return status, values

    def stop(self):
        self.process.kill()
        self.process.wait(10)


def wait_for_count(child, expected, timeout=20):
    """Return the seconds until the database holds `expected` records."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, values = child.ask("count")
        if status == "ok" and int(values[0]) == expected:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"the ledger holds {values} records after {timeout} s, not {expected}")


def test_blobs_are_served_while_postgres_is_down_and_the_ledger_catches_up(
    cluster, tmp_path, record_property
):
    folder = FileSystemRaw(tmp_path)
    total = BEFORE + DURING + AFTER
    for _ in range(total):
        folder.put(*make_blob("pg"))
    child = Child(cluster.url("bitstore"))
    try:
        assert child.ask(f"setup {tmp_path}") == ("ok", [str(total)])
        assert child.ask(f"get 0 {BEFORE}")[1][0] == str(BEFORE)
        wait_for_count(child, BEFORE)

        cluster.stop()
        status, (served, seconds) = child.ask(f"get {BEFORE} {BEFORE + DURING}")
        assert (status, served) == ("ok", str(DURING)), "every blob served while it is down"
        assert child.ask("count")[0] == "error", "the database really was down"
        time.sleep(0.5)  # a few failed flushes: the records stay in memory
        assert int(child.ask("buffered")[1][0]) > 0

        cluster.start()
        caught_up = wait_for_count(child, BEFORE + DURING)
        assert child.ask(f"get {BEFORE + DURING} {total}")[1][0] == str(AFTER)
        wait_for_count(child, total)
    finally:
        child.stop()
    record_property("seconds_for_gets_while_down", float(seconds))
    record_property("seconds_to_catch_up", round(caught_up, 2))
    assert float(seconds) / DURING < 0.05, "a get is not slowed down by the dead database"
