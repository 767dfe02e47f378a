"""Fixtures for cache warming: a blob API, an S3 cache bucket, tiers, and real Celery workers
on Redis (a database of their own), on RabbitMQ, or on a filesystem broker in a temporary
folder; each test has a queue of its own."""

import hashlib
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bitstore_app.models import Tier, WarmJob
from tests.app.conftest import live_db_url  # noqa: F401 - the test database, for subprocesses
from tests.helpers import require_service
from tests.warming.source_api import SourceAPI

REPO = Path(__file__).resolve().parents[2]
#: The Redis database of the warming tests' broker and rate limits.
REDIS_DB = 11
#: Workers retry quickly, so that a test sees the retries and the final failures.
WORKER_CONFIG = {"WARM_MAX_RETRIES": 3, "WARM_RETRY_BACKOFF": 0.05, "WARM_RETRY_BACKOFF_MAX": 0.2}


@pytest.fixture(autouse=True, scope="session")
def quiet_moto():
    """Keep moto's server from logging every request of the workers (hundreds per test)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture
def eager():
    """Run tasks in this process when they are sent, as CELERY_TASK_ALWAYS_EAGER does."""
    from project.celery import app

    names = ("task_always_eager", "task_eager_propagates")
    before = {name: app.conf[name] for name in names}
    app.conf.update(dict.fromkeys(names, True))
    yield
    app.conf.update(before)


def make_blobs(count, seed=0, max_size=16 * 1024):
    """Return {sha1: data} of `count` distinct blobs of random sizes."""
    generator = random.Random(seed)
    blobs = {}
    while len(blobs) < count:
        data = generator.randbytes(generator.randint(1, max_size))
        blobs[hashlib.sha1(data).hexdigest()] = data
    return blobs


@pytest.fixture
def api():
    """A real blob API on loopback that counts the GETs it answers."""
    server = SourceAPI()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cache_bucket(s3_server):
    """Return a new, empty bucket on the moto S3 server."""
    return s3_server.make_bucket(f"warm-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def tiers(api, cache_bucket, s3_server):
    """Create the tiers: the S3 cache first, then the blob API as a source. Return a function
    that reads the cache's objects, {sha1: bytes}."""
    Tier.objects.create(
        name="cache",
        kind="s3",
        location=f"s3://{cache_bucket}/blobs/",
        role=Tier.CACHE,
        position=0,
        options={"endpoint_url": s3_server.endpoint},
    )
    Tier.objects.create(name="api", kind="http_api", location=api.url, position=1)

    def cached():
        client = s3_server.client()
        objects = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=cache_bucket):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=cache_bucket, Key=item["Key"])["Body"].read()
                objects[item["Key"].removeprefix("blobs/")] = body
        return objects

    return cached


@pytest.fixture
def queue():
    """Return a queue name of this test's own. Other test sessions may run the warming tests
    on the same Redis database at the same time: each test's workers and tasks keep to their
    queue, and nothing is flushed."""
    return f"warm-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_broker_url(redis_url, queue):
    """Return the URL of the warming tests' Redis database; drop the test's queue at the end."""
    import redis

    parts = urlsplit(redis_url)
    url = urlunsplit(parts._replace(path=f"/{REDIS_DB}"))
    yield url
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"*{queue}*"):  # the queue, and kombu's bindings of it
        client.delete(key)
    client.close()


@pytest.fixture
def amqp_broker_url(queue):
    """Return the URL of the shared RabbitMQ (the default vhost); delete the test's queue at
    the end."""
    from kombu import Connection

    url = os.environ.get("BITSTORE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

    def connect():
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)

    require_service(f"RabbitMQ at {url}", connect)
    yield url
    with Connection(url, connect_timeout=2) as connection:
        connection.default_channel.queue_delete(queue)


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request):
    """Return the URL of the broker of the test's workers: the test runs on each."""
    return request.getfixturevalue(
        f"{'amqp' if request.param == 'rabbitmq' else 'redis'}_broker_url"
    )


