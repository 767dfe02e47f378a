"""Smoke tests for the Django project itself."""

import pytest
from django.core.management import call_command


def test_system_checks_pass():
    call_command("check")


@pytest.mark.django_db
def test_no_missing_migrations():
    # makemigrations --check exits with status 1 when a model change lacks a migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
