"""Signed, expiring blob URLs: hand one blob to a client that has no session.

A URL carries its expiry (a Unix time) and a signature, made with Django's signing (the
project's SECRET_KEY, and its SECRET_KEY_FALLBACKS when checking), of the SHA1 and the
expiry. It gives access to that blob only, until it expires.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from django.core.signing import BadSignature, Signer
from django.urls import reverse

from ..conf import bitstore_settings
from ..core import parse_sha1

# The module path this had when the first URLs were signed: changing it voids them.
_SALT = "bitstore_app.signed_urls"


def _signer() -> Signer:
    return Signer(salt=_SALT, algorithm="sha256")


def signed_blob_url(sha1: str, expires_in: float | None = None, download: str = "") -> str:
    """Return the path of a URL that serves the blob to anyone for `expires_in` seconds (by
    default, and at most, `SIGNED_URL_MAX_AGE`); `download` names the file to save it as.

    Make it absolute with `request.build_absolute_uri(path)`.
    """
    key = parse_sha1(sha1)
    max_age = bitstore_settings.SIGNED_URL_MAX_AGE
    lifetime = max_age if expires_in is None else expires_in
    if not 0 < lifetime <= max_age:
        raise ValueError(f"expires_in must be more than 0 and at most {max_age} seconds")
    expires = math.floor(time.time() + lifetime)
    signature = _signer().sign(f"{key}:{expires}").rsplit(":", 1)[1]
    query = {"expires": expires, "signature": signature} | (
        {"download": download} if download else {}
    )
    return f"{reverse('bitstore:blob', args=[key])}?{urlencode(query)}"


def signature_problem(sha1: str, query: Mapping[str, str]) -> str | None:
    """Return None when `query` holds a valid, unexpired signature for the blob, else why
    it does not."""
    expires, signature = query.get("expires", ""), query.get("signature", "")
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return "the signed URL has no valid expiry"
    try:
        _signer().unsign(f"{sha1.lower()}:{expires}:{signature}")
    except BadSignature:
        return "the signature is not valid for this blob"
    remaining = int(expires) - time.time()
    if remaining < 0:
        return "the signed URL has expired"
    if remaining > bitstore_settings.SIGNED_URL_MAX_AGE:
        return "the signed URL is valid for longer than SIGNED_URL_MAX_AGE allows"
    return None
