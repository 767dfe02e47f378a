"""The metrics endpoint, in Prometheus' text format."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import metrics
from . import access
from .responses import allow_methods, json_error


@csrf_exempt  # it changes nothing, and answers other methods with a JSON 405
@allow_methods("GET")
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve bitstore's metrics in Prometheus' text format, to allowed clients only."""
    denial = access.metrics_denial(request)
    if denial is not None:
        return denial
    try:
        content, content_type = metrics.exposition(request.headers.get("Accept", ""))
    except metrics.MetricsUnavailable as exc:
        return json_error(503, str(exc))
    return HttpResponse(content, content_type=content_type)
