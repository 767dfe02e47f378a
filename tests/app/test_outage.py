"""A database that goes away: gets keep being served, and the ledger waits for it.

The outage is real, not mocked: the connection is pointed at a database that is not there
(a closed port on PostgreSQL, a file in a missing folder on SQLite), then pointed back.
"""

import time
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connections

import bitstore_app
from bitstore_app import ledger
from bitstore_app.models import ConfigVersion, FetchRecord, Tier
from tests.app.conftest import make_blob
from tests.helpers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_unreachable(tmp_path):
    """Make the default database unreachable for every thread of this process, then back."""
    connection = connections["default"]
    # Every thread's connection shares this settings dict, the background writer's too.
    config = connection.settings_dict
    saved = dict(config)
    connection.close()
    if connection.vendor == "postgresql":
        config.update(HOST="127.0.0.1", PORT=str(free_port()))
    else:
        config["NAME"] = str(tmp_path / "no such folder" / "db.sqlite3")
    try:
        yield
    finally:
        connection.close()
        config.update(saved)


@pytest.fixture
def disk_tier(tmp_path):
    sha1, data = make_blob()
    root = tmp_path / "disk"
    root.mkdir()
    (root / sha1).write_bytes(data)
    tier = Tier.objects.create(name="disk", kind="filesystem", location=str(root))
    return tier, sha1, data


def test_gets_are_served_while_the_database_is_down_and_their_records_wait(
    disk_tier, tmp_path, bitstore_config
):
    bitstore_config(CONFIG_CHECK_INTERVAL=0)  # every get asks the database for the version
    tier, sha1, data = disk_tier
    assert bitstore_app.get(sha1) == data
    with database_unreachable(tmp_path):
        with pytest.raises(OperationalError):
            ConfigVersion.current()
        for _ in range(5):
            assert bitstore_app.get(sha1) == data
        assert ledger.buffer.flush() == 0
        assert len(ledger.buffer) == 6
    assert ledger.buffer.flush() == 6
    assert list(FetchRecord.objects.values_list("tier_id", flat=True)) == [tier.id] * 6


def test_the_background_writer_retries_until_the_database_is_back(
    disk_tier, tmp_path, bitstore_config
):
    bitstore_config(
        CONFIG_CHECK_INTERVAL=0, LEDGER_BACKGROUND_FLUSH=True, LEDGER_FLUSH_INTERVAL=0.05
    )
    _, sha1, data = disk_tier
    bitstore_app.get(sha1)
    with database_unreachable(tmp_path):
        for _ in range(3):
            assert bitstore_app.get(sha1) == data
        time.sleep(0.3)  # several failed writes
        assert len(ledger.buffer) >= 3
    deadline = time.monotonic() + 10
    while FetchRecord.objects.count() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert FetchRecord.objects.count() == 4
    assert len(ledger.buffer) == 0


def test_without_a_first_configuration_a_get_says_the_database_is_down(disk_tier, tmp_path):
    _, sha1, _ = disk_tier
    with database_unreachable(tmp_path):
        with pytest.raises(OperationalError):
            bitstore_app.get(sha1)
