"""A PostgreSQL database of the benchmark's own, and the child processes that use it.

The server is `BITSTORE_BENCH_POSTGRES` (default: the local one, trust auth); the database
`bitstore_bench_ledger` is created for a case and dropped after it, since the statistics
case fills it with millions of rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager

from .servers import ROOT

SERVER = os.environ.get("BITSTORE_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = "bitstore_bench_ledger"


def _admin():
    import psycopg

    return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)


def unavailable() -> str | None:
    """Return why PostgreSQL cannot be used, or None when it can."""
    try:
        with _admin() as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL not reachable at {SERVER} ({type(exc).__name__})"
    return None


@contextmanager
def database():
    """Create the benchmark's database, yield its URL, and drop it."""
    with _admin() as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    try:
        yield SERVER.rsplit("/", 1)[0] + f"/{DATABASE}"
    finally:
        with _admin() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def run_child(
    url: str, *arguments: object, timeout: float = 3600, env: dict[str, str] | None = None
) -> dict:
    """Run `bench.cases.ledger_child` with these arguments on the database at `url` (and
    `env` added to its environment)."""
    command = [sys.executable, "-m", "bench.cases.ledger_child", *map(str, arguments)]
    environment = os.environ | (env or {}) | {"DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ledger child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
