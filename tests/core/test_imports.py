"""`bitstore_app.core` is pure Python: it imports without Django configured, and imports a
cloud SDK only when a tier of its kind is used, naming the extra to install when it is
missing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(code):
    """Run `code` in a fresh interpreter with no Django settings; return its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_core_imports_and_works_without_django_or_any_sdk():
    out = run(
        """
import json, sys, tempfile
import bitstore_app.core as core

store = core.Sha1Composite()
store.append_source(core.Sha1Store(core.FileSystemRaw(tempfile.mkdtemp()), "blobs/"))
store.append_cache(core.Sha1Cache(core.MemoryRaw(), "cache/"))
store.put(core.sha1_of(b"x"), b"x")
assert store.get(core.sha1_of(b"x")) == b"x"
heavy = ("boto3", "botocore", "google.cloud", "google.cloud.storage", "django")
print(json.dumps([name for name in heavy if name in sys.modules]))
"""
    )
    assert json.loads(out) == []


@pytest.mark.parametrize(
    "blocked, tier, uri, package, extra",
    [
        ("boto3", "S3Raw()", "s3://bucket/key", "boto3", "bitstore[s3]"),
        (
            "google.cloud.storage",
            "GSRaw()",
            "gs://bucket/key",
            "google-cloud-storage",
            "bitstore[gcs]",
        ),
    ],
)
def test_a_missing_sdk_names_the_extra_to_install(blocked, tier, uri, package, extra):
    # An uninstalled package is simulated by a None entry in sys.modules, which makes
    # `import` raise ImportError as it does when the package is absent.
    out = run(
        f"""
import sys
sys.modules[{blocked!r}] = None
from bitstore_app.core import GSRaw, MissingExtra, S3Raw

store = {tier}  # building the store imports nothing
try:
    store.get({uri!r})
except MissingExtra as exc:
    assert isinstance(exc, ImportError)
    print(exc)
"""
    )
    assert f"'{package}'" in out and extra in out
