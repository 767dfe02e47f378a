"""Cache levels in the app: the enabled cache tiers in position order, a read-only level never
written, a bounded level kept under its size through `bitstore_app.get`, puts into durable
tiers (and refused without one), warming into every level, two processes churning one
bounded folder, and what the statistics page and `manage.py check` say about the levels."""

import hashlib
import io
import os
import re

import pytest
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

import bitstore_app
from bitstore_app import ledger, services
from bitstore_app.composer import TierSpec, build_tier
from bitstore_app.core import NoWritableTier
from bitstore_app.models import Tier
from bitstore_app.storage import BitstoreStorage
from bitstore_app.warming.one_blob import ALREADY_CACHED, WARMED, current_plan, warm_one

pytestmark = pytest.mark.django_db

KB = 50_000


def blob(number, size=KB):
    data = hashlib.sha256(f"level blob {number}".encode()).digest() * (size // 32)
    return hashlib.sha1(data).hexdigest(), data


def files(folder):
    return (
        {p.name for p in folder.iterdir() if not p.name.startswith(".")}
        if folder.exists()
        else set()
    )


def folder_bytes(folder):
    return sum(p.stat().st_size for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture
def source(tmp_path):
    """A folder of blobs that writes back into the cache levels, and a way to add to it."""
    folder = tmp_path / "source"
    folder.mkdir()
    Tier.objects.create(
        name="source", kind="filesystem", location=str(folder), write_back=True, position=9
    )

    def add(number, size=KB):
        sha1, data = blob(number, size)
        (folder / sha1).write_bytes(data)
        return sha1, data

    add.folder = folder
    return add


def level(tmp_path, name, position, **fields):
    folder = tmp_path / name
    Tier.objects.create(
        name=name,
        kind="filesystem",
        location=str(folder),
        role=Tier.CACHE,
        position=position,
        **fields,
    )
    return folder


def test_the_levels_are_the_enabled_caches_in_position_order(tmp_path, source):
    bottom = level(tmp_path, "bottom", 2)
    top = level(tmp_path, "top", 1)
    level(tmp_path, "off", 0, enabled=False)
    sha1, data = source(1)
    assert bitstore_app.get(sha1) == data
    assert [str(store) for store in services.composite().caches] == ["top", "bottom"]
    assert sha1 in files(top) and sha1 in files(bottom)
    (top / sha1).unlink()
    result = services.fetch(sha1)
    assert (result.served_by, result.written_to) == ("bottom", ["top"])
    ledger.buffer.flush()
    from bitstore_app.models import FetchRecord

    assert FetchRecord.objects.filter(tier_name="bottom").get().written_to == ["top"]


def test_a_read_only_level_is_read_and_promoted_from_and_never_written(tmp_path, source):
    top = level(tmp_path, "top", 1)
    shared = level(tmp_path, "shared", 2, read_only=True)
    shared.mkdir()
    held, held_data = blob("held")
    (shared / held).write_bytes(held_data)
    assert bitstore_app.get(held) == held_data and held in files(top)
    sha1, data = source(2)
    assert bitstore_app.get(sha1) == data
    assert files(shared) == {held} and sha1 in files(top)
    spec = TierSpec.of(Tier.objects.get(name="shared"))
    with pytest.raises(NotImplementedError, match="read-only"):
        build_tier(spec).put(sha1, data)
    with pytest.raises(NotImplementedError, match="read-only"):
        build_tier(spec).delete(held)
    assert files(shared) == {held}


def test_a_bounded_level_fed_800_kb_stays_under_200_kb_and_keeps_the_most_used(tmp_path, source):
    disk = level(tmp_path, "disk", 1, max_bytes=200_000)
    hot, hot_data = source("hot")
    assert bitstore_app.get(hot) == hot_data
    for number in range(16):
        sha1, data = source(number)
        assert bitstore_app.get(sha1) == data
        assert bitstore_app.get(hot) == hot_data
        assert folder_bytes(disk) <= 200_000
    kept = files(disk)
    assert hot in kept and blob(15)[0] in kept and blob(0)[0] not in kept
    usage = services.cache_levels()[0].usage
    assert (usage.bytes, usage.max_bytes) == (folder_bytes(disk), 200_000)
    assert usage.evictions >= 12


def test_the_low_watermark_is_a_setting_and_a_tier_option(tmp_path, source, bitstore_config):
    bitstore_config(EVICTION_LOW_WATERMARK=0.5)
    disk = level(tmp_path, "disk", 1, max_bytes=200_000)
    other = level(tmp_path, "other", 2, max_bytes=200_000, options={"low_watermark": 0.75})
    for number in range(5):  # the fifth fill needs room: a pass in each level
        assert bitstore_app.get(source(number)[0])
    assert folder_bytes(disk) <= 100_000 + KB  # down to half, then the new blob
    assert 100_000 + KB < folder_bytes(other) <= 150_000 + KB


def test_files_of_an_older_release_count_toward_max_bytes(tmp_path, source):
    disk = tmp_path / "disk"
    disk.mkdir()
    old = [blob(f"old {number}") for number in range(5)]  # 250 kB, and no count file
    for age, (sha1, data) in enumerate(old):
        (disk / sha1).write_bytes(data)
        os.utime(disk / sha1, (1_000_000 - age, 1_000_000 - age))  # written long ago
    level(tmp_path, "disk", 1, max_bytes=200_000)
    assert bitstore_app.get(old[0][0]) == old[0][1]  # served as it is, and now recently used
    sha1, data = source("new")
    assert bitstore_app.get(sha1) == data  # the first fill counts the folder first
    assert folder_bytes(disk) <= 200_000
    assert {sha1, old[0][0]} <= files(disk) and old[4][0] not in files(disk)  # the oldest


@pytest.fixture
def durable(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    Tier.objects.create(
        name="uploads", kind="filesystem", location=str(folder), accepts_puts=True, position=5
    )
    return folder


def test_a_put_goes_into_the_durable_tier_and_the_top_level_and_survives_eviction(
    tmp_path, source, durable
):
    disk = level(tmp_path, "disk", 1, max_bytes=200_000)
    bucket = level(tmp_path, "bucket", 2)
    sha1, data = blob("put")
    assert bitstore_app.put(data) == sha1
    assert sha1 in files(durable) and sha1 in files(disk) and sha1 not in files(bucket)
    for number in range(8):  # eviction pressure on the top level
        assert bitstore_app.get(source(number)[0])
    assert sha1 not in files(disk) and sha1 in files(durable)
    assert bitstore_app.get(sha1) == data
    stored = BitstoreStorage().save("report.bin", ContentFile(b"a stored file"))
    assert stored in files(durable)


def test_a_put_without_a_durable_tier_is_refused_unless_one_unbounded_cache(tmp_path, source):
    level(tmp_path, "disk", 1, max_bytes=200_000)
    sha1, data = blob("refused")
    with pytest.raises(NoWritableTier, match="bounded.*accepts_puts"):
        bitstore_app.put(sha1, data)
    with pytest.raises(NoWritableTier):
        bitstore_app.put(io.BytesIO(data))
    Tier.objects.filter(name="disk").update(max_bytes=None)  # today's setups: one cache
    services.configuration.invalidate()
    assert bitstore_app.put(data) == sha1 and sha1 in files(tmp_path / "disk")


def test_warming_fills_every_level_and_promotes_what_a_lower_level_holds(tmp_path, source):
    top = level(tmp_path, "top", 1)
    bottom = level(tmp_path, "bottom", 2)
    sha1, data = source("warm")
    assert warm_one(current_plan(), sha1).kind == WARMED
    assert sha1 in files(top) and sha1 in files(bottom)
    (top / sha1).unlink()
    (source.folder / sha1).unlink()  # only the lower level holds it now
    assert warm_one(current_plan(), sha1).kind == ALREADY_CACHED
    assert (top / sha1).read_bytes() == data


def cells(row):
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_the_statistics_page_shows_each_level(admin_client, tmp_path, source):
    level(tmp_path, "disk", 1, max_bytes=200_000)
    level(tmp_path, "bucket", 2)
    for number in range(6):  # 300 kB: the first level evicts
        bitstore_app.get(source(number)[0])
    (tmp_path / "disk" / blob(5)[0]).unlink()
    bitstore_app.get(blob(5)[0])  # from the second level, promoted
    ledger.buffer.flush()
    page = admin_client.get(reverse("admin:bitstore_app_tier_statistics")).content.decode()
    table = page[page.index('id="cache-levels"') :]
    disk, bucket = (cells(row) for row in table.split("<tr>")[2:4])
    usage = services.cache_levels()[0].usage
    assert disk[:4] == ["1", "disk", "filesystem", "195.3\xa0KB"]
    size = len(blob(5)[1])
    assert disk[6:] == [str(usage.blobs), str(usage.evictions), "1", filesizeformat(7 * size)]
    assert usage.evictions >= 2 and usage.bytes <= 200_000
    assert bucket[:4] == ["2", "bucket", "filesystem", "unbounded"]
    assert bucket[4] == "not counted" and bucket[5:] == ["0", filesizeformat(6 * size)]


def test_check_explains_the_levels_and_warns_of_what_cannot_work(tmp_path):
    level(tmp_path, "disk", 1, max_bytes=1000)
    level(tmp_path, "bucket", 2)
    api = Tier.objects.create(
        name="api", kind="http_api", location="http://127.0.0.1:9/b", write_back=True, position=0
    )
    messages = {message.id: message for message in run_checks(tags=["bitstore"])}
    assert "Cache levels, top first: 1 'disk'" in messages["bitstore.I001"].msg
    shown = io.StringIO()
    call_command("check", stdout=shown, stderr=shown)
    assert "bitstore.I001" in shown.getvalue() and "2 'bucket'" in shown.getvalue()
    assert messages["bitstore.W004"].obj == api  # asked before the levels it fills
    assert "accepts puts" in messages["bitstore.W005"].hint
    Tier.objects.create(name="s3", kind="s3", location="s3://bucket/c/", role="cache", max_bytes=9)
    assert "bitstore.E005" in {message.id for message in run_checks(tags=["bitstore"])}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_two_processes_churning_one_bounded_folder_never_serve_wrong_bytes(
    tmp_path, second_process, bitstore_config
):
    source = tmp_path / "source"
    source.mkdir()
    for number in range(40):
        _, data = blob(number, 5_000 + (number * 7919) % 55_000)
        (source / hashlib.sha1(data).hexdigest()).write_bytes(data)
    Tier.objects.create(name="source", kind="filesystem", location=str(source), write_back=True)
    disk = level(tmp_path, "disk", 0, max_bytes=300_000)
    config = {"EVICTION_SPARE_SECONDS": 0, "LEDGER_ENABLED": False}
    processes = [
        second_process("churn", str(source), str(seed), "500", config=config) for seed in (1, 2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=150)
        assert process.returncode == 0, err[-3000:]
        assert out.strip().splitlines()[-1] == "wrong 0"
    assert folder_bytes(disk) <= 300_000
    assert services.cache_levels()[0].usage.evictions > 0
    for name in files(disk):
        assert hashlib.sha1((disk / name).read_bytes()).hexdigest() == name
    assert not list(disk.glob(".incoming-*"))