class Worker:
    """A `celery worker` subprocess with its log in a file."""

    def __init__(self, process, log):
        self.process = process
        self.log = log

    def text(self):
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while " ready." not in self.text():
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the worker was not ready in {timeout} s:\n{self.text()}")
            time.sleep(0.1)

    def kill(self):
        """SIGKILL: the worker gets no chance to finish or give back its tasks."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def succeeded(self, name):
        """Return how many tasks called `name` this worker finished without an error."""
        return len(
            re.findall(rf"Task bitstore_app\.tasks\.{name}\[[^\]]+\] succeeded", self.text())
        )


@pytest.fixture
def worker_env(live_db_url, queue):  # noqa: F811
    """Return a function building the environment of a worker or command subprocess."""
    database_url = live_db_url
    if database_url.startswith("sqlite"):
        # Workers and the test write the same file: wait for the lock rather than fail.
        database_url += "?timeout=30&transaction_mode=IMMEDIATE"

    def env(broker=None, broker_dir=None, **test_settings):
        values = {
            "bitstore": WORKER_CONFIG | test_settings.pop("bitstore", {}),
            "queue": queue,
            **test_settings,
        }
        if broker_dir:
            values["broker_dir"] = str(broker_dir)
        environment = {
            name: value
            for name, value in os.environ.items()
            # The celery command reads CELERY_* variables as its options: set only ours.
            if not name.startswith("CELERY_")
        }
        environment |= {
            "DJANGO_SETTINGS_MODULE": "tests.warming.worker_settings",
            "DATABASE_URL": database_url,
            "BITSTORE_TEST_WORKER": json.dumps(values),
            "PYTHONUNBUFFERED": "1",
        }
        if broker:
            environment["CELERY_BROKER_URL"] = broker
        return environment

    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    """Return a function that starts a Celery worker (threads pool unless `pool` says, 2
    threads) and waits until it is ready. Every worker started is stopped when the test ends."""
    workers = []

    def start(broker=None, broker_dir=None, concurrency=2, pool="threads", **test_settings):
        name = f"warm{len(workers)}-{uuid.uuid4().hex[:6]}"
        log = tmp_path / f"{name}.log"
        command = [
            *(sys.executable, "-m", "celery", "-A", "project", "worker"),
            *("--pool", pool, "-c", str(concurrency), "-l", "info", "-n", f"{name}@%h"),
            *("--without-gossip", "--without-mingle"),
        ]
        if not (broker or "").startswith("amqp"):
            # On RabbitMQ the heartbeat events wake the worker's loop every 2 s: without them
            # it notices a TERM only 5 to 10 s later.
            command.append("--without-heartbeat")
        with open(log, "wb") as output:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=worker_env(broker, broker_dir, **test_settings),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process, log)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def send_warm(broker_url, queue):
    """Return a function that calls `warm_cache.delay(hashes)` as an application would, on the
    tests' broker and queue."""
    from kombu import Connection

    from bitstore_app.tasks import warm_cache

    def send(hashes, chunk_size=None):
        with Connection(broker_url) as connection:
            return warm_cache.apply_async(
                (list(hashes),), {"chunk_size": chunk_size}, connection=connection, queue=queue
            )

    return send


def wait_for_job(task_id=None, timeout=60, *, pk=None):
    """Return the job that task `task_id` created (or job `pk`), once it is finished."""
    if pk is None:
        jobs, named = WarmJob.objects.filter(task_id=task_id), f"the warm job of task {task_id}"
    else:
        jobs, named = WarmJob.objects.filter(pk=pk), f"warm job {pk}"
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.first()
        if job is not None and job.finished_at is not None:
            return job
        if time.monotonic() > deadline:
            state = "not created" if job is None else f"{job.processed}/{job.total} counted"
            pytest.fail(f"{named} did not finish in {timeout} s ({state})")
        time.sleep(0.1)
