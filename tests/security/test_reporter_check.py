"""`manage.py check` warns when DEBUG is on and error pages could show credentials."""

import pytest
from django.core.checks import run_checks

pytestmark = pytest.mark.django_db


def ids(settings):
    return {message.id for message in run_checks(tags=["bitstore"])}


def test_debug_without_the_filter_is_warned(settings):
    settings.DEBUG = True
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    assert "bitstore.W003" in ids(settings)


def test_debug_with_the_filter_or_a_subclass_is_fine(settings):
    settings.DEBUG = True
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "bitstore_app.error_reports.CredentialsFilter"
    assert "bitstore.W003" not in ids(settings)
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "tests.security.test_reporter_check.Stricter"
    assert "bitstore.W003" not in ids(settings)


def test_debug_off_needs_no_filter(settings):
    settings.DEBUG = False
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    assert "bitstore.W003" not in ids(settings)


def test_the_project_defaults_to_debug_off_and_uses_the_filter():
    import subprocess
    import sys

    code = (
        "from django.conf import settings as s; print(s.DEBUG, s.DEFAULT_EXCEPTION_REPORTER_FILTER)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "project.settings", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert shown == ["False", "bitstore_app.error_reports.CredentialsFilter"]


from bitstore_app.error_reports import CredentialsFilter  # noqa: E402


class Stricter(CredentialsFilter):
    """A project's own filter built on bitstore's."""
