"""Filesystem-cache hits sent without Python touching the bytes: handed to the front server
(X-Accel-Redirect or X-Sendfile, `BLOB_ACCEL_REDIRECT`), or to the WSGI server as a file it
sends with sendfile (`BLOB_SENDFILE`, through `wsgi.file_wrapper`). Django has checked
access either way. Both are opt-in; the file is not hashed per request (see the scrub).
"""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse

from .. import services
from ..conf import bitstore_settings
from .bodies import attachment

CONTENT_TYPE = "application/octet-stream"


def accelerated(request: HttpRequest, key: str, headers: dict[str, str]) -> HttpResponse | None:
    """Return a response whose bytes another layer sends, or None to stream as usual."""
    location = bitstore_settings.BLOB_ACCEL_REDIRECT
    if not location and not (bitstore_settings.BLOB_SENDFILE and "Range" not in request.headers):
        return None  # ranges stay with Django's streaming unless the front server sends
    file = services.cached_file(key)
    if file is None:
        return None
    if location:
        file.close()
        response = HttpResponse(headers=headers, content_type=CONTENT_TYPE)
        response[bitstore_settings.BLOB_ACCEL_HEADER] = _target(location, Path(file.name))
    else:
        response = FileResponse(file, headers=headers, content_type=CONTENT_TYPE)
        del response["Content-Disposition"]  # FileResponse names the file after its path
    if "download" in request.GET:
        response["Content-Disposition"] = attachment(request.GET["download"], key)
    return response


def _target(location: str, path: Path) -> str:
    if bitstore_settings.BLOB_ACCEL_HEADER.lower() == "x-sendfile":
        return str(path)  # Apache and lighttpd take the file's path
    return location.rstrip("/") + "/" + path.name
