"""The log filter and the reporter filter hide the secrets credentials reference."""

import json
import logging

from django.test import RequestFactory

from bitstore_app.error_reports import CredentialsFilter, RedactSecrets

SECRET = "tok-9f8e7d6c5b4a-redaction"


def test_a_log_record_holding_a_referenced_secret_is_redacted(bitstore_config, monkeypatch):
    monkeypatch.setenv("API_LOGIN", json.dumps({"headers": {"Authorization": SECRET}}))
    bitstore_config(CREDENTIALS={"api": "env:API_LOGIN"})
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sent %s", (SECRET,), None)
    try:
        raise RuntimeError(f"refused {SECRET}")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactSecrets().filter(record)
    assert SECRET not in record.getMessage() and SECRET not in record.exc_text
    assert "********" in record.getMessage()


def test_the_reporter_hides_referenced_variables_and_the_credentials_setting(
    bitstore_config, monkeypatch, db
):
    monkeypatch.setenv("API_LOGIN", json.dumps({"token": SECRET}))
    bitstore_config(CREDENTIALS={"api": {"token": "env:API_LOGIN"}})
    request = RequestFactory().get("/", HTTP_X_NOTE=f"carries {SECRET}")
    request.META["API_LOGIN"] = "copied from the environment"
    reporter = CredentialsFilter()
    meta = reporter.get_safe_request_meta(request)
    assert meta["API_LOGIN"] == reporter.cleansed_substitute
    assert meta["HTTP_X_NOTE"] == reporter.cleansed_substitute
    settings = reporter.get_safe_settings()
    assert settings["BITSTORE"]["CREDENTIALS"] == reporter.cleansed_substitute
    assert reporter.is_active(request), "active with DEBUG on too"
