"""The fetch ledger records exactly what happened, and writes it in batches."""

import time

import pytest
from django.contrib.auth import get_user_model

import bitstore_app
from bitstore_app import ledger
from bitstore_app.core import NotFoundInStore
from bitstore_app.models import FetchRecord, Tier
from bitstore_app.requester import requested_by
from tests.app import sources
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(tmp_path, blob_api):
    """A cache on disk, then an HTTP API, then a custom source that writes back."""
    collection = f"ledger-{time.monotonic_ns()}"
    sources.COLLECTIONS[collection] = {}
    (tmp_path / "cache").mkdir()
    return {
        "cache": Tier.objects.create(
            name="cache", kind="filesystem", location=str(tmp_path / "cache"), role=Tier.CACHE
        ),
        "api": Tier.objects.create(name="api", kind="http_api", location=blob_api.url, position=1),
        "source": Tier.objects.create(
            name="source",
            kind="tests.app.sources.DictSource",
            options={"collection": collection},
            position=2,
            write_back=True,
        ),
        "blobs": sources.COLLECTIONS[collection],
    }


def only_record(sha1):
    ledger.buffer.flush()
    (record,) = FetchRecord.objects.filter(sha1=sha1)
    return record


def outcomes(record):
    return [(attempt["tier"], attempt["outcome"]) for attempt in record.attempts]


def test_a_record_names_each_tier_tried_its_answer_and_time_and_what_was_written(tiers):
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    bitstore_app.get(sha1)
    record = only_record(sha1)
    assert outcomes(record) == [("cache", "not_found"), ("api", "not_found"), ("source", "hit")]
    assert all(attempt["ms"] >= 0 for attempt in record.attempts)
    assert record.latency_ms >= sum(attempt["ms"] for attempt in record.attempts) * 0.99
    assert (record.outcome, record.tier, record.tier_name) == ("hit", tiers["source"], "source")
    assert (record.size, record.cache_written) == (len(data), True)
    assert (record.user_id, record.task_id) == (None, "")
    assert FetchRecord.objects.last_served(sha1) == record


def test_the_next_fetch_is_recorded_as_served_by_the_cache(tiers):
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    bitstore_app.get(sha1)
    bitstore_app.get(sha1)
    ledger.buffer.flush()
    latest = FetchRecord.objects.last_served(sha1)
    assert outcomes(latest) == [("cache", "hit")]
    assert (latest.tier_name, latest.cache_written, latest.size) == ("cache", False, len(data))


def test_a_miss_everywhere_is_recorded_as_not_found(tiers):
    sha1, _ = make_blob()
    with pytest.raises(NotFoundInStore):
        bitstore_app.get(sha1)
    record = only_record(sha1)
    assert (record.outcome, record.tier, record.tier_name) == ("not_found", None, "")
    assert record.size == 0
    assert [outcome for _, outcome in outcomes(record)] == ["not_found"] * 3


def test_an_unavailable_tier_is_recorded_with_its_reason(tiers, blob_api):
    blob_api.fail_with = 503
    sha1, _ = make_blob()
    with pytest.raises(NotFoundInStore):
        bitstore_app.get(sha1)
    record = only_record(sha1)
    assert record.outcome == "error"
    api_attempt = record.attempts[1]
    assert (api_attempt["tier"], api_attempt["outcome"]) == ("api", "unavailable")
    assert "503" in api_attempt["detail"]


def test_invalid_data_is_recorded_as_invalid(tiers):
    Tier.objects.filter(pk=tiers["source"].pk).update(verify=True)
    sha1, _ = make_blob()
    tiers["blobs"][sha1] = b"not the blob"
    with pytest.raises(NotFoundInStore):
        bitstore_app.get(sha1)
    record = only_record(sha1)
    assert record.outcome == "invalid"
    assert outcomes(record)[-1] == ("source", "invalid")
    assert record.cache_written is False


def test_tasks_and_users_are_recorded_also_through_get_many(tiers):
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    with requested_by(task_id="task-42"):
        bitstore_app.get(sha1)
    with requested_by(user_id=7):
        list(bitstore_app.get_many([sha1] * 5, workers=4))
    ledger.buffer.flush()
    rows = FetchRecord.objects.filter(sha1=sha1).values_list("user_id", "task_id")
    assert sorted(rows, key=str) == sorted([(None, "task-42")] + [(7, "")] * 5, key=str)


def test_any_celery_task_is_recorded_by_its_id(tiers):
    from tests.app.tasks import read_blob

    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    # apply() runs the task in this process, inside Celery's own task context.
    result = read_blob.apply(args=[sha1], task_id="celery-task-7")
    assert result.get() == len(data)
    assert only_record(sha1).task_id == "celery-task-7"


@pytest.mark.urls("tests.app.urls")
def test_the_middleware_records_the_user_of_a_web_request(tiers, client):
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    user = get_user_model().objects.create_user("reader", password="unused")
    client.force_login(user)
    response = client.get(f"/blob/{sha1}")
    assert (response.status_code, response.content) == (200, data)
    client.logout()
    assert client.get(f"/blob/{sha1}").status_code == 200
    ledger.buffer.flush()
    assert sorted(FetchRecord.objects.values_list("user_id", flat=True), key=str) == sorted(
        [user.pk, None], key=str
    )


@pytest.mark.urls("tests.app.urls")
def test_the_middleware_looks_the_user_up_only_for_requests_that_fetch(
    client, django_assert_num_queries
):
    client.force_login(get_user_model().objects.create_user("visitor", password="unused"))
    with django_assert_num_queries(0):
        assert client.get("/plain").content == b"no blob"


def test_records_are_written_in_batches_of_the_flush_count(tiers, bitstore_config):
    bitstore_config(LEDGER_FLUSH_COUNT=3)
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    written = []
    for _ in range(7):
        bitstore_app.get(sha1)
        written.append(FetchRecord.objects.count())
    assert written == [0, 0, 3, 3, 3, 6, 6]
    assert len(ledger.buffer) == 1


def test_a_deleted_tier_leaves_its_name_on_the_records(tiers):
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    bitstore_app.get(sha1)
    tiers["source"].delete()
    record = only_record(sha1)
    assert (record.tier, record.tier_name) == (None, "source")


def test_past_the_buffer_limit_the_oldest_records_are_dropped_and_counted(tiers, bitstore_config):
    bitstore_config(LEDGER_MAX_BUFFER=4, LEDGER_FLUSH_COUNT=100)
    dropped = ledger.buffer.dropped
    hashes = [make_blob()[0] for _ in range(6)]
    for sha1 in hashes:
        with pytest.raises(NotFoundInStore):
            bitstore_app.get(sha1)
    assert ledger.buffer.dropped - dropped == 2
    ledger.buffer.flush()
    assert set(FetchRecord.objects.values_list("sha1", flat=True)) == set(hashes[2:])


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_writes_records_by_time(tiers, bitstore_config):
    bitstore_config(
        LEDGER_BACKGROUND_FLUSH=True, LEDGER_FLUSH_COUNT=1000, LEDGER_FLUSH_INTERVAL=0.2
    )
    sha1, data = make_blob()
    tiers["blobs"][sha1] = data
    for _ in range(4):
        bitstore_app.get(sha1)
    started = time.monotonic()
    while FetchRecord.objects.count() < 4 and time.monotonic() - started < 10:
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert FetchRecord.objects.count() == 4
    assert len(ledger.buffer) == 0
    assert elapsed < 2, f"the records took {elapsed:.2f} s to be written"
