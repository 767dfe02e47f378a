"""Case 22: the blob URL under gunicorn (the deployment the README recommends) beside nginx
serving the same file from disk, the limit on this machine: a cached 4 KiB blob (requests/s,
8 client threads) and a 256 MiB blob (MiB/s, one stream), for Django streaming it, Django
handing the file to gunicorn (`BLOB_SENDFILE`), and nginx sending it after Django checked
access (`BLOB_ACCEL_REDIRECT`)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from ..context import QUICK
from ..data import MIB, blob, large_chunks, large_sha1
from ..django_env import make_tiers, setup
from ..report import CaseResult
from ..servers import ROOT, free_port, server
from ..timing import Stats

TITLE = "the blob URL under gunicorn vs nginx serving the file (cached blobs)"
NUMBER = 22
ACCEL_TARGET = 0.9
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOCATION = "/_bitstore_cache/"
#: (small requests per round, rounds, big blob size, big rounds) for a full and a quick run.
FULL = (4000, 3, 256 * MIB, 3)
SMALL = (200, 1, 8 * MIB, 1)
THREADS = 8


def run(bench) -> CaseResult:
    if not os.path.exists(NGINX):
        return CaseResult(NUMBER, TITLE, available=False, notes=["nginx is not installed"])
    requests, rounds, big_size, big_rounds = SMALL if bench.sizes == QUICK else FULL
    case = CaseResult(NUMBER, TITLE.replace("256 MiB", f"{big_size // MIB} MiB"))
    setup(bench.folder)
    from bitstore_app.signed_urls import signed_blob_url

    cache = bench.folder / "blob-url-cache"
    cache.mkdir(exist_ok=True)
    small = blob("blob-url", 0, 4096)
    small_sha1 = hashlib.sha1(small).hexdigest()
    (cache / small_sha1).write_bytes(small)
    big_sha1 = large_sha1("blob-url-big", big_size)
    with open(cache / big_sha1, "wb") as file:
        for chunk in large_chunks("blob-url-big", big_size):
            file.write(chunk)
    make_tiers(
        [{"name": "disk-cache", "kind": "filesystem", "location": str(cache), "role": "cache"}]
    )
    paths = {
        name: signed_blob_url(sha1) for name, sha1 in [("small", small_sha1), ("big", big_sha1)]
    }
    static = {"small": f"/static-cache/{small_sha1}", "big": f"/static-cache/{big_sha1}"}
    with ExitStack() as stack:
        streamed = stack.enter_context(_gunicorn({}))
        sendfile = stack.enter_context(_gunicorn({"BLOB_SENDFILE": True}))
        accel = stack.enter_context(_gunicorn({"BLOB_ACCEL_REDIRECT": LOCATION}))
        front = stack.enter_context(_nginx(bench.folder, cache, accel))
        contenders = {
            "nginx, the file from disk": (front, static),
            "gunicorn, Django streams it": (streamed, paths),
            "gunicorn, BLOB_SENDFILE": (sendfile, paths),
            "nginx after Django, X-Accel-Redirect": (front, paths),
        }
        for base, urls in contenders.values():  # every path answers right before timing
            assert _get(base, urls["small"]) == small
        small_rates = {name: [] for name in contenders}
        big_rates = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, (base, urls) in contenders.items():
                small_rates[name].append(_requests_per_s(base, urls["small"], requests))
        for _ in range(big_rounds):
            for name, (base, urls) in contenders.items():
                big_rates[name].append(_mib_per_s(base, urls["big"], big_size))
    _rows(case, small_rates, "req/s", "cached 4 KiB")
    rows = _rows(case, big_rates, "MiB/s", f"{big_size // MIB} MiB")
    accel_ratio = rows["nginx after Django, X-Accel-Redirect"].ratio
    case.target(
        f"{big_size // MIB} MiB through X-Accel-Redirect >= {ACCEL_TARGET}x nginx",
        accel_ratio,
        accel_ratio >= ACCEL_TARGET,
    )
    streamed_ratio = rows["gunicorn, Django streams it"].ratio
    case.target("Django-streamed, as a ratio to nginx", streamed_ratio, None)
    case.notes.append(
        f"gunicorn: 2 sync workers; small requests from {THREADS} client threads in one Python "
        "process, which binds the nginx figure for 4 KiB (its CPU, not nginx's)"
    )
    return case


def _rows(case: CaseResult, rates: dict, unit: str, what: str) -> dict:
    rows, baseline = {}, None
    for name, samples in rates.items():
        row = case.add(f"{what}: {name}", Stats.of(samples, unit))
        if baseline is None:
            baseline = row
        else:
            row.ratio, row.baseline = row.stats.median / baseline.stats.median, baseline.label
        rows[name] = row
    return rows


@contextmanager
def _gunicorn(bitstore: dict):
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "bench.blob_wsgi:application"]
    command += ["-b", f"127.0.0.1:{port}", "-w", "2", "--chdir", str(ROOT)]
    env = {"BITSTORE_BENCH_CONFIG": json.dumps(bitstore), "PYTHONPATH": str(ROOT)}
    env["DATABASE_URL"] = os.environ["DATABASE_URL"] + "?timeout=30"
    with server(f"gunicorn {bitstore}", command, port, env):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def _nginx(folder, cache, upstream: str):
    port = free_port()
    work = folder / f"nginx-{port}"
    work.mkdir()
    temps = "".join(
        f"  {name}_temp_path {work}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = work / "nginx.conf"
    config.write_text(
        f"user {os.environ.get('USER') or 'root'};\nworker_processes 1;\npid {work}/nginx.pid;\n"
        f"error_log {work}/error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n"
        f"  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n{temps}"
        f"  server {{\n    listen 127.0.0.1:{port};\n"
        f"    location / {{ proxy_pass {upstream}; }}\n"
        f"    location {LOCATION} {{ internal; alias {cache}/; }}\n"
        f"    location /static-cache/ {{ alias {cache}/; }}\n  }}\n}}\n"
    )
    command = [NGINX, "-c", str(config), "-g", "daemon off;"]
    with server("nginx", command, port):
        yield f"http://127.0.0.1:{port}"


def _connection(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def _get(base: str, path: str) -> bytes:
    connection = _connection(base)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{base}{path}: {response.status} {body[:200]!r}")
        return body
    finally:
        connection.close()


def _requests_per_s(base: str, path: str, count: int) -> float:
    def work(share: int) -> None:
        connection = _connection(base)
        for _ in range(share):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.will_close:
                connection.close()
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, [count // THREADS] * THREADS))
    return (count // THREADS * THREADS) / (time.perf_counter() - started)


def _mib_per_s(base: str, path: str, size: int) -> float:
    connection = _connection(base)
    buffer = bytearray(MIB)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    total = 0
    while count := response.readinto(buffer):
        total += count
    elapsed = time.perf_counter() - started
    connection.close()
    if total != size:
        raise RuntimeError(f"{base}{path}: {total} bytes of {size}")
    return size / MIB / elapsed
