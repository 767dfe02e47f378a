"""The servers the benchmark talks to, each in a process of its own on a free loopback port.

Separate processes keep the servers' CPU work (moto is pure Python) off the benchmark's own
interpreter, so the numbers measure the client libraries and not a shared GIL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until the port accepts connections; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {HOST}:{port}") from None
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Return the processes started by `pid`, their children, and so on."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue += children.get(child, [])
    return found


def tree_cpu_seconds(pid: int, exclude: tuple[int, ...] = ()) -> float:
    """Return the CPU time process `pid` and its living descendants have used so far,
    leaving out the processes in `exclude` (the servers the benchmark talks to)."""
    total = time.process_time() if pid == os.getpid() else cpu_seconds(pid)  # the finer clock
    for process in descendants(pid):
        if process not in exclude:
            try:
                total += cpu_seconds(process)
            except OSError:
                pass  # it exited meanwhile
    return total


@dataclass
class Server:
    """A server process listening on `port`."""

    name: str
    process: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the process has used so far."""
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def server(name: str, command: list[str], port: int, env: dict | None = None):
    """Run `command` (which listens on `port`) for the duration of the block."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    running = Server(name, process, port)
    try:
        wait_for_port(port, process)
        yield running
    finally:
        running.stop()


@contextmanager
def moto_s3():
    """Run moto's S3 server."""
    port = free_port()
    with server("moto_server", [str(BIN / "moto_server"), "-H", HOST, "-p", str(port)], port) as s:
        yield s


@contextmanager
def gcs_emulator():
    """Run the GCS emulator, in memory."""
    port = free_port()
    command = [str(BIN / "gcp-storage-emulator"), "start", "--host", HOST, "--port", str(port)]
    with server("gcp-storage-emulator", [*command, "--in-memory", "-q"], port) as s:
        yield s


def cloud_environment(s3: Server, gcs: Server) -> dict[str, str]:
    """Return the variables with which boto3 and google-cloud-storage reach the emulators."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "STORAGE_EMULATOR_HOST": gcs.endpoint,
        "GOOGLE_CLOUD_PROJECT": "test-project",
    }


@dataclass
class Emulators:
    s3: Server
    gcs: Server
    env: dict[str, str]

    def reset_s3(self) -> None:
        requests.post(f"{self.s3.endpoint}/moto-api/reset", timeout=30).raise_for_status()


@contextmanager
def emulators():
    """Run both emulators, with the process environment pointing at them."""
    with ExitStack() as stack:
        s3 = stack.enter_context(moto_s3())
        gcs = stack.enter_context(gcs_emulator())
        env = cloud_environment(s3, gcs)
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield Emulators(s3, gcs, env)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


NGINX = "/usr/sbin/nginx"
#: The answer to `GET /` (ListBuckets), which the seed library's S3 tier asks for first.
BUCKET_LIST = (
    '<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult'
    ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>x</ID></Owner><Buckets>'
    "<Bucket><Name>{bucket}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate>"
    "</Bucket></Buckets></ListAllMyBucketsResult>"
)
NGINX_CONFIG = """worker_processes 1;
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  server {{
    listen {host}:{port};
    root {root};
    location = / {{ default_type application/xml; return 200 '{buckets}'; }}
    location / {{
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 0;
    }}
  }}
}}
"""


def nginx_available() -> bool:
    return Path(NGINX).exists()


@contextmanager
def nginx_s3(root: Path, bucket: str):
    """Run nginx serving `root/<bucket>/<key>` path-style, which boto3's GetObject,
    HeadObject, PutObject and DeleteObject take for S3 (a missing key is a 404; a PUT is
    written to a temporary file and renamed): an S3 stand-in that spends a small fraction of
    the client's CPU per request, where moto spends more than the client.

    `make bench` installs Debian's `nginx-light` when /usr/sbin/nginx is missing.
    """
    if not nginx_available():
        raise RuntimeError(f"{NGINX} is missing: apt-get install nginx-light (make bench does)")
    port = free_port()
    folder = root / "nginx"
    folder.mkdir(parents=True, exist_ok=True)
    (root / bucket).mkdir(parents=True, exist_ok=True)
    config = folder / "nginx.conf"
    config.write_text(
        NGINX_CONFIG.format(
            folder=folder,
            host=HOST,
            port=port,
            root=root,
            buckets=BUCKET_LIST.format(bucket=bucket),
        )
    )
    command = [NGINX, "-c", str(config), "-p", str(folder), "-e", str(folder / "error.log")]
    with server("nginx", command, port) as s:
        yield s


@contextmanager
def api_source(count: int, size: int, tag: str):
    """Run the HTTP API source (`bench.api_source`) serving `count` generated blobs."""
    port = free_port()
    command = [sys.executable, "-m", "bench.api_source", "--port", str(port)]
    command += ["--count", str(count), "--size", str(size), "--tag", tag]
    with server("api_source", command, port, env={"PYTHONPATH": str(ROOT)}) as s:
        yield s


@contextmanager
def latency_proxy(upstream: Server, delay_ms: float):
    """Run `bench.latency_proxy` in front of `upstream`, adding `delay_ms` per request."""
    port = free_port()
    command = [sys.executable, "-m", "bench.latency_proxy", "--port", str(port)]
    command += ["--upstream", str(upstream.port), "--delay-ms", str(delay_ms)]
    with server(f"latency proxy to {upstream.name}", command, port, {"PYTHONPATH": str(ROOT)}) as s:
        yield s
