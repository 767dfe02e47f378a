"""Hand a filesystem-cache hit to the front server (X-Accel-Redirect or X-Sendfile).

Django has checked access; the front server sends the file, with ranges and HEAD, using
sendfile, so no byte passes through Python. Opt-in: `BLOB_ACCEL_REDIRECT`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import services
from ..conf import bitstore_settings
from .bodies import attachment


def accelerated(request: HttpRequest, key: str, headers: dict[str, str]) -> HttpResponse | None:
    """Return a response that tells the front server to send the cached file, or None."""
    location = bitstore_settings.BLOB_ACCEL_REDIRECT
    if not location:
        return None
    path = services.cached_file(key)
    if path is None:
        return None
    header = bitstore_settings.BLOB_ACCEL_HEADER
    response = HttpResponse(headers=headers, content_type="application/octet-stream")
    if header.lower() == "x-sendfile":
        response[header] = str(path)
    else:
        response[header] = location.rstrip("/") + "/" + path.name
    if "download" in request.GET:
        response["Content-Disposition"] = attachment(request.GET["download"], key)
    return response
