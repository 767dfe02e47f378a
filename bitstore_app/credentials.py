"""Credentials by reference: tiers name them, settings and the environment hold them."""

from __future__ import annotations

import json
import os
from typing import Any

from .conf import bitstore_settings
from .core.exceptions import CredentialsError

ANONYMOUS = "anonymous"


def resolve(reference: str) -> Any:
    """Return the credentials a tier's reference names.

    "" means the SDK's default chain (None); "anonymous" means unsigned access; "env:NAME"
    reads JSON from the environment variable NAME; any other value names an entry of
    `BITSTORE["CREDENTIALS"]`, whose "env:NAME" strings are read from the environment.
    """
    reference = (reference or "").strip()
    if not reference:
        return None
    if reference == ANONYMOUS:
        return ANONYMOUS
    if reference.startswith("env:"):
        raw = _env(reference[4:], reference)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CredentialsError(
                f"environment variable {reference[4:]} does not hold JSON: {exc.msg}"
            ) from None
    entries = bitstore_settings.CREDENTIALS
    if reference not in entries:
        # The reference is not repeated: a secret pasted here by mistake is shown nowhere.
        known = ", ".join(sorted(entries)) or "none are defined"
        raise CredentialsError(
            f"the credentials reference is not an entry of BITSTORE['CREDENTIALS'] (entries: "
            f"{known}), nor 'anonymous' or env:VARIABLE"
        )
    return _expand(entries[reference], reference)


def _expand(value: Any, reference: str) -> Any:
    if isinstance(value, str) and value.startswith("env:"):
        return _env(value[4:], reference)
    if isinstance(value, dict):
        return {key: _expand(item, reference) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, reference) for item in value]
    return value


def _env(name: str, reference: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise CredentialsError(
            f"credentials '{reference}' need the environment variable {name}, which is not set"
        ) from None
