"""The blob endpoints (read, upload, batch existence), warm jobs, metrics and the OpenAPI
document; a project mounts them under a prefix of its own:

path("bitstore/", include("bitstore_app.urls"))
"""

from django.urls import path, re_path

from .web import blobs, home, metrics, missing, openapi, uploads, warm

app_name = "bitstore"

urlpatterns = [
    path("", home.home, name="home"),
    path("blobs", uploads.post_blob, name="blobs"),
    path("blobs/missing", missing.missing, name="missing"),
    # Any text after the prefix reaches the view, which answers what is wrong with it in
    # JSON (a URL pattern that did not match would answer with an HTML 404).
    re_path(r"^blobs/(?P<sha1>[\s\S]*)$", blobs.blob, name="blob"),
    path("warm", warm.warm, name="warm"),
    re_path(r"^warm/(?P<job_id>[\s\S]*)$", warm.warm_job, name="warm-job"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("openapi.json", openapi.document, name="openapi"),
    # Last: any other path under the prefix is a JSON 404, like every error here.
    re_path(r"^(?P<path>[\s\S]+)$", home.unknown, name="unknown"),
]
