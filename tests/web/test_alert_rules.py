"""The README's Prometheus alert rules: valid for promtool, firing on made-up series the way
their summaries say, and naming only metrics that /metrics really serves."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from bitstore_app import services
from bitstore_app.core import NotFoundInStore
from bitstore_app.costs import metrics as spend_metrics
from bitstore_app.models import Tier
from tests.helpers import require_service
from tests.web.conftest import FolderTier, blob_of

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rules() -> str:
    """Return the YAML block of the README's "Alerts" section."""
    section = README.read_text().split("### Alerts", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def promtool() -> str:
    require_service("promtool (Debian's prometheus package)", lambda: shutil.which("promtool"))
    return shutil.which("promtool")


def run(*args, cwd):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_rules(tmp_path):
    (tmp_path / "rules.yml").write_text(readme_rules())
    assert "SUCCESS" in run(promtool(), "check", "rules", "rules.yml", cwd=tmp_path)


def alert(name, labels, summary):
    return {
        "alertname": name,
        "eval_time": "40m",
        "exp_alerts": labels and [{"exp_labels": labels, "exp_annotations": {"summary": summary}}],
    }


SERIES_UNHEALTHY = [
    ('bitstore_tier_hits_total{tier="cache"}', "0+5x60"),
    ('bitstore_tier_misses_total{tier="cache"}', "0+5x60"),
    ('bitstore_tier_circuit_state{tier="s3",state="open"}', "1x60"),
    ('bitstore_tier_budget{tier="api",kind="spend"}', "10x60"),
    ('bitstore_tier_budget_used{tier="api",kind="spend"}', "12x60"),
    ('bitstore_tier_budget{tier="api",kind="requests"}', "1000x60"),
    ('bitstore_tier_budget_used{tier="api",kind="requests"}', "900x60"),
    ("bitstore_ledger_buffered_records", "20000x60"),
    ("bitstore_ledger_dropped_records_total", "0+10x60"),
    ("bitstore_limits_redis_errors_total", "0+1x60"),
]
SERIES_HEALTHY = [
    ('bitstore_tier_hits_total{tier="cache"}', "0+9x60"),
    ('bitstore_tier_misses_total{tier="cache"}', "0+1x60"),
    ('bitstore_tier_circuit_state{tier="s3",state="open"}', "0x60"),
    ('bitstore_tier_budget{tier="api",kind="spend"}', "10x60"),
    ('bitstore_tier_budget_used{tier="api",kind="spend"}', "2x60"),
    ("bitstore_ledger_buffered_records", "12x60"),
    ("bitstore_ledger_dropped_records_total", "5x60"),
    ("bitstore_limits_redis_errors_total", "3x60"),
]
NAMES = [
    "BitstoreCacheHitRateLow",
    "BitstoreCircuitOpen",
    "BitstoreSpendOverBudget",
    "BitstoreSpendNearBudget",
    "BitstoreLedgerBehind",
    "BitstoreLedgerDropping",
    "BitstoreLimitsNotEnforced",
]


def test_the_rules_fire_on_trouble_and_stay_quiet_otherwise(tmp_path):
    (tmp_path / "rules.yml").write_text(readme_rules())
    warning, critical = {"severity": "warning"}, {"severity": "critical"}
    firing = [
        alert(
            NAMES[0],
            warning | {"tier": "cache"},
            "Cache tier cache answers under 80% of what it is asked",
        ),
        alert(
            NAMES[1], warning | {"tier": "s3"}, "Tier s3 is skipped: its circuit breaker is open"
        ),
        alert(
            NAMES[2],
            critical | {"tier": "api", "kind": "spend"},
            "Tier api spent its monthly budget: it is skipped",
        ),
        {
            "alertname": NAMES[3],
            "eval_time": "40m",
            "exp_alerts": [
                {
                    "exp_labels": {"tier": "api", "kind": kind, "severity": "warning"},
                    "exp_annotations": {
                        "summary": f"Tier api used over 80% of its monthly {kind} budget"
                    },
                }
                for kind in ("requests", "spend")
            ],
        },
        alert(
            NAMES[4],
            warning,
            "Fetch records are piling up in memory: the ledger's database is slow or down",
        ),
        alert(NAMES[5], critical, "Fetch records were dropped: the ledger buffer was full"),
        alert(
            NAMES[6], warning, "The limits' Redis fails: rate limits and budgets are not enforced"
        ),
    ]
    quiet = [{"alertname": name, "eval_time": "40m", "exp_alerts": []} for name in NAMES]
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": checks,
            }
            for series, checks in ((SERIES_UNHEALTHY, firing), (SERIES_HEALTHY, quiet))
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    assert "SUCCESS" in run(promtool(), "test", "rules", "tests.yml", cwd=tmp_path)


@pytest.mark.django_db
def test_the_rules_name_only_metrics_that_are_served(tmp_path):
    cache = FolderTier(
        tmp_path / "cache",
        name="cache",
        role=Tier.CACHE,
        monthly_spend_budget=10.0,
        price_per_1k_requests=1.0,
    )
    sha1 = cache.add(b"a blob for the metrics")
    assert services.get(sha1) and blob_of(b"a blob for the metrics") == sha1
    with pytest.raises(NotFoundInStore):
        services.get(blob_of(b"a blob no tier holds"))
    spend_metrics.forget()
    served = Client().get(reverse("bitstore:metrics"), REMOTE_ADDR="127.0.0.1").content.decode()
    names = {
        line.split("{")[0].split(" ")[0]
        for line in served.splitlines()
        if line and not line.startswith("#")
    }
    rules = yaml.safe_load(readme_rules())["groups"][0]["rules"]
    used = {name for rule in rules for name in re.findall(r"bitstore_[a-z_]+", rule["expr"])}
    assert used - names == set(), f"not served: {used - names}"
