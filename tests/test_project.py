"""Smoke tests for the Django project itself."""

import pytest
from django.core.management import call_command


def test_system_checks_pass():
    call_command("check")


@pytest.mark.django_db
def test_no_missing_migrations():
    # makemigrations --check exits with status 1 when a model change lacks a migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_every_setting_has_a_row_in_a_readme_settings_table():
    """The README is the user's manual: each key of BITSTORE has a row in one of its settings
    tables (Settings; Cache warming's), and no row names a key the app does not read."""
    import re
    from pathlib import Path

    from bitstore_app.conf import DEFAULTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = re.findall(r"^\| ((?:`[A-Z_]+`(?:, )?)+) \|", readme, re.MULTILINE)
    documented = {key for row in rows for key in re.findall(r"`([A-Z_]+)`", row)}
    assert documented == set(DEFAULTS)
