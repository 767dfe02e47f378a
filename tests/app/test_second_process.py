"""What one process changes, another sees: real subprocesses on the same test database."""

import queue
import signal
import threading
import time

import pytest

from bitstore_app.models import FetchRecord, Tier
from tests.app.conftest import make_blob
from tests.helpers import require_service

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 1.0


class Lines:
    """The lines a process prints, read by a thread so that waiting for one can time out."""

    def __init__(self, stream):
        self._queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line.strip())

    def next(self, timeout):
        return self._queue.get(timeout=timeout)


def tiers_holding(tmp_path, sha1, data, names):
    tiers = []
    for position, name in enumerate(names, start=1):
        root = tmp_path / name
        root.mkdir()
        (root / sha1).write_bytes(data)
        tiers.append(
            Tier.objects.create(name=name, kind="filesystem", location=str(root), position=position)
        )
    return tiers


def test_reordering_tiers_changes_the_serving_tier_in_another_process(second_process, tmp_path):
    sha1, data = make_blob()
    first, second = tiers_holding(tmp_path, sha1, data, ["first", "second"])
    config = {"CONFIG_CHECK_INTERVAL": INTERVAL, "LEDGER_ENABLED": False}
    process = second_process("watch", sha1, "60", config=config)
    lines = Lines(process.stdout)
    assert lines.next(timeout=60).split()[1] == "first"

    def reorder_and_wait(tiers, expected):
        for position, tier in enumerate(tiers, start=1):
            tier.position = position
        Tier.objects.bulk_update(tiers, ["position"])
        changed_at = time.monotonic()
        seen_at, served_by = lines.next(timeout=INTERVAL + 10).split()
        assert served_by == expected
        # Monotonic clocks are system-wide: the delay is measured across the two processes.
        return float(seen_at) - changed_at

    delays = [
        reorder_and_wait([second, first], "second"),
        reorder_and_wait([first, second], "first"),
    ]
    for delay in delays:
        # One poll of the watcher (20 ms plus a fetch) past the interval, with room for a busy
        # machine.
        assert -0.1 < delay <= INTERVAL + 1.0, delays


@pytest.mark.parametrize(
    "config",
    [
        # Nothing is written before the exit: the exit flush writes every record.
        {"LEDGER_FLUSH_COUNT": 1_000_000, "LEDGER_FLUSH_INTERVAL": 3600},
        # Count and time flushes from the background thread race the exit flush.
        {"LEDGER_FLUSH_COUNT": 7, "LEDGER_FLUSH_INTERVAL": 0.01},
    ],
    ids=["exit-only", "count-time-and-exit"],
)
def test_a_clean_exit_loses_no_ledger_record(second_process, tmp_path, config):
    count = 300
    sha1, data = make_blob()
    (tier,) = tiers_holding(tmp_path, sha1, data, ["disk"])
    # About half a second of gets, so that background flushes run while they go on.
    process = second_process("get", sha1, str(count), "0.002", config=config)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out.strip()) == (0, "done"), err
    records = FetchRecord.objects.filter(sha1=sha1)
    assert records.count() == count
    assert set(records.values_list("outcome", "tier_id")) == {("hit", tier.id)}


@pytest.fixture
def broker():
    """An empty Redis database (this suite's own number) as the Celery broker."""
    import redis

    url = "redis://127.0.0.1:6379/12"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    require_service(f"Redis at {url}", client.ping)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_a_celery_pool_process_writes_its_records_when_the_worker_shuts_down(
    second_process, broker, tmp_path
):
    from project.celery import app
    from tests.app.tasks import read_blob

    sha1, data = make_blob()
    tiers_holding(tmp_path, sha1, data, ["disk"])
    # Nothing is written before the exit: only the pool process's shutdown can write.
    config = {"LEDGER_FLUSH_COUNT": 1_000_000, "LEDGER_FLUSH_INTERVAL": 3600}
    worker = second_process("worker", config=config, env={"CELERY_BROKER_URL": broker})
    done = tmp_path / "done"
    done.mkdir()
    with app.connection_for_write(broker) as connection:
        ids = [
            read_blob.apply_async(args=[sha1, str(done)], connection=connection).id
            for _ in range(20)
        ]
    deadline = time.monotonic() + 60
    while len(list(done.iterdir())) < len(ids) and time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read()
        time.sleep(0.05)
    assert sorted(path.name for path in done.iterdir()) == sorted(ids)
    assert not FetchRecord.objects.filter(sha1=sha1).exists()

    worker.send_signal(signal.SIGTERM)  # a warm shutdown, as a deployment stops workers
    assert worker.wait(30) == 0
    records = FetchRecord.objects.filter(sha1=sha1)
    assert sorted(records.values_list("task_id", flat=True)) == sorted(ids)
