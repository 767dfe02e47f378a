"""What the package asks pip for is what `bitstore_app` imports: its runtime dependencies,
and the extras that bring the SDKs it imports only when a tier of theirs is used. And `make
run` installs only what runs."""

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Imported only inside the function that needs it, with an extra to install.
OPTIONAL = {"boto3": "s3", "google-cloud-storage": "gcs", "redis": "redis"}


def imported_distributions():
    """Return the distributions whose modules bitstore_app imports (the standard library and
    bitstore_app itself aside)."""
    modules = set()
    for path in (REPO / "bitstore_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"bitstore_app"}
    owners = packages_distributions()
    return {owners[module][0].lower().replace("_", "-") for module in modules}


def requirement_name(requirement):
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")


def test_dependencies_are_what_the_app_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = {requirement_name(item) for item in project["dependencies"]}
    extras = {
        name: {requirement_name(item) for item in items}
        for name, items in project["optional-dependencies"].items()
    }
    imported = imported_distributions()
    # The SDKs' own helper packages come with them (botocore with boto3, google-* with GCS).
    sdk_parts = {name for name in imported if name in {"botocore"} or name.startswith("google")}
    assert required == imported - sdk_parts - set(OPTIONAL)
    for distribution, extra in OPTIONAL.items():
        assert distribution in extras[extra]
    assert extras["postgres"] == {"psycopg"}
    assert not {"psycopg", "dj-database-url", "django-storages"} & required


def test_make_run_installs_only_the_runtime_requirements(tmp_path):
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pip install -q -r requirements.txt" in plan
    assert "requirements-dev.txt" not in plan
    runtime = (REPO / "requirements.txt").read_text()
    for tool in ("pytest", "moto", "playwright", "py-spy", "epic-bitstore", "ruff"):
        assert not re.search(rf"^{tool}\b", runtime, re.MULTILINE), tool
