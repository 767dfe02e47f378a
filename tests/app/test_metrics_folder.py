"""Prometheus' multiprocess mode when its folder is gone (a cleaner removed it, a mount went
away): blobs are still served and recorded, and `/metrics` says what is wrong."""

import pytest

from bitstore_app.models import FetchRecord
from tests.app.conftest import make_blob

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_missing_metrics_folder_never_fails_a_get(second_process, tmp_path):
    from bitstore_app.models import Tier

    sha1, data = make_blob()
    root = tmp_path / "disk"
    root.mkdir()
    (root / sha1).write_bytes(data)
    Tier.objects.create(name="disk", kind="filesystem", location=str(root))
    gone = tmp_path / "metrics-folder-that-is-gone"

    process = second_process("get", sha1, "3", "0", env={"PROMETHEUS_MULTIPROC_DIR": str(gone)})
    out, err = process.communicate(timeout=60)

    assert (process.returncode, out.strip()) == (0, "done"), err
    assert f"metrics: fetch of {sha1} not counted" in err
    assert FetchRecord.objects.filter(sha1=sha1, outcome="hit").count() == 3
