"""A second Django process for the tests, on the database named by DATABASE_URL.

    python -m tests.app.process watch SHA1 SECONDS   print the serving tier whenever it changes
    python -m tests.app.process get SHA1 COUNT PAUSE get the blob COUNT times, PAUSE seconds
                                                     apart, then exit cleanly
    python -m tests.app.process churn FOLDER SEED N  read N blobs at random from the blobs named
                                                     by their SHA1 in FOLDER (gets and streams),
                                                     print how many came back wrong or short
    python -m tests.app.process worker               a Celery worker, prefork pool, one child,
                                                     on CELERY_BROKER_URL, with tests.app.tasks
    python -m tests.app.process get_many FILE N      read the configuration, print "ready", wait
                                                     for a line on stdin, then get the blobs named
                                                     by the SHA1s of FILE with N threads; print
                                                     how many came back

`BITSTORE_TEST_CONFIG` (JSON) is this process's `BITSTORE` setting.
"""

import json
import os
import sys
import time

import django


def watch(sha1, seconds):
    from bitstore_app import services

    last = None
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        served_by = services.fetch(sha1).served_by
        if served_by != last:
            print(f"{time.monotonic():.3f} {served_by}", flush=True)
            last = served_by
        time.sleep(0.02)


def get(sha1, count, pause):
    import bitstore_app

    for _ in range(int(count)):
        bitstore_app.get(sha1)
        time.sleep(float(pause))
    print("done", flush=True)


def churn(folder, seed, rounds):
    import random
    from pathlib import Path

    import bitstore_app

    expected = {path.name: path.read_bytes() for path in Path(folder).iterdir()}
    rng = random.Random(int(seed))
    wrong = 0
    for number in range(int(rounds)):
        sha1 = rng.choice(sorted(expected))
        if number % 2:
            got = bitstore_app.get(sha1)
        else:
            with bitstore_app.open(sha1) as stream:
                got = b"".join(iter(lambda s=stream: s.read(7_000), b""))
        wrong += got != expected[sha1]
    print(f"wrong {wrong}", flush=True)


def worker():
    from project.celery import app

    options = ["--pool", "prefork", "--concurrency", "1", "--loglevel", "WARNING"]
    quiet = ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    app.worker_main(["worker", *options, *quiet, "--include", "tests.app.tasks"])


def get_many(hashes_file, workers):
    from pathlib import Path

    import bitstore_app
    from bitstore_app import services

    hashes = Path(hashes_file).read_text().split()
    services.composite()
    print("ready", flush=True)
    sys.stdin.readline()
    results = bitstore_app.get_many(hashes, workers=int(workers), errors="return")
    print(f"served {sum(isinstance(result, bytes) for result in results)}", flush=True)


def main(command, *args):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.test.utils import override_settings

    override_settings(BITSTORE=json.loads(os.environ.get("BITSTORE_TEST_CONFIG", "{}"))).enable()
    commands = {"watch": watch, "get": get, "churn": churn, "worker": worker, "get_many": get_many}
    commands[command](*args)


if __name__ == "__main__":
    main(*sys.argv[1:])
