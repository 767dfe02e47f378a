"""Error reports that never show a tier's credentials, even with DEBUG on.

Use it in a project's settings:

    DEFAULT_EXCEPTION_REPORTER_FILTER = "bitstore_app.error_reports.CredentialsFilter"

Django's own filter hides settings and META keys whose names look secret, and frame
variables marked `sensitive_variables`, but only with DEBUG off. This one is always active,
and also hides the environment variables and settings that tiers' credentials reference
(runserver copies the environment into every request's META), `BITSTORE["CREDENTIALS"]`,
and any value that contains one of those secrets.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError
from django.views.debug import SafeExceptionReporterFilter

from .conf import bitstore_settings

logger = logging.getLogger(__name__)

#: The dotted path a project names in DEFAULT_EXCEPTION_REPORTER_FILTER.
FILTER_PATH = "bitstore_app.error_reports.CredentialsFilter"


def referenced_variables() -> set[str]:
    """Return the environment variables that credentials reference, by `env:NAME`: in tier
    rows and in `BITSTORE["CREDENTIALS"]`."""
    names = set(_env_names(bitstore_settings.CREDENTIALS))
    try:
        from .models import Tier

        references = Tier.objects.values_list("credentials", flat=True)
        names.update(name for reference in references for name in _env_names(reference))
    except (DatabaseError, RuntimeError):  # the database may be why there is a report
        pass
    return names


def _env_names(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.strip().startswith("env:"):
        yield value.strip()[4:]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _env_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _env_names(item)


def secret_values(names: set[str]) -> set[str]:
    """Return the values of those variables, and the strings inside the JSON they hold."""
    values = set()
    for name in names:
        raw = os.environ.get(name)
        if not raw:
            continue
        values.add(raw)
        try:
            values.update(_strings(json.loads(raw)))
        except ValueError:
            pass
    return {value for value in values if len(value) >= 4}  # "on", "1": not worth hiding


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class CredentialsFilter(SafeExceptionReporterFilter):
    """Django's safe filter, always active, that also hides what tiers' credentials name."""

    def is_active(self, request) -> bool:
        return True  # DEBUG on is when a page would show them

    def _hidden(self) -> tuple[set[str], set[str]]:
        if not hasattr(self, "_hidden_cache"):
            names = referenced_variables()
            self._hidden_cache = (names, secret_values(names))
        return self._hidden_cache

    def cleanse_setting(self, key, value):
        names, secrets = self._hidden()
        if key in names or key == "CREDENTIALS":
            return self.cleansed_substitute
        value = super().cleanse_setting(key, value)
        if isinstance(value, str) and any(secret in value for secret in secrets):
            return self.cleansed_substitute
        return value

    def get_traceback_frame_variables(self, request, tb_frame):
        _, secrets = self._hidden()
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if _shows(value, secrets) else value)
            for name, value in variables
        ]


def _shows(value: Any, secrets: set[str]) -> bool:
    try:
        text = repr(value)
    except Exception:  # a repr that fails shows nothing
        return False
    return any(secret in text for secret in secrets)


class RedactSecrets(logging.Filter):
    """A logging filter that replaces the secrets credentials reference in a record's
    message and traceback text (attach it to the handlers that write logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values(set(_env_names(bitstore_settings.CREDENTIALS)) | _tier_names())
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in secrets:
            message = message.replace(secret, "********")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "********")
        record.msg, record.args = message, ()
        return True


def _tier_names() -> set[str]:
    """The variables the tiers this process built reference (no query: logging is hot)."""
    from .services import configuration

    snapshot = configuration.current()
    specs = snapshot.specs if snapshot is not None else ()
    return {name for spec in specs for name in _env_names(spec.credentials)}
