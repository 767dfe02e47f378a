"""The endpoints' home page: what a person finds at /bitstore/ (the admin's "View site")."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .responses import allow_methods, json_error


@allow_methods("GET", "HEAD")
def home(request: HttpRequest) -> HttpResponse:
    """List the endpoints, the OpenAPI document, and where to get a token."""
    return TemplateResponse(request, "bitstore_app/home.html", {})


def unknown(request: HttpRequest, path: str) -> HttpResponse:
    """Answer a path that names no endpoint with a JSON 404 that says where to look."""
    shown = path[:100]
    return json_error(404, f"no endpoint at '{shown}': the OpenAPI document lists them")
