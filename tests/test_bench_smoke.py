"""The benchmark harness runs end to end with tiny sizes (`python -m bench --quick`), so that
it cannot rot between the runs that measure (`make bench`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import nginx_available

REPO = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("BITSTORE_REQUIRE_SERVICES") == "1"
#: The cases that read from nginx, the S3 stand-in of the throughput cases, or compare with it.
NGINX_CASES = {3, 4, 6, 7, 22}
#: The cases on PostgreSQL.
POSTGRESQL_CASES = {20, 21}


def test_the_benchmark_runs_every_case_with_tiny_sizes(tmp_path):
    if not nginx_available() and os.environ.get("BITSTORE_REQUIRE_SERVICES") == "1":
        pytest.fail("nginx is missing: .ci/run installs nginx-light", pytrace=False)
    results, table = tmp_path / "results.json", tmp_path / "table.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(results)]
        + ["--markdown", str(table)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(results.read_text())
    assert document["quick"] and document["machine"]["nproc"] >= 1
    cases = {case["number"]: case for case in document["cases"]}
    assert sorted(cases) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 19, 20, 21, 22, 23]
    for number, case in cases.items():
        no_nginx = number in NGINX_CASES and not nginx_available()
        # CI has PostgreSQL (BITSTORE_REQUIRE_SERVICES=1): there cases 20 and 21 must run.
        no_postgresql = number in POSTGRESQL_CASES and not REQUIRED
        if not case["available"] and (number == 6 or no_nginx or no_postgresql):
            # Redis (case 6), nginx or PostgreSQL is not here; the case says which.
            assert case["notes"] and case["notes"] != ["failed"], "an unavailable case says why"
            continue
        assert case["available"], f"case {number} failed: {case['notes']}"
        assert case["rows"][0]["stats"]["median"] > 0  # CPU rows may round to 0 at tiny sizes
        assert all(row["stats"]["median"] >= 0 for row in case["rows"])
        assert case["targets"]
    assert "| case | measurement |" in table.read_text()
    # The README's tables are printed again from the results file alone.
    printed = subprocess.run(
        [sys.executable, "-m", "bench.report", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert printed.stdout == table.read_text()
