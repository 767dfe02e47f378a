"""A view that serves blobs through `bitstore_app.get`, as an app's own view would."""

from django.http import HttpResponse
from django.urls import path

import bitstore_app


def blob(request, sha1):
    return HttpResponse(bitstore_app.get(sha1), content_type="application/octet-stream")


def plain(request):
    return HttpResponse(b"no blob")


urlpatterns = [path("blob/<str:sha1>", blob), path("plain", plain)]
